//go:build linux

package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/web/fast"
)

// hookListener is an AcceptHook that records what the engine tells it,
// in a log shared with the hooks around it.
type hookListener struct {
	net.Listener
	name   string
	log    *hookLog
	refuse bool
}

type hookLog struct {
	mu      sync.Mutex
	events  []string
	open    int           // taken, not closed yet
	ended   chan struct{} // gets a value whenever open drops to 0
	wrapped chan struct{} // gets a value at each "outer:wrapped"
}

func newHookLog() *hookLog {
	return &hookLog{ended: make(chan struct{}, 100), wrapped: make(chan struct{}, 100)}
}

func (g *hookLog) add(ev string, delta int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, ev)
	g.open += delta
	if delta < 0 && g.open == 0 {
		g.ended <- struct{}{}
	}
}

func (g *hookLog) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.events, " ")
}

func (l *hookListener) Unwrap() net.Listener { return l.Listener }

func (l *hookListener) RawAccepted(fd int) bool {
	if l.refuse {
		l.log.add(l.name+":refused", 0)
		return false
	}
	l.log.add(l.name+":accepted", 1)
	return true
}

func (l *hookListener) RawClosed() { l.log.add(l.name+":closed", -1) }

func (l *hookListener) RawWrap(c net.Conn) net.Conn {
	l.log.add(l.name+":wrapped", 0)
	if l.name == "outer" {
		l.log.wrapped <- struct{}{}
	}
	return &hookConn{Conn: c, l: l}
}

// hookConn reports its Close, once; reads and writes pass through.
type hookConn struct {
	net.Conn
	l    *hookListener
	once sync.Once
}

func (c *hookConn) Close() error {
	c.once.Do(func() { c.l.log.add(c.l.name+":conn-closed", -1) })
	return c.Conn.Close()
}

func (c *hookConn) Unwrap() net.Conn { return c.Conn }
func (c *hookConn) TransparentIO()   {}

// TestAcceptHooks: connections Serve accepts on the socket beneath
// AcceptHooks are told to each hook, innermost first; one answered and
// closed without a net.Conn (Connection: close, answered by the fast
// path) ends with RawClosed, every other (for an event loop, for the
// Handler, not readable yet) becomes a net.Conn that each hook wraps, and
// whose Close they see; a hook's refusal closes the connection unanswered.
func TestAcceptHooks(t *testing.T) {
	for _, tt := range []struct {
		name    string
		refuse  bool
		wait    bool   // wait until the accept before sending
		req     string // sent
		want    string // the answer's body; "" none
		events  string
		keepLen bool // the client closes after the answer
	}{
		{"close, fast", false, false, "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "fast:a",
			"inner:accepted outer:accepted inner:closed outer:closed", false},
		{"close, Handler", false, false, "GET /s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "slow:/s",
			"inner:accepted outer:accepted inner:wrapped outer:wrapped outer:conn-closed inner:conn-closed", false},
		{"kept alive", false, false, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "fast:a",
			"inner:accepted outer:accepted inner:wrapped outer:wrapped outer:conn-closed inner:conn-closed", true},
		{"nothing to read at accept", false, true, "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "fast:a",
			"inner:accepted outer:accepted inner:wrapped outer:wrapped outer:conn-closed inner:conn-closed", false},
		{"refused", true, false, "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "",
			"inner:refused", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newFastServer()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			g := newHookLog()
			inner := &hookListener{Listener: ln, name: "inner", log: g, refuse: tt.refuse}
			outer := &hookListener{Listener: inner, name: "outer", log: g}
			t.Cleanup(func() { s.Close() })
			c := dial(t, ln.Addr().String())
			if tt.wait {
				// Sent once the engine found nothing to read at accept
				// and made it a net.Conn (sent as soon as the hooks
				// were told, the bytes could beat the engine's read).
				go s.Serve(outer)
				<-g.wrapped
				c.send(tt.req)
			} else {
				// On loopback the bytes are in the server's socket when
				// the write returns, before Serve accepts it.
				c.send(tt.req)
				go s.Serve(outer)
			}
			if tt.want != "" {
				if _, body, _ := c.read("GET"); body != tt.want {
					t.Fatalf("answer %q, want %q", body, tt.want)
				}
			}
			if tt.keepLen {
				c.c.Close()
			} else if !c.closed() {
				t.Fatal("the connection stayed open")
			}
			if !tt.refuse {
				<-g.ended
			}
			if got := g.String(); got != tt.events {
				t.Errorf("hooks saw\n%s\nwant\n%s", got, tt.events)
			}
		})
	}
}

