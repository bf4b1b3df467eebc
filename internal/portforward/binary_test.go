package portforward

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// gotwistdBinary builds ./cmd/gotwistd once for this test binary.
func gotwistdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gotwistd-portforward-test-")
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(dir, "gotwistd")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/gotwistd/gotwistd/cmd/gotwistd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		buildBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// forwarderProcess is a running `... portforward` process and its log.
type forwarderProcess struct {
	cmd  *exec.Cmd
	port string
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
}

// startProcess runs argv (a gotwistd or twistd3 command line forwarding
// from tcp:0) and waits for its "ProxyFactory starting on PORT" line.
func startProcess(t *testing.T, argv ...string) *forwarderProcess {
	t.Helper()
	p := &forwarderProcess{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	p.cmd.Dir = t.TempDir()
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.cmd.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ports := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := startingOn.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case ports <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	select {
	case p.port = <-ports:
	case <-p.done:
		t.Fatalf("%s exited before listening:\n%s", argv[0], p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not say where it listens within 30 s:\n%s", argv[0], p.logText())
	}
	return p
}

func (p *forwarderProcess) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// backend is an HTTP server on loopback that names the request it got.
func backend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "yes")
		fmt.Fprintf(w, "%s %s\n", r.Method, r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func get(t *testing.T, port, path string) (int, string, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://127.0.0.1:" + port + path)
	if err != nil {
		t.Fatalf("GET through the forwarder on %s: %v", port, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Backend"), string(body)
}

// TestBinarySideBySideWithTwistd runs the real gotwistd and, where it is
// installed, twistd3 with the same portforward command line, and checks
// both forward an HTTP exchange alike; then that gotwistd stops on
// SIGTERM as twistd logs it, with exit status 0.
func TestBinarySideBySideWithTwistd(t *testing.T) {
	dest := backend(t)
	args := []string{"--nodaemon", "--pidfile=", "portforward", "--port", "tcp:0:interface=127.0.0.1", "--host", "127.0.0.1", "--dest_port", dest}
	servers := map[string][]string{"gotwistd": append([]string{gotwistdBinary(t)}, args...)}
	if path, err := exec.LookPath("twistd3"); err == nil {
		servers["twistd3"] = append([]string{path}, args...)
	} else {
		t.Log("twistd3 not installed (Debian python3-twisted): checking gotwistd alone")
	}
	procs := map[string]*forwarderProcess{}
	for name, argv := range servers {
		procs[name] = startProcess(t, argv...)
	}
	for name, p := range procs {
		for _, path := range []string{"/", "/a/b?c=d"} {
			code, hdr, body := get(t, p.port, path)
			want := "GET " + strings.SplitN(path, "?", 2)[0] + "\n"
			if code != 200 || hdr != "yes" || body != want {
				t.Errorf("%s: GET %s through the forwarder = %d, X-Backend %q, %q; want 200, yes, %q", name, path, code, hdr, body, want)
			}
		}
	}

	p := procs["gotwistd"]
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.cmd.Wait()
	<-p.done
	if err != nil {
		t.Fatalf("gotwistd portforward after SIGTERM: %v, want exit 0\n%s", err, p.logText())
	}
	log := p.logText()
	for _, want := range []string{
		"ProxyFactory starting on " + p.port,
		"Starting factory <gotwistd.portforward.ProxyFactory",
		"Received SIGTERM, shutting down.",
		"(TCP Port " + p.port + " Closed)",
		"Main loop terminated.",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("gotwistd's log lacks %q:\n%s", want, log)
		}
	}
}

func TestBinaryHelpAndBadOption(t *testing.T) {
	bin := gotwistdBinary(t)
	out, err := exec.Command(bin, "portforward", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("portforward --help: %v\n%s", err, out)
	}
	for _, want := range []string{"--port=ENDPOINT", "--host=HOST", "--dest-port=PORT", "[default: 6665]"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("portforward --help lacks %q:\n%s", want, out)
		}
	}
	cmd := exec.Command(bin, "--nodaemon", "--pidfile=", "portforward", "--dest_port", "0")
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("bad --dest_port: %v, want a non-zero exit\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if !strings.Contains(lines[0], `--dest_port "0": give a port number from 1 to 65535`) || len(lines) > 2 {
		t.Errorf("bad --dest_port output, want one error line and a hint:\n%s", out)
	}
}
