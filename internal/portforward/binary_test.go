package portforward

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// TestMain removes the gotwistd binary the tests build, if they do.
func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m))
}

// forwarderProcess is a running `... portforward` process and its log.
type forwarderProcess struct {
	*testbin.Process
	port string
}

// startProcess runs argv (a gotwistd or twistd3 command line forwarding
// from tcp:0) and waits for its "ProxyFactory starting on PORT" line.
func startProcess(t *testing.T, argv ...string) *forwarderProcess {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = t.TempDir()
	proc, err := testbin.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Kill)
	var m []string
	switch proc.Log.Wait(30*time.Second, proc.Exited, func(log string) bool { m = startingOn.FindStringSubmatch(log); return m != nil }) {
	case testbin.ErrExited:
		t.Fatalf("%s exited before listening:\n%s", argv[0], proc.Log)
	case testbin.ErrTimeout:
		t.Fatalf("%s did not say where it listens within 30 s:\n%s", argv[0], proc.Log)
	}
	return &forwarderProcess{Process: proc, port: m[1]}
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
	servers := map[string][]string{"gotwistd": append([]string{testbin.Gotwistd(t)}, args...)}
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
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.Exited
	if err := p.Err; err != nil {
		t.Fatalf("gotwistd portforward after SIGTERM: %v, want exit 0\n%s", err, p.Log)
	}
	log := p.Log.String()
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
	bin := testbin.Gotwistd(t)
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