// TestAcceptedAddresses: the client address the engine reports, at accept
// or later, and the local address a Handler sees, are net's, for IPv4,
// IPv6 and IPv4 clients of a dual-stack socket.
func TestAcceptedAddresses(t *testing.T) {
	for _, tt := range []struct{ name, listen, dial string }{
		{"IPv4", "127.0.0.1:0", "127.0.0.1"},
		{"IPv6", "[::1]:0", "::1"},
		{"IPv4 on a dual-stack socket", "[::]:0", "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", tt.listen)
			if err != nil {
				t.Skipf("no %s here: %v", tt.listen, err)
			}
			var mu sync.Mutex
			var remotes, locals []string
			f := &addrFast{record: func(remote string) { mu.Lock(); remotes = append(remotes, remote); mu.Unlock() }}
			s := &Server{Fast: f, ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				remotes = append(remotes, r.RemoteAddr)
				locals = append(locals, r.Context().Value(http.LocalAddrContextKey).(net.Addr).String())
				mu.Unlock()
				io.WriteString(w, "slow")
			})}
			go s.Serve(ln)
			t.Cleanup(func() { s.Close() })
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			var want, wantLocal []string
			for _, path := range []string{"/fast", "/slow"} {
				c := dial(t, net.JoinHostPort(tt.dial, port))
				c.send("GET " + path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
				c.read("GET")
				want = append(want, c.c.LocalAddr().String())
				if path == "/slow" {
					wantLocal = append(wantLocal, c.c.RemoteAddr().String())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(remotes, " ") != strings.Join(want, " ") || strings.Join(locals, " ") != strings.Join(wantLocal, " ") {
				t.Errorf("client addresses %q, local %q; want %q, %q", remotes, locals, want, wantLocal)
			}
		})
	}
}

// addrFast answers /fast and records the client address it is given.
type addrFast struct{ record func(string) }

func (f *addrFast) ServeFast(r *fast.Request) (fast.Response, bool) {
	if r.Target != "/fast" {
		return fast.Response{}, false
	}
	f.record(r.RemoteAddr)
	return fast.Response{Header: []byte("Content-Length: 4\r\n"), Body: []byte("fast")}, true
}

