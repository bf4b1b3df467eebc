// Package proxy tests gotwistd's haproxy: endpoints against the real
// peers: curl's --haproxy-protocol, and Debian's haproxy in front of the
// real binary with send-proxy and send-proxy-v2.
package proxy

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
	"github.com/gotwistd/gotwistd/internal/testcert"
)

// TestMain builds gotwistd once for the tests.
func TestMain(m *testing.M) {
	testbin.Main(m)
}

// gotwistd is a running `gotwistd --nodaemon web ...`.
type gotwistd struct {
	t     *testing.T
	proc  *testbin.Process
	log   *testbin.Log
	ports []string
}

var siteStarting = regexp.MustCompile(`Site starting on (\d+)`)

// start runs gotwistd with webArgs and returns once its n listeners are
// bound.
func start(t *testing.T, n int, webArgs ...string) *gotwistd {
	t.Helper()
	return startGlobal(t, n, nil, webArgs...)
}

// startGlobal is start with global options before "web".
func startGlobal(t *testing.T, n int, global []string, webArgs ...string) *gotwistd {
	t.Helper()
	args := append(append([]string{"--nodaemon", "--pidfile="}, global...), "web")
	cmd := exec.Command(testbin.Gotwistd(t), append(args, webArgs...)...)
	cmd.Dir = t.TempDir()
	p, err := testbin.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	g := &gotwistd{t: t, proc: p, log: p.Log}
	t.Cleanup(g.stop)
	var m [][]string
	switch p.Log.Wait(15*time.Second, p.Exited, func(log string) bool {
		m = siteStarting.FindAllStringSubmatch(log, -1)
		return len(m) >= n
	}) {
	case testbin.ErrExited:
		t.Fatalf("gotwistd exited before listening:\n%s", p.Log)
	case testbin.ErrTimeout:
		t.Fatalf("gotwistd did not listen within 15 s:\n%s", p.Log)
	}
	for _, x := range m[:n] {
		g.ports = append(g.ports, x[1])
	}
	return g
}

// stop ends gotwistd with SIGTERM and waits for it, so its log is
// complete.
func (g *gotwistd) stop() {
	if !g.proc.Stop(20 * time.Second) {
		g.t.Errorf("gotwistd did not stop within 20 s of SIGTERM")
	}
}

// accessLines returns the access log lines of requests made with agent.
func accessLines(log, agent string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "AccessLog") && strings.Contains(l, `"`+agent+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// curl runs curl with args and returns its output and exit code.
func curl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "20"}, args...)...).Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func site(t *testing.T) string {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("behind the balancer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestCurlHAProxyProtocol: curl --haproxy-protocol (a v1 header) gets the
// page and is logged with the address it sent; curl without the header
// gets its connection closed with no answer, and that is logged once for
// both such connections.
func TestCurlHAProxyProtocol(t *testing.T) {
	g := start(t, 1, "--listen", "haproxy:tcp:0:interface=127.0.0.1", "--path", site(t))
	url := "http://127.0.0.1:" + g.ports[0] + "/"
	// From 127.0.0.5, which curl's v1 header then names.
	out, code := curl(t, "--haproxy-protocol", "--interface", "127.0.0.5", "-A", "curl-px", url)
	if code != 0 || out != "behind the balancer\n" {
		t.Fatalf("curl --haproxy-protocol: exit %d, %q", code, out)
	}
	for range 2 {
		// 52: closed with no reply; 56: reset, as the kernel does when
		// the unread request is still in the socket at close.
		if out, code := curl(t, "-A", "curl-plain", url); code != 52 && code != 56 || out != "" {
			t.Errorf("curl without a header: exit %d, %q; want 52 or 56 (no reply)", code, out)
		}
	}
	g.stop()
	log := g.log.String()
	lines := accessLines(log, "curl-px")
	if len(lines) != 1 || !strings.Contains(lines[0], `] "127.0.0.5" - - [`) || !strings.Contains(lines[0], `"GET / HTTP/1.1" 200 20`) {
		t.Errorf("access lines %q, want one for 127.0.0.5:\n%s", lines, log)
	}
	if got := accessLines(log, "curl-plain"); len(got) != 0 {
		t.Errorf("requests without a header were served: %q", got)
	}
	if n := strings.Count(log, "no PROXY protocol header"); n != 1 {
		t.Errorf("%d lines about the missing header, want 1:\n%s", n, log)
	}
}

// haproxy runs Debian's haproxy with cfg, whose "bind fd@N" lines take the
// listening sockets lns (fd 3, 4, ...): no port is chosen twice.
func haproxy(t *testing.T, cfg string, lns ...*net.TCPListener) {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (Debian package haproxy)")
	}
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", file)
	for _, ln := range lns {
		f, err := ln.File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	p, err := testbin.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("haproxy's output:\n%s", p.Log)
		}
	})
	for _, ln := range lns {
		ln.Close() // haproxy has its own copy
	}
}

