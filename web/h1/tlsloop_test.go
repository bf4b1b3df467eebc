//go:build linux

package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testcert"
	"github.com/gotwistd/gotwistd/web/fast"
	"golang.org/x/sys/unix"
)

// tlsLoopServer serves s on NewTLSListener (HTTP/1.1 only, by ALPN) on a
// loopback port until the test ends; it returns the address and the
// client configuration trusting it.
func tlsLoopServer(t testing.TB, s *Server) (string, *tls.Config) {
	t.Helper()
	cert, err := testcert.New(testcert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS()}, NextProtos: []string{"http/1.1"}}
	done := make(chan error, 1)
	go func() { done <- s.Serve(NewTLSListener(ln, cfg)) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return ln.Addr().String(), &tls.Config{RootCAs: cert.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"}}
}

// holdConn is a client's socket that can hold its writes back and send
// what it holds in pieces of its choosing: several TLS records in one
// segment, or one record in two.
type holdConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	held []byte
}

func (h *holdConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hold {
		h.held = append(h.held, p...)
		return len(p), nil
	}
	return h.Conn.Write(p)
}

// send writes the first n bytes held (all of them if n < 0).
func (h *holdConn) send(t testing.TB, n int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if n < 0 || n > len(h.held) {
		n = len(h.held)
	}
	// (A tls.Conn's CloseWrite leaves the write deadline in the past.)
	h.Conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
	if _, err := h.Conn.Write(h.held[:n]); err != nil {
		t.Fatal(err)
	}
	h.held = h.held[n:]
}

// tlsClient is a TLS keep-alive connection to addr: c for requests and
// answers, raw for its socket.
func tlsClient(t *testing.T, addr string, cfg *tls.Config) (*client, *holdConn, *tls.Conn) {
	t.Helper()
	raw, tc := dialHold(t, addr, cfg)
	return &client{t: t, c: tc, r: bufio.NewReader(tc)}, raw, tc
}

// dialHold makes a TLS connection to addr over a holdConn.
func dialHold(t testing.TB, addr string, cfg *tls.Config) (*holdConn, *tls.Conn) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw := &holdConn{Conn: nc}
	tc := tls.Client(raw, cfg)
	t.Cleanup(func() { tc.Close() })
	tc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return raw, tc
}

