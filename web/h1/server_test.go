package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/web/fast"
	"golang.org/x/sys/unix"
)

// fastFiles is a fast.Handler answering GET and HEAD of fixed paths, and a
// Handler for everything else (it names the path), so a test can tell
// which one answered: fast bodies start with "fast:".
type fastFiles struct {
	files map[string]string
	mu    sync.Mutex
	seen  []bool   // Request.Watched of each fast answer
	gids  []uint64 // the goroutine that asked for each fast answer
}

// goroutineID is the calling goroutine's number, from its stack's first
// line ("goroutine 7 [running]:").
func goroutineID() uint64 {
	var b [32]byte
	s := strings.TrimPrefix(string(b[:runtime.Stack(b[:], false)]), "goroutine ")
	id, _ := strconv.ParseUint(s[:strings.IndexByte(s, ' ')], 10, 64)
	return id
}

func (f *fastFiles) ServeFast(r *fast.Request) (fast.Response, bool) {
	if !r.Plain() {
		return fast.Response{}, false
	}
	body, ok := f.files[r.Target]
	if !ok {
		return fast.Response{}, false
	}
	f.mu.Lock()
	f.seen = append(f.seen, r.Watched)
	f.gids = append(f.gids, goroutineID())
	f.mu.Unlock()
	return fast.Response{
		Header: []byte("Content-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"),
		Body:   []byte(body),
	}, true
}

func (f *fastFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "slow:"+r.URL.Path)
}

func newFastServer() (*Server, *fastFiles) {
	f := &fastFiles{files: map[string]string{
		"/a":   "fast:a",
		"/b":   "fast:b",
		"/big": "fast:" + strings.Repeat("0123456789", 30000), // 300 KB: more than one write
	}}
	return &Server{Handler: f, Fast: f, ErrorLog: quietLog()}, f
}

// client is a raw keep-alive connection.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

// get reads one response and returns its status and body.
func (c *client) read(method string) (int, string, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, "/", nil)
	resp, err := http.ReadResponse(c.r, req)
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatalf("reading a body: %v", err)
	}
	if resp.Close {
		// ReadResponse takes "Connection: close" out of the header.
		resp.Header.Set("Connection", "close")
	}
	return resp.StatusCode, string(b), resp.Header
}