func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.(*net.TCPListener)
}

func port(ln *net.TCPListener) string { return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) }

// TestHAProxyInFront puts haproxy (mode tcp) in front of gotwistd: one
// frontend with send-proxy (v1), one with send-proxy-v2 (and v2 LOCAL
// health checks), one passing TLS through with send-proxy-v2 to an
// ssl:haproxy: endpoint. haproxy connects from 127.0.0.3; the client
// connects from 127.0.0.5, and gotwistd's access log must show 127.0.0.5,
// the address only the header carries.
func TestHAProxyInFront(t *testing.T) {
	dir := t.TempDir()
	cert, err := testcert.New(testcert.Options{Hosts: []string{"localhost", "127.0.0.1"}, Serial: 1, CA: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cert.Write(dir); err != nil {
		t.Fatal(err)
	}
	g := start(t, 2, "--listen", "haproxy:tcp:0:interface=127.0.0.1",
		"--listen", "ssl:haproxy:tcp:0:interface=127.0.0.1:privateKey="+filepath.Join(dir, "key.pem")+":certKey="+filepath.Join(dir, "cert.pem"),
		"--path", site(t))
	v1, v2, tls := listen(t), listen(t), listen(t)
	cfg := fmt.Sprintf(`global
  maxconn 100
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend v1
  bind fd@3
  default_backend v1
backend v1
  server s 127.0.0.1:%[1]s send-proxy source 127.0.0.3
frontend v2
  bind fd@4
  default_backend v2
backend v2
  server s 127.0.0.1:%[1]s send-proxy-v2 source 127.0.0.3 check inter 100ms check-send-proxy
frontend tls
  bind fd@5
  default_backend tls
backend tls
  server s 127.0.0.1:%[2]s send-proxy-v2 source 127.0.0.3
`, g.ports[0], g.ports[1])
	haproxy(t, cfg, v1, v2, tls)

	for _, tc := range []struct{ agent, url string }{
		{"via-v1", "http://127.0.0.1:" + port(v1) + "/"},
		{"via-v2", "http://127.0.0.1:" + port(v2) + "/"},
		{"via-tls", "https://127.0.0.1:" + port(tls) + "/"},
	} {
		for range 2 {
			out, code := curl(t, "--interface", "127.0.0.5", "--cacert", filepath.Join(dir, "cert.pem"), "-A", tc.agent, tc.url)
			if code != 0 || out != "behind the balancer\n" {
				t.Fatalf("curl %s: exit %d, %q", tc.url, code, out)
			}
		}
	}
	g.stop()
	log := g.log.String()
	for _, agent := range []string{"via-v1", "via-v2", "via-tls"} {
		lines := accessLines(log, agent)
		if len(lines) != 2 {
			t.Errorf("%d access lines for %s, want 2:\n%s", len(lines), agent, log)
		}
		for _, l := range lines {
			if !strings.Contains(l, `] "127.0.0.5" - - [`) {
				t.Errorf("access line %q does not show the client 127.0.0.5", l)
			}
		}
	}
	if strings.Contains(log, "PROXY protocol") {
		t.Errorf("gotwistd refused a header haproxy sent:\n%s", log)
	}
}

// TestJSONLogClient: with --log-format=json the access line gives the
// client of the PROXY header too.
func TestJSONLogClient(t *testing.T) {
	g := startGlobal(t, 1, []string{"--log-format=json"}, "--listen", "haproxy:tcp:0:interface=127.0.0.1", "--path", site(t))
	url := "http://127.0.0.1:" + g.ports[0] + "/"
	if out, code := curl(t, "--haproxy-protocol", "--interface", "127.0.0.6", "-A", "json-px", url); code != 0 || out != "behind the balancer\n" {
		t.Fatalf("curl: exit %d, %q", code, out)
	}
	g.stop()
	var line string
	for _, l := range strings.Split(g.log.String(), "\n") {
		if strings.Contains(l, "json-px") {
			line = l
		}
	}
	if !strings.HasPrefix(line, "{") || !strings.Contains(line, `\"127.0.0.6\" - - [`) {
		t.Errorf("JSON access line %q does not show the client 127.0.0.6:\n%s", line, g.log)
	}
}
