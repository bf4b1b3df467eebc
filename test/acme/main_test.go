// Package acme tests gotwistd's le: endpoints end to end: the real
// binary against Pebble, Let's Encrypt's test CA, built from its module
// and started on loopback by the tests. No test contacts a CA outside this
// machine: every one names Pebble's directory with --acme-ca.
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// Built by TestMain.
var (
	gotwistd string // the binary
	pebble   string
	// pebbleCerts is Pebble's test/certs directory: the minica root and
	// the localhost certificate its own HTTPS listeners use.
	pebbleCerts string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if gotwistd, err = testbin.BuildGotwistd(); err == nil {
		// A tool dependency of the module (go.mod's tool line), not of
		// the product.
		pebble, err = testbin.Build("github.com/letsencrypt/pebble/v2/cmd/pebble", "CGO_ENABLED=0")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "acme:", err)
		testbin.Cleanup()
		return 1
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "acme: go list pebble: %v\n", err)
		testbin.Cleanup()
		return 1
	}
	pebbleCerts = filepath.Join(strings.TrimSpace(string(out)), "test", "certs")
	return testbin.Run(m)
}

// waitFor polls cond until it is true or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s\n%s", timeout, what, diag())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pebbleCA is a running Pebble.
type pebbleCA struct {
	cmd  *exec.Cmd
	out  *testbin.Log
	dir  string // the ACME directory URL
	mgmt string // management API address
	root string // file of the root that signs the certificates it issues
}

type pebbleOptions struct {
	httpPort, tlsPort int // where its validation connects
	validity          int // seconds
	alwaysValid       bool
}

// startPebble starts Pebble on loopback ports and waits until its
// directory answers.
func startPebble(t *testing.T, o pebbleOptions) *pebbleCA {
	t.Helper()
	dir := t.TempDir()
	p := &pebbleCA{out: &testbin.Log{}}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(testbin.FreePort(t)))
	p.mgmt = net.JoinHostPort("127.0.0.1", strconv.Itoa(testbin.FreePort(t)))
	p.dir = "https://" + listen + "/dir"
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           listen,
		"managementListenAddress": p.mgmt,
		"certificate":             filepath.Join(pebbleCerts, "localhost", "cert.pem"),
		"privateKey":              filepath.Join(pebbleCerts, "localhost", "key.pem"),
		"httpPort":                o.httpPort,
		"tlsPort":                 o.tlsPort,
		"keyAlgorithm":            "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "the tests'", "validityPeriod": o.validity}},
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(pebble, "-config", cfgFile)
	p.cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	if o.alwaysValid {
		p.cmd.Env = append(p.cmd.Env, "PEBBLE_VA_ALWAYS_VALID=1")
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	client := p.client()
	waitFor(t, "pebble's directory", 30*time.Second, func() bool {
		resp, err := client.Get(p.dir)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, p.out.String)
	resp, err := client.Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p.root = filepath.Join(dir, "root.pem")
	if err := os.WriteFile(p.root, root, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// client trusts the minica root of Pebble's own listeners.
func (p *pebbleCA) client() *http.Client {
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(filepath.Join(pebbleCerts, "pebble.minica.pem"))
	pool.AppendCertsFromPEM(b)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func (p *pebbleCA) stop() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

var ordersRE = regexp.MustCompile(`There are now (\d+) orders in the db`)

// orders is how many orders Pebble has been sent.
func (p *pebbleCA) orders() int {
	n := 0
	for _, m := range ordersRE.FindAllStringSubmatch(p.out.String(), -1) {
		n, _ = strconv.Atoi(m[1])
	}
	return n
}

// sockets are the listening sockets the tests hand gotwistd, as systemd
// would: they outlive each gotwistd process, so a restart keeps the ports.
type sockets struct {
	names []string
	files []*os.File
	ports []int
}

func newSockets(t *testing.T, names ...string) *sockets {
	t.Helper()
	s := &sockets{names: names}
	for range names {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.(*net.TCPListener).File()
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		s.files = append(s.files, f)
		s.ports = append(s.ports, l.Addr().(*net.TCPAddr).Port)
	}
	return s
}

// server is a running gotwistd.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *testbin.Log
	notify *net.UnixConn
	msgs   *testbin.Log // sd_notify datagrams, one per line group
	done   chan error
}

// startServer runs gotwistd web with args, the sockets passed by socket
// activation (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID) and NOTIFY_SOCKET
// set, trusting Pebble's HTTPS listener (SSL_CERT_FILE).
func startServer(t *testing.T, socks *sockets, args ...string) *server {
	t.Helper()
	notifyPath := filepath.Join(t.TempDir(), "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, out: &testbin.Log{}, notify: nc, msgs: &testbin.Log{}, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				return
			}
			s.msgs.Write(append(buf[:n:n], '\n'))
		}
	}()
	all := append([]string{"--nodaemon", "--pidfile=", "web"}, args...)
	s.cmd = exec.Command("/bin/sh", append([]string{"-c", `export LISTEN_PID=$$; exec "$0" "$@"`, gotwistd}, all...)...)
	s.cmd.Env = append(os.Environ(),
		"SSL_CERT_FILE="+filepath.Join(pebbleCerts, "pebble.minica.pem"),
		"NOTIFY_SOCKET="+notifyPath,
		"LISTEN_FDS="+strconv.Itoa(len(socks.files)),
		"LISTEN_FDNAMES="+strings.Join(socks.names, ":"))
	s.cmd.ExtraFiles = socks.files
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		nc.Close()
	})
	return s
}

func (s *server) diag() string {
	return "gotwistd output:\n" + s.out.String() + "\nsd_notify:\n" + s.msgs.String()
}

// waitReady waits for READY=1, failing at once if the server exits.
func (s *server) waitReady() {
	s.t.Helper()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(s.msgs.String(), "READY=1") {
		select {
		case err := <-s.done:
			s.done <- err
			s.t.Fatalf("gotwistd exited before READY=1: %v\n%s", err, s.diag())
		case <-deadline:
			s.t.Fatalf("no READY=1 within 60s\n%s", s.diag())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitLog waits until the output holds want.
func (s *server) waitLog(want string, timeout time.Duration) {
	s.t.Helper()
	if s.out.Wait(timeout, nil, func(log string) bool { return strings.Contains(log, want) }) != nil {
		s.t.Fatalf("waited %s for the log line %q\n%s", timeout, want, s.diag())
	}
}

// stop sends SIGTERM and waits for the exit.
func (s *server) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			s.t.Fatalf("gotwistd exited with %v after SIGTERM\n%s", err, s.diag())
		}
	case <-time.After(30 * time.Second):
		s.t.Fatalf("gotwistd did not stop\n%s", s.diag())
	}
}

// curl runs curl and returns its output.
func curl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", append([]string{"-sS"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
