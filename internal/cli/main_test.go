package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/service"
)

// childEnv makes the test binary run Main with the fake plugin instead of
// the tests: the integration tests start it as a real gotwistd process.
const childEnv = "GOTWISTD_CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(Main(os.Args[1:], fakePlugin{}, waitCommand{}))
	}
	os.Exit(m.Run())
}

// waitCommand is a command plugin (service.Command) that says "waiting"
// and waits for its stdin to close, as a long-running command would.
type waitCommand struct{}

func (waitCommand) Name() string     { return "wait" }
func (waitCommand) Synopsis() string { return "A command that waits." }
func (waitCommand) New([]string, service.Env) (service.Service, error) {
	return nil, errors.New("wait is a command")
}
func (waitCommand) Run(args []string, env service.Env) error {
	fmt.Fprintln(env.Stdout, "waiting")
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

// fakePlugin is a minimal plugin: an HTTP server on 127.0.0.1 that logs
// "Site starting on PORT" like twistd web, and logs every Reload and
// ReopenLogs so tests can see them.
type fakePlugin struct{}

func (fakePlugin) Name() string     { return "fake" }
func (fakePlugin) Synopsis() string { return "A test server." }

func (fakePlugin) New(args []string, env service.Env) (service.Service, error) {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := &fakeService{log: env.Logger}
	fs.StringVar(&s.addr, "addr", "127.0.0.1:0", "address to listen on")
	fs.StringVar(&s.failListen, "fail-listen", "", "make Listen fail with this text")
	fs.StringVar(&s.failServe, "fail-serve", "", "make Serve fail with this text")
	fs.BoolVar(&s.hangReload, "hang-reload", false, "make Reload block forever")
	fs.StringVar(&s.listenWait, "listen-wait", "", "make Listen wait until this file exists")
	fs.StringVar(&s.unhealthy, "unhealthy", "", "make Healthy fail while this file exists")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.Stdout, "Usage: gotwistd [options] fake [--addr=ADDR] [--fail-listen=TEXT] [--fail-serve=TEXT] [--hang-reload] [--listen-wait=PATH] [--unhealthy=PATH]")
		}
		return nil, err
	}
	env.Logger.Info("fake: configured")
	return s, nil
}

type fakeService struct {
	log                         *slog.Logger
	addr, failListen, failServe string
	hangReload                  bool
	listenWait, unhealthy       string
	ln                          net.Listener
	srv                         *http.Server
}

func (s *fakeService) Listen(context.Context) error {
	for s.listenWait != "" {
		if _, err := os.Stat(s.listenWait); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.failListen != "" {
		return errors.New(s.failListen)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.log.Info(fmt.Sprintf("Site starting on %d", ln.Addr().(*net.TCPAddr).Port))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %d\n", os.Getpid())
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		s.log.Info("fake: /hang started")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	s.srv = &http.Server{Handler: mux}
	return nil
}

func (s *fakeService) Serve() error {
	if s.failServe != "" {
		return errors.New(s.failServe)
	}
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *fakeService) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return err
}

func (s *fakeService) Reload() error {
	if s.hangReload {
		s.log.Info("fake: reload hangs", "system", "fake")
		select {}
	}
	s.log.Info("fake: reloaded", "system", "fake")
	return nil
}

func (s *fakeService) ReopenLogs() error {
	s.log.Info("fake: logs reopened", "system", "fake")
	return nil
}

// Healthy fails while the --unhealthy file exists.
func (s *fakeService) Healthy(context.Context) error {
	if s.unhealthy == "" {
		return nil
	}
	if _, err := os.Stat(s.unhealthy); err == nil {
		return errors.New("fake: unhealthy")
	}
	return nil
}

func (s *fakeService) Status() string {
	if s.ln == nil {
		return "fake, not listening"
	}
	return "serving fake on " + s.ln.Addr().String()
}

// childEnviron is the environment of a gotwistd child: ours, the marker
// that runs Main, and no 1 s sleep at exit in race-detector builds.
func childEnviron() []string {
	return append(os.Environ(), childEnv+"=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// waitLimit bounds every wait for a child, so a broken runner fails the
// test instead of hanging it. It is a safety net, not an assertion: every
// wait ends as soon as what it waits for happens.
const waitLimit = 60 * time.Second

// child is a gotwistd process started from the test binary.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string // stderr lines, closed at EOF
	mu    sync.Mutex
	seen  []string
	done  chan struct{} // closed when the process has been waited for
	err   error         // Wait's result, once done
}

// startChild runs gotwistd args in dir with extra environment variables,
// reading its stderr line by line. The process is killed at the end of
// the test if it still runs.
func startChild(t *testing.T, dir string, env []string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(childEnviron(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			c.mu.Lock()
			c.seen = append(c.seen, sc.Text())
			c.mu.Unlock()
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// waitLine returns the next stderr line containing substr, failing the
// test if the process ends first.
func (c *child) waitLine(substr string) string {
	c.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("gotwistd exited before logging %q; its stderr:\n%s", substr, c.output())
			}
			if strings.Contains(line, substr) {
				return line
			}
		case <-deadline:
			c.t.Fatalf("gotwistd did not log %q; its stderr:\n%s", substr, c.output())
		}
	}
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.seen, "\n")
}

func (c *child) signal(sig syscall.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit status.
func (c *child) wait() int {
	c.t.Helper()
	for range c.lines { // drain, so the reader reaches EOF
	}
	select {
	case <-c.done:
	case <-time.After(waitLimit):
		c.t.Fatalf("gotwistd did not exit; its stderr:\n%s", c.output())
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			c.t.Fatalf("gotwistd was killed by %v; its stderr:\n%s", ws.Signal(), c.output())
		}
		return ee.ExitCode()
	}
	if c.err != nil {
		c.t.Fatal(c.err)
	}
	return 0
}

var portRE = regexp.MustCompile(`Site starting on (\d+)`)

// port extracts the port from a "Site starting on N" line.
func port(t *testing.T, line string) string {
	t.Helper()
	m := portRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no port in %q", line)
	}
	return m[1]
}

// get fetches path from the server on 127.0.0.1:port with a real client.
func get(t *testing.T, port, path string) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + port + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %q %v", path, resp.StatusCode, b, err)
	}
	return string(b)
}

// waitFile returns the content of path once it contains substr.
func waitFile(t *testing.T, path, substr string) string {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), substr) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never contained %q; it has:\n%s", filepath.Base(path), substr, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