func (c *client) get(path string) string {
	c.t.Helper()
	c.send("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
	_, body, _ := c.read("GET")
	return body
}

// closed waits for the server to close the connection.
func (c *client) closed() bool {
	c.t.Helper()
	_, err := c.r.ReadByte()
	return err != nil
}

// TestKeepAliveAcrossEngines serves a connection's requests alternately
// from the fast path (after the first, an idle connection waits in an
// event loop) and the Handler (the loop hands it back to a goroutine):
// every answer is right and in order.
func TestKeepAliveAcrossEngines(t *testing.T) {
	s, _ := newFastServer()
	addr := startEngine(t, s)
	c := dial(t, addr)
	big := "fast:" + strings.Repeat("0123456789", 30000)
	for i, step := range []struct{ path, want string }{
		{"/a", "fast:a"}, {"/a", "fast:a"}, {"/x", "slow:/x"}, {"/b", "fast:b"}, {"/y", "slow:/y"},
		{"/big", big}, {"/a", "fast:a"}, {"/big", big}, {"/z", "slow:/z"}, {"/a", "fast:a"},
	} {
		if got := c.get(step.path); got != step.want {
			t.Fatalf("request %d, GET %s: %.40q, want %.40q", i, step.path, got, step.want)
		}
	}
}

// TestPipelining sends requests in one write: the answers come in order,
// fast and slow mixed, then the connection closes after the one that asks
// for it; the request after it is not served.
func TestPipelining(t *testing.T) {
	s, _ := newFastServer()
	addr := startEngine(t, s)
	for _, warm := range []bool{false, true} {
		t.Run(fmt.Sprintf("from an event loop=%v", warm), func(t *testing.T) {
			c := dial(t, addr)
			if warm {
				c.get("/a") // the connection then waits in a loop
			}
			var req strings.Builder
			paths := []string{"/a", "/b", "/s1", "/a", "/big", "/s2", "/b"}
			for _, p := range paths {
				fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", p)
			}
			req.WriteString("GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			req.WriteString("GET /never HTTP/1.1\r\nHost: h\r\n\r\n")
			c.send(req.String())
			for _, p := range append(paths, "/a") {
				_, body, _ := c.read("GET")
				want := "slow:" + p
				if strings.HasPrefix(p, "/a") || p == "/b" || p == "/big" {
					want = "fast:"
				}
				if !strings.HasPrefix(body, want) {
					t.Fatalf("GET %s answered %.30q", p, body)
				}
			}
			if !c.closed() {
				t.Fatal("the connection stayed open after Connection: close")
			}
		})
	}
}

// TestPartialHead sends a request in pieces, to a new connection and to
// one waiting in an event loop: it is served once whole.
func TestPartialHead(t *testing.T) {
	s, _ := newFastServer()
	addr := startEngine(t, s)
	for _, warm := range []bool{false, true} {
		c := dial(t, addr)
		if warm {
			c.get("/a")
		}
		for _, piece := range []string{"GE", "T /b HTTP/1.1\r", "\nHost: h\r\n", "\r", "\n"} {
			c.send(piece)
			time.Sleep(5 * time.Millisecond)
		}
		if _, body, _ := c.read("GET"); body != "fast:b" {
			t.Errorf("warm=%v: %q", warm, body)
		}
	}
}

// TestHTTP10 checks the HTTP/1.0 semantics of the fast path: closed after
// the answer unless the client asks for keep-alive, which the answer then
// says.
func TestHTTP10(t *testing.T) {
	s, _ := newFastServer()
	addr := startEngine(t, s)
	c := dial(t, addr)
	c.send("GET /a HTTP/1.0\r\n\r\n")
	code, body, h := c.read("GET")
	if code != 200 || body != "fast:a" || !c.closed() {
		t.Errorf("HTTP/1.0: %d %q %v", code, body, h)
	}
	c = dial(t, addr)
	c.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	_, _, h = c.read("GET")
	if h.Get("Connection") != "keep-alive" {
		t.Errorf("keep-alive answer has Connection %q", h.Get("Connection"))
	}
	c.send("HEAD /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	code, body, h = c.read("HEAD")
	if code != 200 || body != "" || h.Get("Content-Length") != "6" {
		t.Errorf("HEAD: %d %q %v", code, body, h)
	}
}

// TestRequestBodies reads bodies of both framings, with 100-continue, and
// drops what a handler leaves unread: up to 256 KiB keeps the connection,
// more closes it.
func TestRequestBodies(t *testing.T) {
	s := &Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ignore" {
			io.WriteString(w, "ignored")
			return
		}
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %v", len(b), err)
	})}
	addr := startEngine(t, s)

	c := dial(t, addr)
	c.send("POST /r HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
	if _, body, _ := c.read("POST"); body != "5 <nil>" {
		t.Errorf("Content-Length body: %q", body)
	}
	c.send("POST /r HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nT: 1\r\n\r\n")
	if _, body, _ := c.read("POST"); body != "7 <nil>" {
		t.Errorf("chunked body: %q", body)
	}
	// 100-continue: the body is sent only after the interim answer.
	c.send("POST /r HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	line, err := c.r.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim answer %q %v", line, err)
	}
	c.r.ReadString('\n')
	c.send("body")
	if _, body, _ := c.read("POST"); body != "4 <nil>" {
		t.Errorf("100-continue body: %q", body)
	}
	// Unread, small: read and dropped; the connection serves the next.
	c.send("POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("x", 1000))
	c.read("POST")
	c.send("POST /r HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok")
	if _, body, _ := c.read("POST"); body != "2 <nil>" {
		t.Errorf("after an unread body: %q", body)
	}
	// Unread, large: the connection closes after the answer.
	c2 := dial(t, addr)
	go c2.send("POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("x", 1000000))
	_, body, h := c2.read("POST")
	if body != "ignored" || h.Get("Connection") != "close" || !c2.closed() {
		t.Errorf("large unread body: %q, Connection %q", body, h.Get("Connection"))
	}
	// 100-continue never answered: the handler did not read; closed.
	c3 := dial(t, addr)
	c3.send("POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	code, _, _ := c3.read("POST")
	if code != 200 || !c3.closed() {
		t.Errorf("unanswered 100-continue: %d, connection kept", code)
	}
}

// TestRefusals checks the engine's own answers: the status, the
// ErrorPage, the Refused report, and that the client reads the answer
// whole even while it is still sending (lingering close).
func TestRefusals(t *testing.T) {
	var mu sync.Mutex
	var refused []string
	s := &Server{
		Handler:        http.NotFoundHandler(),
		MaxHeaderBytes: 4 << 10, MaxTargetBytes: 1 << 10,
		ErrorPage: func(code int) (string, string) {
			if code == http.StatusRequestURITooLong {
				return "text/html", "<p>too long</p>"
			}
			return "", ""
		},
		Refused: func(r *fast.Request, code, size int) {
			mu.Lock()
			defer mu.Unlock()
			refused = append(refused, fmt.Sprintf("%s %d %d", r.Method, code, size))
		},
	}
	addr := startEngine(t, s)
	tests := []struct {
		name, req, body string
		code            int
		report          string
	}{
		{"target too long", "GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\nHost: h\r\n\r\n", "<p>too long</p>", 414, "GET 414 15"},
		{"head too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 8000) + "\r\n\r\n", "431 Request Header Fields Too Large", 431, "GET 431 35"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", "400 Bad Request: obsolete line folding in header", 400, "GET 400 48"},
		{"garbage", "\x16\x03\x01\x00\xa5", "400 Bad Request: invalid method", 400, ""},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", "505 HTTP Version Not Supported", 505, ""},
		{"unknown coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", "501 Not Implemented", 501, "POST 501 19"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			refused = nil
			mu.Unlock()
			c := dial(t, addr)
			// Keep sending after the request: the answer must not be lost
			// to a reset.
			go func() {
				io.WriteString(c.c, tt.req)
				for i := 0; i < 20; i++ {
					if _, err := c.c.Write(bytes.Repeat([]byte("y"), 1000)); err != nil {
						return
					}
				}
			}()
			code, body, h := c.read("GET")
			if code != tt.code || body != tt.body || h.Get("Connection") != "close" {
				t.Errorf("%d %q (Connection %q), want %d %q", code, body, h.Get("Connection"), tt.code, tt.body)
			}
			mu.Lock()
			got := strings.Join(refused, ",")
			mu.Unlock()
			if got != tt.report {
				t.Errorf("Refused reported %q, want %q", got, tt.report)
			}
		})
	}
}

// TestOptionsStar: the engine answers OPTIONS * itself, as net/http does.
func TestOptionsStar(t *testing.T) {
	called := false
	addr := startEngine(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })})
	c := dial(t, addr)
	c.send("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
	if code, _, h := c.read("OPTIONS"); code != 200 || h.Get("Content-Length") != "0" || called {
		t.Errorf("%d %v, handler called %v", code, h, called)
	}
}