// TestAcceptedBodies: on a connection Serve accepted itself, the
// Handler's large bodies arrive whole, to a client that reads slowly: a
// file (sendfile), a range of it, and written bodies (writev), and a
// refused request is answered before the connection closes.
func TestAcceptedBodies(t *testing.T) {
	content := strings.Repeat("0123456789abcdef", 1<<18) // 4 MiB
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, way := range []struct {
		name  string
		noRaw bool
	}{{"accepted on the socket", false}, {"accepted through Accept", true}} {
		t.Run(way.name, func(t *testing.T) {
			s, _ := newFastServer()
			s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/file":
					f, err := os.Open(path)
					if err != nil {
						t.Error(err)
						return
					}
					defer f.Close()
					w.Header().Set("Content-Type", "application/octet-stream")
					http.ServeContent(w, r, "big", time.Time{}, f)
				case "/written":
					w.Header().Set("Content-Type", "application/octet-stream")
					for i := 0; i < len(content); i += 1 << 20 {
						w.Write([]byte(content[i : i+1<<20]))
					}
				}
			})
			s.noRawAccept = way.noRaw
			addr := serveLoopback(t, s, nil)
			for _, tt := range []struct {
				name, head, want string
				code             int
			}{
				{"file", "GET /file HTTP/1.1\r\nHost: h\r\n", content, 200},
				{"range", "GET /file HTTP/1.1\r\nHost: h\r\nRange: bytes=1000-2999999\r\n", content[1000:3000000], 206},
				{"written", "GET /written HTTP/1.1\r\nHost: h\r\n", content, 200},
				{"refused", "GET /a HTTP/1.1\r\nHost: h\r\nHost: again\r\n", "", 400},
			} {
				t.Run(tt.name, func(t *testing.T) {
					cl := dial(t, addr)
					// A small window, so that the server's writes wait.
					if err := cl.c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
						t.Fatal(err)
					}
					cl.send(tt.head + "Connection: close\r\n\r\n")
					code, body, _ := cl.read("GET")
					if code != tt.code || body != tt.want && tt.code != 400 {
						t.Errorf("%d, %d bytes; want %d, %d bytes", code, len(body), tt.code, len(tt.want))
					}
					if !cl.closed() {
						t.Error("the connection stayed open")
					}
				})
			}
		})
	}
}

// TestAcceptShutdown: after Shutdown, a server that accepted on the
// listening socket itself holds no descriptor of it: a socket only it had
// refuses connections, and one another process holds keeps those that
// come, for the next server.
func TestAcceptShutdown(t *testing.T) {
	t.Run("own socket", func(t *testing.T) {
		s, _ := newFastServer()
		addr, served := serveLoopbackResult(t, s)
		c := dial(t, addr)
		if body := c.get("/a"); body != "fast:a" {
			t.Fatalf("answer %q", body)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-served; err != ErrServerClosed {
			t.Fatalf("Serve: %v", err)
		}
		if nc, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
			if err == nil {
				nc.Close()
			}
			t.Errorf("a connection after Shutdown: %v, want connection refused", err)
		}
	})
	t.Run("shared socket", func(t *testing.T) {
		held, ours := sharedListener(t)
		s, f := newFastServer()
		served := make(chan error, 1)
		go func() { served <- s.Serve(ours) }()
		c := dial(t, held.Addr().String())
		c.send("GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if _, body, _ := c.read("GET"); body != "fast:a" {
			t.Fatalf("answer %q", body)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-served; err != ErrServerClosed {
			t.Fatalf("Serve: %v", err)
		}
		queued := dial(t, held.Addr().String())
		queued.send("GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		next := &Server{Handler: f, Fast: f, ErrorLog: quietLog()}
		go next.Serve(held)
		t.Cleanup(func() { next.Close() })
		if _, body, _ := queued.read("GET"); body != "fast:b" {
			t.Errorf("queued after the stop, answered by the next server: %q, want fast:b", body)
		}
	})
}

// TestAcceptListenerClosed: a listener closed under Serve (not by
// Shutdown) ends it at its next connection, which it does not serve, as
// net's Accept on a closed listener would.
func TestAcceptListenerClosed(t *testing.T) {
	held, ours := sharedListener(t)
	s, _ := newFastServer()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ours) }()
	t.Cleanup(func() { s.Close() })
	c := dial(t, held.Addr().String())
	if body := c.get("/a"); body != "fast:a" {
		t.Fatalf("answer %q", body)
	}
	ours.Close()
	queued := dial(t, held.Addr().String())
	queued.send("GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve: %v, want a closed listener's error", err)
	}
	next, _ := newFastServer()
	go next.Serve(held)
	t.Cleanup(func() { next.Close() })
	if _, body, _ := queued.read("GET"); body != "fast:a" {
		t.Errorf("queued after the close, answered by the next server: %q", body)
	}
}
