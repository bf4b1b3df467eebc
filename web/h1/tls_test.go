package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testcert"
)

// tlsFiles answers /a fast and everything else through the Handler, which
// says what it saw of TLS and whether the writer offered it WriteSyscall;
// /copy has a 300 KB body through ReadFrom (io.Copy), /write the same
// through Write.
type tlsFiles struct{ fastFiles }

const tlsBig = 300000

func bigBody() string { return strings.Repeat("0123456789", tlsBig/10) }

func (f *tlsFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/copy":
		w.Header().Set("Content-Type", "text/plain")
		io.Copy(w, strings.NewReader(bigBody()))
		return
	case "/write":
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, bigBody())
		return
	}
	proto := "none"
	if r.TLS != nil {
		proto = "alpn=" + r.TLS.NegotiatedProtocol
	}
	msg := "slow " + proto + " syscall="
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)+1))
	if sw, ok := w.(interface {
		WriteSyscall([]byte) (int, bool, error)
	}); ok {
		if _, direct, _ := sw.WriteSyscall(nil); direct {
			sw.WriteSyscall([]byte(msg + "Y"))
			return
		}
	}
	io.WriteString(w, msg+"N")
}

// tlsServer serves s on a TLS listener offering h2, http/1.1 and "other";
// it returns the address and the client configuration trusting it.
func tlsServer(t *testing.T, s *Server) (string, *tls.Config) {
	t.Helper()
	return tlsServerWith(t, s, tls.NewListener)
}