// TestTimeouts: a head that does not complete, and a connection idle on
// its goroutine or in an event loop, are closed.
func TestTimeouts(t *testing.T) {
	s, _ := newFastServer()
	s.ReadHeaderTimeout = 100 * time.Millisecond
	s.IdleTimeout = 200 * time.Millisecond
	addr := startEngine(t, s)
	for _, tt := range []struct {
		name  string
		setup func(c *client)
	}{
		{"slow head", func(c *client) { c.send("GET / HTTP/1.1\r\n") }},
		{"nothing sent", func(c *client) {}},
		{"idle after a slow request", func(c *client) { c.get("/slow") }},
		{"idle in an event loop", func(c *client) { c.get("/a") }},
		{"slow head in an event loop", func(c *client) { c.get("/a"); c.send("GET /a HTTP/1.1\r\n") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			tt.setup(c)
			if !c.closed() {
				t.Fatal("not closed")
			}
		})
	}
}

// TestWriteTimeout: a client that does not read a large answer makes the
// handler's write fail once WriteTimeout has passed.
func TestWriteTimeout(t *testing.T) {
	werr := make(chan error, 1)
	s := &Server{WriteTimeout: 200 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := w.Write(make([]byte, 64<<20))
		werr <- err
	})}
	addr := startEngine(t, s)
	c := dial(t, addr)
	c.c.(*net.TCPConn).SetReadBuffer(4096)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	var ne net.Error
	if err := <-werr; !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("the handler's write returned %v, want a timeout", err)
	}
}

