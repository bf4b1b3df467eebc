package handover

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/systemd"
)

// store is a stand-in for systemd's FD store: it keeps duplicates of what
// it is given, as systemd does.
type store struct {
	mu    sync.Mutex
	files []*os.File
}

func (s *store) put(name string, files ...*os.File) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range files {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			return false, err
		}
		s.files = append(s.files, os.NewFile(uintptr(fd), name))
	}
	return true, nil
}

func (s *store) sockets(t *testing.T) []systemd.Socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var socks []systemd.Socket
	for _, f := range s.files {
		socks = append(socks, systemd.Socket{FD: int(f.Fd()), Name: DefaultName, File: f, Family: syscall.AF_INET, Type: syscall.SOCK_STREAM})
	}
	s.files = nil
	return socks
}

// instance is one generation of the server: it answers with its name, so a
// client can tell which process served it.
type instance struct {
	name string
	srv  httpServer
	l    net.Listener
	t    *Tracker
	done chan struct{}
}

func start(t *testing.T, name string, l net.Listener, st *store, inherited []systemd.Socket) *instance {
	t.Helper()
	return startWith(t, name, l, st, inherited, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(200 * time.Millisecond)
		}
		fmt.Fprint(w, name)
	}))
}

// startWith is start with another handler.
func startWith(t *testing.T, name string, l net.Listener, st *store, inherited []systemd.Socket, h http.Handler) *instance {
	t.Helper()
	tr := New(DefaultName)
	tr.Store = st.put
	in := &instance{name: name, t: tr, done: make(chan struct{})}
	in.srv = newHTTPServer(tr.ConnState, h)
	// The socket outlives each instance; a stopped one left it refusing
	// Accept, as closing it would.
	l.(*net.TCPListener).SetDeadline(time.Time{})
	in.l = tr.Listener(Adopt(noClose{l}, inherited))
	go func() {
		defer close(in.done)
		in.srv.Serve(in.l)
	}()
	return in
}

// noClose keeps the shared listening socket open when an instance stops, as
// systemd's socket unit does.
type noClose struct{ net.Listener }

func (noClose) Close() error { return nil }

// stop stops accepting and parks the connections.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.l.(*listener).Listener.(*adopting).Listener.(noClose).Listener.(*net.TCPListener).SetDeadline(past)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if left, err := in.t.Handover(ctx); err != nil {
		t.Fatalf("%s: handover left %d connections: %v", in.name, left, err)
	}
	in.srv.Shutdown(ctx)
	<-in.done
}

func (t *Tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

type client struct {
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
	return &client{c: c, r: bufio.NewReader(c)}
}

func (c *client) get(path string) (string, error) {
	if _, err := fmt.Fprintf(c.c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.Close {
		return string(b), fmt.Errorf("server closed the connection after %s", path)
	}
	return string(b), err
}

func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestIdleConnectionsMoveToTheNextInstance(t *testing.T) {
	l := listen(t)
	st := &store{}
	a := start(t, "a", l, st, nil)
	var clients []*client
	for i := 0; i < 5; i++ {
		c := dial(t, l.Addr().String())
		if got, err := c.get("/"); err != nil || got != "a" {
			t.Fatalf("first request: %q, %v", got, err)
		}
		clients = append(clients, c)
	}
	// One client never sent anything yet: it moves too.
	fresh := dial(t, l.Addr().String())
	for a.t.count() < 6 { // wait until the server has accepted it
		time.Sleep(time.Millisecond)
	}

	a.stop(t)
	if parked, failed := a.t.Parked(); parked != 6 || failed != 0 {
		t.Fatalf("parked %d, failed %d; want 6, 0", parked, failed)
	}
	b := start(t, "b", l, st, st.sockets(t))
	defer b.stop(t)
	for i, c := range append(clients, fresh) {
		if got, err := c.get("/"); err != nil || got != "b" {
			t.Errorf("client %d after the handover: %q, %v; want b on the same connection", i, got, err)
		}
	}
}

func TestInFlightRequestFinishesThenMoves(t *testing.T) {
	l := listen(t)
	st := &store{}
	a := start(t, "a", l, st, nil)
	c := dial(t, l.Addr().String())
	if _, err := fmt.Fprintf(c.c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the request is in the handler
	stopped := make(chan struct{})
	go func() { a.stop(t); close(stopped) }()
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "a" || resp.Close {
		t.Fatalf("in-flight request: %q close=%v; want a, kept alive", body, resp.Close)
	}
	<-stopped
	b := start(t, "b", l, st, st.sockets(t))
	defer b.stop(t)
	if got, err := c.get("/"); err != nil || got != "b" {
		t.Fatalf("next request: %q, %v; want b", got, err)
	}
}

// TestNoRequestLostUnderLoad restarts the server over and over while
// keep-alive clients send requests back to back; every request must be
// answered, by one generation or the next.
func TestNoRequestLostUnderLoad(t *testing.T) {
	l := listen(t)
	st := &store{}
	cur := start(t, "gen0", l, st, nil)
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, l.Addr().String())
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.get("/"); err != nil {
					failed.Add(1)
					t.Errorf("request failed: %v", err)
					return
				}
				ok.Add(1)
			}
		}()
	}
	for gen := 1; gen <= 10; gen++ {
		time.Sleep(20 * time.Millisecond)
		cur.stop(t)
		cur = start(t, fmt.Sprintf("gen%d", gen), l, st, st.sockets(t))
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	cur.stop(t)
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d requests answered, %d failed", ok.Load(), failed.Load())
	}
	t.Logf("%d requests over 10 restarts, 0 failed", ok.Load())
}

// TestFullStoreParksNoMore: with room for 2 in the store, Handover parks 2
// of 4 idle connections and leaves the other 2 to the server, which
// closes them at a request boundary; it never sends the store more than it
// takes (systemd would close those, and lose them).
func TestFullStoreParksNoMore(t *testing.T) {
	l := listen(t)
	st := &store{}
	a := start(t, "a", l, st, nil)
	a.t.SetRoom(2)
	var clients []*client
	for i := 0; i < 4; i++ {
		c := dial(t, l.Addr().String())
		if got, err := c.get("/"); err != nil || got != "a" {
			t.Fatalf("first request: %q, %v", got, err)
		}
		clients = append(clients, c)
	}
	a.stop(t)
	parked, failed := a.t.Parked()
	if parked != 2 || failed != 0 || a.t.Refused() != 2 {
		t.Fatalf("parked %d, failed %d, refused %d; want 2, 0, 2", parked, failed, a.t.Refused())
	}
	socks := st.sockets(t)
	if len(socks) != 2 {
		t.Fatalf("the store got %d connections, want 2", len(socks))
	}
	b := start(t, "b", l, st, socks)
	defer b.stop(t)
	moved := 0
	for _, c := range clients {
		if got, err := c.get("/"); err == nil && got == "b" {
			moved++
		}
	}
	if moved != 2 {
		t.Errorf("%d connections served by the next instance, want the 2 parked", moved)
	}
}