// tlsServerWith is tlsServer with listen making the TLS listener.
func tlsServerWith(t *testing.T, s *Server, listen func(net.Listener, *tls.Config) net.Listener) (string, *tls.Config) {
	t.Helper()
	c, err := testcert.New(testcert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{c.TLS()}, NextProtos: []string{"h2", "http/1.1", "other"}}
	done := make(chan error, 1)
	go func() { done <- s.Serve(listen(ln, cfg)) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return ln.Addr().String(), &tls.Config{RootCAs: c.Pool(), ServerName: "localhost"}
}

// dialTLS makes a TLS connection offering protos.
func dialTLS(t *testing.T, addr string, cfg *tls.Config, protos ...string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	cfg = cfg.Clone()
	cfg.NextProtos = protos
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// TestTLS: the engine serves HTTP/1.1 over TLS itself (its strict parser,
// its fast path), with r.TLS set, writing everything through TLS (no
// WriteSyscall), and hands other protocols to NextProto; over
// tls.NewListener, and over NewTLSListener (whose idle connections wait
// in event loops between the two requests of each case).
func TestTLS(t *testing.T) {
	t.Run("tls.NewListener", func(t *testing.T) { testTLS(t, tls.NewListener) })
	t.Run("NewTLSListener", func(t *testing.T) { testTLS(t, NewTLSListener) })
}

func testTLS(t *testing.T, listen func(net.Listener, *tls.Config) net.Listener) {
	f := &tlsFiles{fastFiles{files: map[string]string{"/a": "fast:a", "/big": "fast:" + bigBody()}}}
	s := &Server{Handler: f, Fast: f, ErrorLog: quietLog(), ServerHeader: "test/1"}
	s.NextProto = map[string]func(*tls.Conn){"h2": func(c *tls.Conn) { io.WriteString(c, "h2 here") }}
	addr, cfg := tlsServerWith(t, s, listen)

	for _, tc := range []struct {
		name   string
		protos []string
		req    string
		status int
		body   string
	}{
		{"fast, ALPN http/1.1", []string{"http/1.1"}, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200, "fast:a"},
		{"fast, no ALPN", nil, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200, "fast:a"},
		{"handler sees TLS, no WriteSyscall", []string{"http/1.1"}, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n", 200, "slow alpn=http/1.1 syscall=N"},
		{"large fast body", []string{"http/1.1"}, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", 200, "fast:" + bigBody()},
		{"large body through ReadFrom", []string{"http/1.1"}, "GET /copy HTTP/1.1\r\nHost: x\r\n\r\n", 200, bigBody()},
		{"large body through Write", []string{"http/1.1"}, "GET /write HTTP/1.1\r\nHost: x\r\n\r\n", 200, bigBody()},
		{"strict parser: obs-fold", []string{"http/1.1"}, "GET /a HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400, "400 Bad Request: obsolete line folding in header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dialTLS(t, addr, cfg, tc.protos...)
			// Twice on one connection: keep-alive through TLS.
			for range 2 {
				io.WriteString(c, tc.req)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.status || !strings.HasPrefix(string(b), tc.body) || len(tc.body) > 100 && string(b) != tc.body {
					t.Fatalf("%d %.60q (%d bytes), want %d %.60q (%d bytes)", resp.StatusCode, b, len(b), tc.status, tc.body, len(tc.body))
				}
				if resp.StatusCode == 400 {
					if resp.Header.Get("Server") != "test/1" || resp.Header.Get("Date") == "" {
						t.Errorf("the engine's 400 has Server %q, Date %q", resp.Header.Get("Server"), resp.Header.Get("Date"))
					}
					return // the engine closes after a refusal
				}
			}
		})
	}

	t.Run("h2 goes to NextProto, then closed", func(t *testing.T) {
		c, _ := dialTLS(t, addr, cfg, "h2")
		b, err := io.ReadAll(c)
		if string(b) != "h2 here" || err != nil {
			t.Errorf("read %q, %v; want %q, then EOF", b, err, "h2 here")
		}
	})
	t.Run("a protocol without NextProto is closed", func(t *testing.T) {
		c, _ := dialTLS(t, addr, cfg, "other")
		if got := c.ConnectionState().NegotiatedProtocol; got != "other" {
			t.Fatalf("negotiated %q", got)
		}
		b, err := io.ReadAll(c)
		if len(b) != 0 || err != nil {
			t.Errorf("read %q, %v; want EOF", b, err)
		}
	})
	t.Run("plain HTTP gets net/http's 400", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		b, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(b), "HTTP/1.0 400 Bad Request\r\n") || !strings.Contains(string(b), "HTTPS server") {
			t.Errorf("got %q", b)
		}
	})
}

// TestTLSHandshakeTimeout: a client that connects and says nothing is
// dropped at ReadHeaderTimeout, its handshake unfinished.
func TestTLSHandshakeTimeout(t *testing.T) {
	f := &tlsFiles{}
	s := &Server{Handler: f, ErrorLog: quietLog(), ReadHeaderTimeout: 50 * time.Millisecond}
	addr, _ := tlsServerWith(t, s, NewTLSListener)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if n, err := c.Read(make([]byte, 10)); err == nil || n != 0 {
		t.Errorf("read %d bytes, %v; want the server to close", n, err)
	}
}

// TestTLSShutdownNextProto: Shutdown calls OnShutdown and waits for the
// connections NextProto serves to end.
func TestTLSShutdownNextProto(t *testing.T) {
	f := &tlsFiles{}
	goAway := make(chan struct{})
	serving := make(chan struct{})
	var once sync.Once
	s := &Server{Handler: f, ErrorLog: quietLog()}
	s.OnShutdown = func() { once.Do(func() { close(goAway) }) }
	s.NextProto = map[string]func(*tls.Conn){"h2": func(c *tls.Conn) {
		close(serving)
		<-goAway
		io.WriteString(c, "bye")
	}}
	addr, cfg := tlsServer(t, s)
	c, _ := dialTLS(t, addr, cfg, "h2")
	<-serving
	// Longer than the grace Shutdown gives new and idle connections: the
	// connection counts as busy.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	b, err := io.ReadAll(c)
	if string(b) != "bye" || err != nil {
		t.Errorf("read %q, %v; want %q then EOF", b, err, "bye")
	}
}