// oneConn is the server's only connection, once it waits in an event
// loop; it fails the test if that does not happen within 10 s.
func oneConn(t testing.TB, s *Server) *conn {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		var c *conn
		for cn := range s.conns {
			if cn.looped.Load() && cn.state.Load() == stLoopIdle {
				c = cn
			}
		}
		n := len(s.conns)
		s.mu.Unlock()
		if c != nil && n == 1 {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection idle in an event loop after 10 s (%d connections)", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// drained waits until the server has read everything that reached the
// socket of c (an idle connection in an event loop: the loop read it).
func drained(t *testing.T, c *conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.IoctlGetInt(c.fd, unix.SIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes unread by the server after 10 s", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// leftLoop waits until c is no longer in an event loop.
func leftLoop(t *testing.T, c *conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.looped.Load() {
		if time.Now().After(deadline) {
			t.Fatal("still in an event loop after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// connCount waits until the server has n connections.
func connCount(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		got := len(s.conns)
		s.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections after 10 s, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func tlsLoopFiles() *tlsFiles {
	return &tlsFiles{fastFiles{files: map[string]string{
		"/a":    "fast:a",
		"/b":    "fast:b",
		"/big":  "fast:" + bigBody(),
		"/huge": "fast:" + strings.Repeat("abcdefghij", 1<<20), // 10 MB: more than the socket takes at once
	}}}
}

// want is what tlsFiles answers to GET path.
func (f *tlsFiles) want(path string) string {
	if b, ok := f.files[path]; ok {
		return b
	}
	return "slow alpn=http/1.1 syscall=N"
}

// TestTLSLoop: a keep-alive HTTP/1.1 connection over TLS waits in an
// event loop once the fast path answered it, and the loop answers its
// fast requests itself (another goroutine than the connection's first);
// requests for the Handler (which sees the connection's TLS state) and
// large bodies are answered through the goroutine the loop hands it to,
// after which it goes back to a loop.
func TestTLSLoop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    uint16
		suites []uint16
	}{
		{"TLS 1.3", tls.VersionTLS13, nil},
		{"TLS 1.2, AES-GCM", tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{"TLS 1.2, ChaCha20-Poly1305", tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tlsLoopFiles()
			s := &Server{Handler: f, Fast: f, ErrorLog: quietLog(), parkAfter: 20 * time.Millisecond}
			addr, cfg := tlsLoopServer(t, s)
			cfg.MaxVersion, cfg.CipherSuites = tc.max, tc.suites
			c, _, conn := tlsClient(t, addr, cfg)
			if v := conn.ConnectionState().Version; v != tc.max {
				t.Fatalf("TLS version %x, want %x", v, tc.max)
			}
			if got := c.get("/a"); got != "fast:a" {
				t.Fatalf("GET /a: %q", got)
			}
			for i, path := range []string{"/a", "/s", "/b", "/big", "/a", "/huge", "/t", "/a", "/a"} {
				oneConn(t, s)
				if got := c.get(path); got != f.want(path) {
					t.Fatalf("request %d, GET %s: %.40q (%d bytes), want %.40q", i, path, got, len(got), f.want(path))
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.gids[1] == f.gids[0] || f.gids[len(f.gids)-1] == f.gids[0] {
				t.Errorf("the fast answers came from goroutines %v: the first is the connection's; the others should be a loop's", f.gids)
			}
		})
	}
}

// TestTLSLoopPieces sends requests to a connection waiting in an event
// loop in the ways TLS clients do: several requests in a record, a record
// each in one segment (the loop decrypts them one after the other), a
// request split across records that come together or one by one, and a
// record that arrives in two reads (crypto/tls keeps its first part while
// the loop waits for the rest). The answers come in order.
func TestTLSLoopPieces(t *testing.T) {
	f := tlsLoopFiles()
	s := &Server{Handler: f, Fast: f, ErrorLog: quietLog()}
	addr, cfg := tlsLoopServer(t, s)
	req := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n" }
	for _, tc := range []struct {
		name  string
		paths []string
		// send writes the requests through tc, the connection; raw holds
		// them back, sc is the server's connection.
		send func(t *testing.T, tc *tls.Conn, raw *holdConn, sc *conn)
	}{
		{"requests in one record", []string{"/a", "/b", "/s", "/a", "/big", "/a"}, func(t *testing.T, tc *tls.Conn, raw *holdConn, sc *conn) {
			io.WriteString(tc, req("/a")+req("/b")+req("/s")+req("/a")+req("/big")+req("/a"))
		}},
		{"a record per request, in one segment", []string{"/a", "/b", "/a", "/s", "/b"}, func(t *testing.T, tc *tls.Conn, raw *holdConn, sc *conn) {
			raw.hold = true
			for _, p := range []string{"/a", "/b", "/a", "/s", "/b"} {
				io.WriteString(tc, req(p))
			}
			raw.send(t, -1)
		}},
		{"many records in one segment", strings.Split(strings.Repeat("/a ", 200), " ")[:200], func(t *testing.T, tc *tls.Conn, raw *holdConn, sc *conn) {
			raw.hold = true
			for range 200 {
				io.WriteString(tc, req("/a"))
			}
			raw.send(t, -1)
		}},
		{"more records in one segment than the loop's buffer holds", strings.Split(strings.Repeat("/b ", 1000), " ")[:1000], func(t *testing.T, tc *tls.Conn, raw *holdConn, sc *conn) {
			raw.hold = true
			for range 1000 {
				io.WriteString(tc, req("/b"))
			}
			raw.send(t, -1)
		}},
		{"a request across records in one segment", []string{"/b"}, func(t *testing.T, tc *tls.Conn, raw *holdConn, sc *conn) {
			raw.hold = true
			for _, piece := range []string{"GET /b HT", "TP/1.1\r\nHost:", " h\r\n\r\n"} {
				io.WriteString(tc, piece)
			}
			raw.send(t, -1)
		}},
		{"a request across records and reads", []string{"/b"}, func(t *testing.T, tc *tls.Conn, raw *holdConn, sc *conn) {
			for _, piece := range []string{"GET /b HT", "TP/1.1\r\nHost:", " h\r\n\r\n"} {
				io.WriteString(tc, piece)
				drained(t, sc)
			}
		}},
		{"a record in two reads", []string{"/a"}, func(t *testing.T, tc *tls.Conn, raw *holdConn, sc *conn) {
			raw.hold = true
			io.WriteString(tc, req("/a"))
			raw.send(t, 3) // part of the record's header
			drained(t, sc)
			raw.send(t, 20) // part of its body
			drained(t, sc)
			raw.send(t, -1)
		}},
		{"a record in two reads after a whole one", []string{"/b", "/a"}, func(t *testing.T, tc *tls.Conn, raw *holdConn, sc *conn) {
			raw.hold = true
			io.WriteString(tc, req("/b"))
			io.WriteString(tc, req("/a"))
			raw.send(t, len(raw.held)-10)
			drained(t, sc)
			raw.send(t, -1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, raw, conn := tlsClient(t, addr, cfg)
			if got := c.get("/a"); got != "fast:a" {
				t.Fatalf("GET /a: %q", got)
			}
			sc := oneConn(t, s)
			tc.send(t, conn, raw, sc)
			raw.hold = false
			for i, p := range tc.paths {
				if _, body, _ := c.read("GET"); body != f.want(p) {
					t.Fatalf("answer %d, to GET %s: %.40q, want %.40q", i, p, body, f.want(p))
				}
			}
			// And the connection goes on.
			if got := c.get("/b"); got != "fast:b" {
				t.Fatalf("GET /b after: %q", got)
			}
			conn.Close()
			connCount(t, s, 0)
		})
	}
}

// TestTLSLoopPipelinedHuge: pipelined requests for bodies larger than the
// socket takes at once, to a connection in an event loop: the loop
// writes what the socket takes, the connection's goroutine the rest, in
// order, and the connection goes on.
func TestTLSLoopPipelinedHuge(t *testing.T) {
	f := tlsLoopFiles()
	s := &Server{Handler: f, Fast: f, ErrorLog: quietLog()}
	addr, cfg := tlsLoopServer(t, s)
	c, _, first := tlsClient(t, addr, cfg)
	c.get("/a")
	sc := oneConn(t, s)
	paths := []string{"/huge", "/a", "/huge", "/big", "/s", "/huge"}
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", p)
	}
	c.send(b.String())
	leftLoop(t, sc)
	for i, p := range paths {
		if _, body, _ := c.read("GET"); body != f.want(p) {
			t.Fatalf("answer %d, to GET %s: %.40q (%d bytes), want %d bytes", i, p, body, len(body), len(f.want(p)))
		}
	}
	if got := c.get("/a"); got != "fast:a" {
		t.Fatalf("GET /a after: %q", got)
	}
	first.Close()
	connCount(t, s, 0)
	t.Run("the last with Connection: close", func(t *testing.T) {
		c, _, _ := tlsClient(t, addr, cfg)
		c.get("/a")
		sc := oneConn(t, s)
		c.send("GET /huge HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		// Not reading until the loop let go of the connection: it did
		// when the socket took no more.
		leftLoop(t, sc)
		for i := range 1 {
			if _, body, _ := c.read("GET"); body != f.want("/huge") {
				t.Fatalf("answer %d: %d bytes, want %d", i, len(body), len(f.want("/huge")))
			}
		}
		if b, err := io.ReadAll(c.r); len(b) != 0 || err != nil {
			t.Fatalf("after the answers: %q, %v; want a clean EOF", b, err)
		}
	})
}

// TestTLSLoopCloseNotify: a client that ends its side with close_notify,
// after a last request or without one, while its connection waits in an
// event loop: the request is answered, then the server closes the
// connection (with its own close_notify: the client reads a clean EOF).
func TestTLSLoopCloseNotify(t *testing.T) {
	f := tlsLoopFiles()
	s := &Server{Handler: f, Fast: f, ErrorLog: quietLog()}
	addr, cfg := tlsLoopServer(t, s)
	for _, tc := range []struct {
		name  string
		paths []string
	}{
		{"alone", nil},
		{"after a fast request, in one segment", []string{"/a"}},
		{"after requests for both, in one segment", []string{"/b", "/s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, raw, conn := tlsClient(t, addr, cfg)
			c.get("/a")
			oneConn(t, s)
			raw.hold = true
			for _, p := range tc.paths {
				io.WriteString(conn, "GET "+p+" HTTP/1.1\r\nHost: h\r\n\r\n")
			}
			if err := conn.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			raw.send(t, -1)
			raw.hold = false
			for _, p := range tc.paths {
				if _, body, _ := c.read("GET"); body != f.want(p) {
					t.Fatalf("GET %s: %q", p, body)
				}
			}
			if b, err := io.ReadAll(c.r); len(b) != 0 || err != nil {
				t.Fatalf("after the answers: %q, %v; want a clean EOF", b, err)
			}
			connCount(t, s, 0)
		})
	}
}

// TestTLSLoopShutdown: Shutdown closes the TLS connections idle in event
// loops (each with a close_notify) and returns; and the idle timeout
// closes one in a loop too.
func TestTLSLoopShutdown(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) {
		f := tlsLoopFiles()
		s := &Server{Handler: f, Fast: f, ErrorLog: quietLog(), graceIdle: 10 * time.Millisecond}
		addr, cfg := tlsLoopServer(t, s)
		var cs []*client
		for range 3 {
			c, _, _ := tlsClient(t, addr, cfg)
			c.get("/a")
			cs = append(cs, c)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			looped := 0
			s.mu.Lock()
			for cn := range s.conns {
				if cn.looped.Load() {
					looped++
				}
			}
			s.mu.Unlock()
			if looped == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of 3 connections in event loops after 10 s", looped)
			}
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		for i, c := range cs {
			if b, err := io.ReadAll(c.r); len(b) != 0 || err != nil {
				t.Errorf("connection %d after Shutdown: %q, %v; want a clean EOF", i, b, err)
			}
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		f := tlsLoopFiles()
		s := &Server{Handler: f, Fast: f, ErrorLog: quietLog(), IdleTimeout: 100 * time.Millisecond}
		addr, cfg := tlsLoopServer(t, s)
		c, _, _ := tlsClient(t, addr, cfg)
		c.get("/a")
		oneConn(t, s)
		if b, err := io.ReadAll(c.r); len(b) != 0 || err != nil {
			t.Errorf("after the idle timeout: %q, %v; want a clean EOF", b, err)
		}
		connCount(t, s, 0)
	})
}

// TestTLSLoopCurl: curl asks for several files on one connection, over
// TLS and HTTP/1.1; they are answered in order, from the event loop after
// the first.
func TestTLSLoopCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	f := tlsLoopFiles()
	var conns atomic.Int32
	s := &Server{Handler: f, Fast: f, ErrorLog: quietLog()}
	s.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	addr, _ := tlsLoopServer(t, s)
	paths := []string{"/a", "/b", "/s", "/a", "/big", "/b"}
	args := []string{"-sSk", "--http1.1", "--max-time", "20"}
	var want strings.Builder
	for _, p := range paths {
		args = append(args, "https://"+addr+p)
		want.WriteString(f.want(p))
	}
	out, err := exec.Command(curl, args...).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	if string(out) != want.String() {
		t.Errorf("curl got %.80q (%d bytes), want %.80q (%d bytes)", out, len(out), want.String(), want.Len())
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("curl made %d connections, want 1", n)
	}
}

// TestTLSLoopWrk: a second of wrk over TLS (50 keep-alive connections):
// every request answered, without errors.
func TestTLSLoopWrk(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("no wrk")
	}
	f := tlsLoopFiles()
	s := &Server{Handler: f, Fast: f, ErrorLog: quietLog()}
	addr, _ := tlsLoopServer(t, s)
	out, err := exec.Command(wrk, "-t1", "-c50", "-d1s", "https://"+addr+"/a").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(\d+) requests in`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("wrk said:\n%s", out)
	}
	if n, _ := strconv.Atoi(string(m[1])); n == 0 || strings.Contains(string(out), "Socket errors") || strings.Contains(string(out), "Non-2xx") {
		t.Errorf("wrk said:\n%s", out)
	}
}

// loopedTLS is a TLS connection idle in an event loop, with a request to
// send and room for its answer.
type loopedTLS struct {
	tc   *tls.Conn
	req  []byte
	resp []byte
}

func newLoopedTLS(tb testing.TB, s *Server) *loopedTLS {
	addr, cfg := tlsLoopServer(tb, s)
	_, tc := dialHold(tb, addr, cfg)
	l := &loopedTLS{tc: tc, req: []byte("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")}
	// The answer: status line, the fast.Handler's fields, Date (of a
	// fixed width), the blank line, the body.
	n := len("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n") +
		len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n") + len("\r\n") + len("fast:a")
	l.resp = make([]byte, n)
	for range 2 {
		if err := l.roundTrip(); err != nil {
			tb.Fatal(err)
		}
		if !strings.HasPrefix(string(l.resp), "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(string(l.resp), "\r\n\r\nfast:a") {
			tb.Fatalf("answer %q", l.resp)
		}
		oneConn(tb, s)
	}
	return l
}

// roundTrip sends the request and reads its answer.
func (l *loopedTLS) roundTrip() error {
	if _, err := l.tc.Write(l.req); err != nil {
		return err
	}
	_, err := io.ReadFull(l.tc, l.resp)
	return err
}

// TestTLSLoopAllocs: the loop answers a fast request over TLS without
// allocating, but for crypto/tls's own allocation: its Conn.Read makes an
// atLeastReader (24 bytes) each time it reads a record from the
// connection. That is one for the loop's read and one for the client's,
// in this process too.
func TestTLSLoopAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	f := &fixedFast{fast.Response{Header: []byte("Content-Type: text/plain\r\nContent-Length: 6\r\n"), Body: []byte("fast:a")}}
	s := &Server{Handler: http.NotFoundHandler(), Fast: f, ErrorLog: quietLog()}
	l := newLoopedTLS(t, s)
	var err error
	n := testing.AllocsPerRun(500, func() {
		if e := l.roundTrip(); e != nil {
			err = e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n > 2 {
		t.Errorf("%v allocations per request, crypto/tls's two included", n)
	}
}

// BenchmarkTLSLoop is a fast request and its answer over TLS, through an
// event loop, with Go's TLS client in the same process: client and
// server on loopback, both in the figures (2 allocations: crypto/tls's,
// one a side; see TestTLSLoopAllocs).
func BenchmarkTLSLoop(b *testing.B) {
	f := &fixedFast{fast.Response{Header: []byte("Content-Type: text/plain\r\nContent-Length: 6\r\n"), Body: []byte("fast:a")}}
	s := &Server{Handler: http.NotFoundHandler(), Fast: f, ErrorLog: quietLog()}
	l := newLoopedTLS(b, s)
	b.ReportAllocs()
	for b.Loop() {
		if err := l.roundTrip(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTLSLoopKeyUpdate: openssl's client sends a TLS 1.3 KeyUpdate that
// asks for the server's, to a connection idle in an event loop: crypto/tls
// answers it there, and requests before and after are answered with the
// keys of their time. A TLS 1.2 renegotiation the server refuses, which
// ends the connection, as on a goroutine.
func TestTLSLoopKeyUpdate(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl")
	}
	for _, tc := range []struct {
		name, version, command string
		done                   string // what the client prints once the command is done
		second                 bool   // the request after the command is answered
	}{
		{"KeyUpdate asking for the server's", "-tls1_3", "K", "<<< TLS 1.3, Handshake [length 0005], KeyUpdate", true},
		{"KeyUpdate", "-tls1_3", "k", ">>> TLS 1.3, Handshake [length 0005], KeyUpdate", true},
		{"renegotiation", "-tls1_2", "R", "ClientHello", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tlsLoopFiles()
			s := &Server{Handler: f, Fast: f, ErrorLog: quietLog()}
			addr, _ := tlsLoopServer(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, tc.version, "-crlf", "-no_ign_eof", "-msg")
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			outp, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer in.Close()
			out := bufio.NewReader(outp)
			// waitFor reads the client's output up to s (false: it ended
			// first).
			waitFor := func(s string) bool {
				var seen []byte
				for {
					b, err := out.ReadByte()
					if err != nil {
						return false
					}
					if seen = append(seen, b); strings.HasSuffix(string(seen), s) {
						return true
					}
				}
			}
			io.WriteString(in, "GET /a HTTP/1.1\nHost: h\n\n")
			if !waitFor("fast:a") {
				t.Fatal("no answer to the first request")
			}
			oneConn(t, s)
			// (The client takes the rest of a read that starts with a
			// command for the command's.)
			io.WriteString(in, tc.command+"\n")
			if !waitFor(tc.done) {
				t.Fatalf("the client did not do %s", tc.command)
			}
			io.WriteString(in, "GET /b HTTP/1.1\nHost: h\n\n")
			if got := waitFor("fast:b"); got != tc.second {
				t.Fatalf("the request after %s answered: %v, want %v", tc.command, got, tc.second)
			}
			if !tc.second {
				connCount(t, s, 0)
			}
		})
	}
}