// TestShutdown: Shutdown lets a request in progress finish (its answer
// says Connection: close), closes idle connections wherever they wait,
// refuses new ones, and returns once all are gone.
func TestShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	f := &fastFiles{files: map[string]string{"/a": "fast:a"}}
	s := &Server{Fast: f, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			close(entered)
			<-release
		}
		io.WriteString(w, "slow:"+r.URL.Path)
	})}
	var states sync.Map
	s.ConnState = func(c net.Conn, st http.ConnState) {
		v, _ := states.LoadOrStore(c, &[]http.ConnState{})
		*v.(*[]http.ConnState) = append(*v.(*[]http.ConnState), st)
	}
	addr, served := serveLoopbackResult(t, s)

	inLoop := dial(t, addr)
	inLoop.get("/a")
	onGoroutine := dial(t, addr)
	onGoroutine.get("/x")
	busy := dial(t, addr)
	busy.send("GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	if !inLoop.closed() || !onGoroutine.closed() {
		t.Fatal("idle connections stayed open")
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("a new connection was accepted during Shutdown")
	}
	close(release)
	_, body, h := busy.read("GET")
	if body != "slow:/hold" || h.Get("Connection") != "close" {
		t.Errorf("request in progress: %q, Connection %q", body, h.Get("Connection"))
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
	states.Range(func(k, v any) bool {
		seq := *v.(*[]http.ConnState)
		if seq[0] != http.StateNew || seq[len(seq)-1] != http.StateClosed {
			t.Errorf("states %v", seq)
		}
		return true
	})
}

// TestShutdownTimesOut: a request that does not finish makes Shutdown
// return its context's error; Close then ends it.
func TestShutdownTimesOut(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})}
	addr := startEngine(t, s)
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown: %v", err)
	}
	s.Close()
	close(release)
	if !c.closed() {
		t.Error("Close left the connection open")
	}
}

// TestConnStateInLoop: a keep-alive connection that waits in an event loop
// still reports Active and Idle around each request.
func TestConnStateInLoop(t *testing.T) {
	s, _ := newFastServer()
	var mu sync.Mutex
	var seq []http.ConnState
	closed := make(chan struct{})
	s.ConnState = func(c net.Conn, st http.ConnState) {
		mu.Lock()
		seq = append(seq, st)
		mu.Unlock()
		if st == http.StateClosed {
			close(closed)
		}
	}
	addr := startEngine(t, s)
	c := dial(t, addr)
	c.get("/a")
	c.get("/b")
	c.get("/s")
	c.c.Close()
	<-closed
	mu.Lock()
	defer mu.Unlock()
	want := []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateActive, http.StateIdle,
		http.StateActive, http.StateIdle, http.StateClosed}
	if fmt.Sprint(seq) != fmt.Sprint(want) {
		t.Errorf("states %v, want %v", seq, want)
	}
}

// watchFiles is a fastFiles that is a Watcher: its descriptor is a pipe
// the test writes to.
type watchFiles struct {
	*fastFiles
	r, w      int // the pipe, non-blocking
	refreshed chan struct{}
}

// newWatchFiles makes a watchFiles on a fresh non-blocking pipe: every
// event loop has the read end in its epoll set, and the loops that wake
// together must not wait in Refresh for what another one drained.
func newWatchFiles(t *testing.T, ff *fastFiles) *watchFiles {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return &watchFiles{fastFiles: ff, r: p[0], w: p[1], refreshed: make(chan struct{}, 1)}
}

func (f *watchFiles) WatchFD() int { return f.r }

