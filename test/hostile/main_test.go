package hostile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// full reports whether the long version was asked for (GOTWISTD_FULL=1):
// longer attacks, and testssl.sh.
var full = os.Getenv("GOTWISTD_FULL") == "1"

// TestMain builds gotwistd once, as the README says to build it (the
// least-privilege test runs it as root; nobody must not need it).
func TestMain(m *testing.M) {
	testbin.Main(m)
}

// marker is in every file the server must never serve.
const marker = "HOSTILE-SECRET-7d41c9"

// tree is a served directory with secrets around and inside it:
//
//	base/secret.txt, base/secretdir/secret.txt   outside the root
//	base/www/                                    the root (--path)
//	  index.html, sub/page.html, big.bin (sparse, 16 MiB)
//	  .secret, .git/config, sub/.htpasswd        dotfiles
//	  out.txt -> ../secret.txt                   symbolic links out
//	  outdir -> ../secretdir
//	  abs.txt -> base/secret.txt (absolute)
//	  in.txt -> index.html                       and one that stays in
type tree struct {
	base, root string
}

// bigSize is the size of www/big.bin: larger than what the kernel buffers
// on a loopback connection, so a client that does not read blocks the
// server's writes.
const bigSize = 16 << 20

// indexBody is the content of www/index.html.
const indexBody = "<html><body>hostile test index</body></html>\n"

