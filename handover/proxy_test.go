package handover

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/systemd"
)

// namedStore is a file descriptor store that keeps each file's name.
type namedStore struct {
	mu    sync.Mutex
	socks []systemd.Socket
	put   chan struct{}
}

func (s *namedStore) store(name string, files ...*os.File) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range files {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			return false, err
		}
		s.socks = append(s.socks, systemd.Socket{FD: fd, Name: name, File: os.NewFile(uintptr(fd), name), Family: syscall.AF_INET, Type: syscall.SOCK_STREAM})
	}
	if s.put != nil {
		s.put <- struct{}{}
	}
	return true, nil
}

func (s *namedStore) take() []systemd.Socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	socks := s.socks
	s.socks = nil
	return socks
}

func TestNameFor(t *testing.T) {
	for _, tc := range []struct{ addr, name string }{
		{"203.0.113.7:51234", "gotwistd-conn@203.0.113.7_51234"},
		{"[2001:db8::7]:443", "gotwistd-conn@[2001_db8__7]_443"},
		{"[::ffff:192.0.2.1]:80", "gotwistd-conn@192.0.2.1_80"},
	} {
		a := netip.MustParseAddrPort(tc.addr)
		name := NameFor(DefaultName, a)
		if name != tc.name {
			t.Errorf("NameFor(%s) = %q, want %q", tc.addr, name, tc.name)
		}
		back, proxied, ok := AddrOf(DefaultName, name)
		if !ok || proxied || back != netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) {
			t.Errorf("AddrOf(%q) = %v, %v, %v", name, back, proxied, ok)
		}
	}
	if NameFor(DefaultName, netip.AddrPort{}) != DefaultName {
		t.Error("no address: not the plain name")
	}
	for _, tc := range []struct {
		name          string
		proxied, ok   bool
		wantAddrValid bool
	}{
		{DefaultName, false, true, false},
		{DefaultName + ProxiedSuffix, true, true, false},
		{DefaultName + "@nonsense", false, false, false},
		{"other", false, false, false},
		{"gotwistd-connection", false, false, false},
	} {
		a, proxied, ok := AddrOf(DefaultName, tc.name)
		if proxied != tc.proxied || ok != tc.ok || a.IsValid() != tc.wantAddrValid {
			t.Errorf("AddrOf(%q) = %v, %v, %v", tc.name, a, proxied, ok)
		}
	}
}

// TestProxiedConnectionKeepsItsClient: a keep-alive connection from a load
// balancer, whose PROXY header named the client 203.0.113.7, is parked on
// stop under a name that holds that address; the next instance adopts it
// and serves the client's next request on it with the same RemoteAddr.
func TestProxiedConnectionKeepsItsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	st := &namedStore{}
	gen := func(name string, inherited []systemd.Socket) (*Tracker, *http.Server, chan struct{}) {
		tr := New(DefaultName)
		tr.Store = st.store
		srv := &http.Server{ConnState: tr.ConnState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", name, r.RemoteAddr)
		})}
		ln.(*net.TCPListener).SetDeadline(time.Time{})
		pl := endpoint.NewProxyListener(noClose{ln})
		l := tr.Listener(AdoptProxied(pl, inherited, func(c net.Conn) net.Conn { return pl.Wrap(c) }))
		done := make(chan struct{})
		go func() { defer close(done); srv.Serve(l) }()
		return tr, srv, done
	}
	stop := func(tr *Tracker, srv *http.Server, done chan struct{}) {
		ln.(*net.TCPListener).SetDeadline(past)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if left, err := tr.Handover(ctx); err != nil {
			t.Fatalf("handover left %d: %v", left, err)
		}
		srv.Shutdown(ctx)
		<-done
	}

	tr1, srv1, done1 := gen("one", nil)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() string {
		t.Helper()
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	io.WriteString(c, "PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n")
	if got := get(); got != "one 203.0.113.7:51234" {
		t.Fatalf("first instance: %q", got)
	}
	stop(tr1, srv1, done1)
	socks := st.take()
	if len(socks) != 1 || socks[0].Name != "gotwistd-conn@203.0.113.7_51234" {
		t.Fatalf("parked %v", socks)
	}
	tr2, srv2, done2 := gen("two", socks)
	if got := get(); got != "two 203.0.113.7:51234" {
		t.Fatalf("after the handover: %q, want the same client served by the next instance", got)
	}
	stop(tr2, srv2, done2)
	if socks := st.take(); len(socks) != 1 || socks[0].Name != "gotwistd-conn@203.0.113.7_51234" {
		t.Fatalf("parked again as %v", socks)
	}
}

// TestProxiedConnectionParkedUnread: a connection accepted once the
// handover has started is parked before its PROXY header is read, as
// "gotwistd-conn@proxy"; the next instance reads the header, and every
// byte after it.
func TestProxiedConnectionParkedUnread(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := &namedStore{put: make(chan struct{}, 1)}
	tr := New(DefaultName)
	tr.Store = st.store
	tr.leaving.Store(true) // as Handover does first
	l := tr.Listener(endpoint.NewProxyListener(ln))
	accepted := make(chan error, 1)
	go func() { _, err := l.Accept(); accepted <- err }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\nGET /next HTTP/1.1\r\n")
	<-st.put
	ln.Close()
	<-accepted
	socks := st.take()
	if len(socks) != 1 || socks[0].Name != DefaultName+ProxiedSuffix {
		t.Fatalf("parked %v", socks)
	}
	pl := endpoint.NewProxyListener(nil)
	a := AdoptProxied(idle{}, socks, func(c net.Conn) net.Conn { return pl.Wrap(c) })
	got, err := a.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if r := got.RemoteAddr().String(); r != "[2001:db8::7]:40000" {
		t.Errorf("RemoteAddr %s, want the header's", r)
	}
	line, err := bufio.NewReader(got).ReadString('\n')
	if err != nil || line != "GET /next HTTP/1.1\r\n" {
		t.Errorf("after the header: %q, %v", line, err)
	}
}

// idle is a listener that never yields a connection of its own.
type idle struct{ net.Listener }

func (idle) Close() error { return nil }