func (f *watchFiles) Refresh() {
	var b [16]byte
	if n, _ := unix.Read(f.r, b[:]); n <= 0 {
		return // another loop drained it
	}
	select {
	case f.refreshed <- struct{}{}:
	default:
	}
}

// change writes to the pipe, as a change to a watched file would.
func (f *watchFiles) change(t *testing.T) {
	if _, err := unix.Write(f.w, []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// TestWatcher: requests are Watched, whether a connection's goroutine or
// an event loop serves them, and a readable WatchFD is refreshed before
// the requests that come after the change.
func TestWatcher(t *testing.T) {
	for _, tt := range []struct {
		name string
		wrap func(net.Conn) net.Conn
	}{
		{"loop", nil}, // the first request on the goroutine, the others from a loop
		{"goroutine", func(c net.Conn) net.Conn { return opaqueConn{c} }}, // never in a loop
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ff := newFastServer()
			wf := newWatchFiles(t, ff)
			s := &Server{Handler: wf, Fast: wf}
			c := dial(t, serveLoopback(t, s, tt.wrap))
			c.get("/a")
			c.get("/a")
			wf.change(t)
			c.get("/b")
			select {
			case <-wf.refreshed:
			default:
				t.Error("Refresh was not called before the next request")
			}
			ff.mu.Lock()
			defer ff.mu.Unlock()
			if fmt.Sprint(ff.seen) != "[true true true]" {
				t.Errorf("Watched flags %v, want [true true true]", ff.seen)
			}
		})
	}
}

// transparentConn and opaqueConn wrap connections as a connection limit
// and a handover tracker do.
type transparentConn struct{ net.Conn }

func (c transparentConn) Unwrap() net.Conn { return c.Conn }
func (transparentConn) TransparentIO()     {}

type opaqueConn struct{ net.Conn }

func (c opaqueConn) Unwrap() net.Conn { return c.Conn }

type wrapListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

// serveLoopback serves s on a loopback port until the test ends, each
// accepted connection wrapped by wrap (if not nil), and returns the
// address.
func serveLoopback(t *testing.T, s *Server, wrap func(net.Conn) net.Conn) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		go s.Serve(wrapListener{ln, wrap})
	} else {
		go s.Serve(ln)
	}
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// serveLoopbackResult serves s on a loopback port and returns its address
// and a channel that gets Serve's result.
func serveLoopbackResult(t *testing.T, s *Server) (string, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	return ln.Addr().String(), served
}

// TestWrappers: through a Transparent wrapper idle connections go to an
// event loop; through another they keep their goroutine; both serve.
func TestWrappers(t *testing.T) {
	for _, tt := range []struct {
		name   string
		wrap   func(net.Conn) net.Conn
		looped bool
	}{
		{"transparent", func(c net.Conn) net.Conn { return transparentConn{c} }, true},
		{"opaque", func(c net.Conn) net.Conn { return opaqueConn{c} }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ff := newFastServer()
			wf := newWatchFiles(t, ff)
			s := &Server{Handler: wf, Fast: wf}
			c := dial(t, serveLoopback(t, s, tt.wrap))
			for range 3 {
				if got := c.get("/big"); len(got) != 300005 {
					t.Fatalf("%d bytes", len(got))
				}
			}
			ff.mu.Lock()
			defer ff.mu.Unlock()
			// The first request is the connection goroutine's; once
			// idle in a loop, that goroutine is gone.
			if looped := ff.gids[2] != ff.gids[0]; looped != tt.looped {
				t.Errorf("served from a loop: %v, want %v", looped, tt.looped)
			}
		})
	}
}

// TestPanic: a panicking handler closes the connection; what it had
// flushed arrives, the rest does not.
func TestPanic(t *testing.T) {
	s := &Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
		}
		panic(http.ErrAbortHandler)
	})}
	addr := startEngine(t, s)
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if !c.closed() {
		t.Error("connection kept after a panic")
	}
	c = dial(t, addr)
	c.send("GET /late HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if string(b) != "part" || err != io.ErrUnexpectedEOF {
		t.Errorf("late panic: %q %v", b, err)
	}
}