func newTree(t *testing.T) *tree {
	t.Helper()
	base, err := os.MkdirTemp("", "gotwistd-hostile-tree-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// Readable by nobody, for the least-privilege test.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	tr := &tree{base: base, root: filepath.Join(base, "www")}
	files := map[string]string{
		"secret.txt":            marker + " outside the root\n",
		"secretdir/secret.txt":  marker + " in a directory outside the root\n",
		"www/index.html":        indexBody,
		"www/sub/page.html":     "sub page\n",
		"www/.secret":           marker + " dotfile\n",
		"www/.git/config":       marker + " dot directory\n",
		"www/sub/.htpasswd":     marker + " nested dotfile\n",
		"www/.well-known/a.txt": "well-known\n",
	}
	testbin.WriteFiles(t, base, files)
	f, err := os.Create(filepath.Join(tr.root, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(bigSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	links := map[string]string{
		"www/out.txt": "../secret.txt",
		"www/outdir":  "../secretdir",
		"www/abs.txt": filepath.Join(base, "secret.txt"),
		"www/in.txt":  "index.html",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(base, name)); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// engine is a way the web plugin serves plain HTTP/1.1: the options that
// select it.
type engine struct {
	name string
	args []string
}

var (
	helpOnce sync.Once
	helpText string
)

// engines returns the HTTP/1 engines to attack: the default one, and
// net/http when --http1-engine offers a choice (the default is then
// gotwistd's own engine, web/h1).
func engines(t *testing.T) []engine {
	t.Helper()
	helpOnce.Do(func() {
		out, _ := exec.Command(testbin.Gotwistd(t), "web", "--help").CombinedOutput()
		helpText = string(out)
	})
	es := []engine{{name: "default engine"}}
	if strings.Contains(helpText, "--http1-engine") {
		es = append(es, engine{name: "net-http engine", args: []string{"--http1-engine=net/http"}})
	}
	return es
}

// server is a running `gotwistd --nodaemon web ...`.
type server struct {
	t     *testing.T
	proc  *testbin.Process
	cmd   *exec.Cmd
	log   *testbin.Log
	addrs []string      // host:port of each --listen, in order
	exit  chan struct{} // closed when the server has exited (proc.Err is then set)
}

// addr is the address of the first listener.
func (s *server) addr() string { return s.addrs[0] }

// url is http://ADDR/path on the first listener.
func (s *server) url(path string) string { return "http://" + s.addr() + path }

// pid is the server's process id.
func (s *server) pid() int { return s.cmd.Process.Pid }

var siteStarting = regexp.MustCompile(`Site starting on (\S+)`)

// start runs the server with the global options, then `web`, then webArgs,
// on 127.0.0.1: every listener is given explicitly with --listen and port
// 0. It returns once every listener is bound, and stops the server when
// the test ends.
func start(t *testing.T, global []string, webArgs ...string) *server {
	t.Helper()
	return startCmd(t, nil, global, webArgs...)
}

// startCmd is start with the binary run through a wrapper command (such as
// unshare); the server must be the wrapper's process (exec).
func startCmd(t *testing.T, wrapper, global []string, webArgs ...string) *server {
	t.Helper()
	listeners := 0
	for _, a := range webArgs {
		if a == "--listen" || strings.HasPrefix(a, "--listen=") {
			listeners++
		}
	}
	args := append([]string{"--nodaemon", "--pidfile="}, global...)
	args = append(args, "web")
	args = append(args, webArgs...)
	var cmd *exec.Cmd
	if len(wrapper) > 0 {
		cmd = exec.Command(wrapper[0], append(append(wrapper[1:], testbin.Gotwistd(t)), args...)...)
	} else {
		cmd = exec.Command(testbin.Gotwistd(t), args...)
	}
	return startProcess(t, cmd, listeners)
}

// startProcess starts cmd, a twistd-like server that logs "Site starting
// on PORT" for each of its listeners on 127.0.0.1, and returns once it has
// logged that many.
func startProcess(t *testing.T, cmd *exec.Cmd, listeners int) *server {
	t.Helper()
	p, err := testbin.Start(cmd)
	if err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	s := &server{t: t, proc: p, cmd: cmd, log: p.Log, exit: p.Exited}
	t.Cleanup(s.stop)
	var m [][]string
	switch p.Log.Wait(15*time.Second, p.Exited, func(log string) bool {
		m = siteStarting.FindAllStringSubmatch(log, -1)
		return len(m) >= listeners && listeners > 0
	}) {
	case testbin.ErrExited:
		t.Fatalf("%s exited before listening (%v):\n%s", cmd, p.Err, p.Log)
	case testbin.ErrTimeout:
		t.Fatalf("%s did not listen within 15 s:\n%s", cmd, p.Log)
	}
	for _, x := range m[:listeners] {
		s.addrs = append(s.addrs, net.JoinHostPort("127.0.0.1", x[1]))
	}
	return s
}

// alive fails the test if the server has exited.
func (s *server) alive() {
	s.t.Helper()
	select {
	case <-s.exit:
		s.t.Fatalf("the server exited (%v):\n%s", s.proc.Err, s.log)
	default:
	}
}

// stop sends SIGTERM, waits, and SIGKILLs the server if it is not gone
// after 20 s.
func (s *server) stop() {
	if !s.proc.Stop(20 * time.Second) {
		s.t.Errorf("the server did not stop within 20 s of SIGTERM:\n%s", s.log.Tail(30))
	}
}

// exchange is what came back on one raw connection.
type exchange struct {
	data     []byte
	closed   bool  // the server ended the connection (EOF or reset)
	timedOut bool  // the read deadline passed with the connection open
	err      error // the error that ended reading, if not EOF
}

// rawExchange writes req on a new connection to addr and reads until the
// server closes the connection or wait passes. With halfClose the client
// shuts its sending side after req, so a server waiting for more input
// sees the end of it.
func rawExchange(t *testing.T, addr string, req []byte, halfClose bool, wait time.Duration) exchange {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write request: %v", err)
	}
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(wait))
	var ex exchange
	ex.data, err = io.ReadAll(c)
	switch {
	case err == nil:
		ex.closed = true
	case errors.Is(err, os.ErrDeadlineExceeded):
		ex.timedOut = true
	default:
		ex.closed, ex.err = true, err
	}
	return ex
}

// response is one parsed response of an exchange.
type response struct {
	status int
	header http.Header
	body   string
}

// responses parses every response in data, in order. method is the
// method of the requests (HEAD responses have no body).
func responses(data []byte, method string) ([]response, error) {
	var out []response
	r := bufio.NewReader(bytes.NewReader(data))
	for {
		if _, err := r.Peek(1); err == io.EOF {
			return out, nil
		}
		resp, err := http.ReadResponse(r, &http.Request{Method: method})
		if err != nil {
			return out, fmt.Errorf("response %d: %w", len(out)+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return out, fmt.Errorf("response %d body: %w", len(out)+1, err)
		}
		out = append(out, response{status: resp.StatusCode, header: resp.Header, body: string(body)})
	}
}

// checkServes fails the test unless a normal GET of / answers the index.
func checkServes(t *testing.T, s *server) {
	t.Helper()
	s.alive()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(s.url("/"))
	if err != nil {
		t.Fatalf("a normal GET / failed: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(body) != indexBody {
		t.Fatalf("a normal GET / answered %d %q (%v), want 200 and the index", resp.StatusCode, body, err)
	}
}
