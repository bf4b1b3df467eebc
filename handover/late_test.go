package handover

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// chanListener hands out the connections sent on c, then fails as a
// closed listener does.
type chanListener struct {
	net.Listener // for Addr
	c            chan net.Conn
}

func (l *chanListener) Accept() (net.Conn, error) {
	if c, ok := <-l.c; ok {
		return c, nil
	}
	return nil, net.ErrClosed
}

// accepted returns the server's end of a new connection to l, whose client
// has sent a request already.
func accepted(t *testing.T, l *net.TCPListener) (*client, net.Conn) {
	t.Helper()
	c := dial(t, l.Addr().String())
	c.c.SetDeadline(time.Now().Add(10 * time.Second)) // a lost request fails, not hangs
	fmt.Fprint(c.c, "GET /queued HTTP/1.1\r\nHost: x\r\n\r\n")
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// TestAcceptedDuringHandoverIsParked: a connection the listener returns
// once the handover has started (it was accepted just before the listener
// closed) is parked unread, never handed to the server, which is shutting
// down and could close it with its request unread.
func TestAcceptedDuringHandoverIsParked(t *testing.T) {
	l := listen(t)
	c, s := accepted(t, l)
	st := &store{}
	tr := New(DefaultName)
	tr.Store = st.put
	inner := &chanListener{Listener: l, c: make(chan net.Conn, 1)}
	tl := tr.Listener(inner)
	if left, err := tr.Handover(context.Background()); left != 0 || err != nil {
		t.Fatalf("Handover = %d, %v", left, err)
	}
	inner.c <- s
	close(inner.c)
	if got, err := tl.Accept(); err == nil {
		t.Fatalf("Accept returned %v to the server during the handover, want it parked", got.RemoteAddr())
	}
	if parked, failed := tr.Parked(); parked != 1 || failed != 0 {
		t.Fatalf("parked %d, failed %d; want 1, 0", parked, failed)
	}
	next := start(t, "next", l, st, st.sockets(t))
	defer next.stop(t)
	if got, err := readAnswer(c); err != nil || got != "next" {
		t.Errorf("the queued request: %q, %v; want it answered by the next instance", got, err)
	}
}

// TestAdoptedNotServedAreParkedBack: connections a previous instance
// parked, which this one adopted but had not started serving when its own
// handover began, go back to the store rather than being closed.
func TestAdoptedNotServedAreParkedBack(t *testing.T) {
	l := listen(t)
	st := &store{}
	var clients []*client
	for range 3 {
		c, s := accepted(t, l)
		clients = append(clients, c)
		f, err := s.(*net.TCPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		st.put(DefaultName, f)
		f.Close()
		s.Close()
	}
	tr := New(DefaultName)
	tr.Store = st.put
	tr.Listener(Adopt(noClose{l}, st.sockets(t))) // nobody accepts yet
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if left, err := tr.Handover(ctx); left != 0 || err != nil {
		t.Fatalf("Handover = %d, %v", left, err)
	}
	if parked, failed := tr.Parked(); parked != 3 || failed != 0 {
		t.Fatalf("parked %d, failed %d; want 3, 0", parked, failed)
	}
	next := start(t, "next", l, st, st.sockets(t))
	defer next.stop(t)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := readAnswer(c); err != nil || got != "next" {
				t.Errorf("client %d: %q, %v; want its request answered by the next instance", i, got, err)
			}
		}()
	}
	wg.Wait()
}

// TestHandoverWaitsForAccept: a call in the listener's Accept may hold a
// connection the kernel accepted just before the listener closed.
// Handover must wait for it and park that connection; returning first
// would let the process exit while the connection is on its way to the
// server, and lose its request.
func TestHandoverWaitsForAccept(t *testing.T) {
	l := listen(t)
	c, s := accepted(t, l)
	st := &store{}
	tr := New(DefaultName)
	tr.Store = st.put
	inner := &chanListener{Listener: l, c: make(chan net.Conn)}
	tl := tr.Listener(inner)
	acceptErr := make(chan error, 1)
	go func() {
		_, err := tl.Accept() // blocks: the server's Serve loop
		acceptErr <- err
	}()
	for tr.accepting.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	type result struct {
		left          int
		err           error
		parked, faile int64
	}
	handed := make(chan result, 1)
	go func() {
		left, err := tr.Handover(context.Background())
		p, f := tr.Parked()
		handed <- result{left, err, p, f}
	}()
	// Give a Handover that does not wait the time to return.
	select {
	case <-handed:
		t.Fatal("Handover returned while a call was in Accept")
	case <-time.After(100 * time.Millisecond):
	}
	inner.c <- s // the accept completes after the close
	close(inner.c)
	r := <-handed
	if r.left != 0 || r.err != nil || r.parked != 1 || r.faile != 0 {
		t.Fatalf("Handover = %d, %v with %d parked, %d failed; want 0, nil with 1 parked", r.left, r.err, r.parked, r.faile)
	}
	if err := <-acceptErr; err == nil {
		t.Error("Accept returned a connection to the server during the handover")
	}
	next := start(t, "next", l, st, st.sockets(t))
	defer next.stop(t)
	if got, err := readAnswer(c); err != nil || got != "next" {
		t.Errorf("the request: %q, %v; want it answered by the next instance", got, err)
	}
}
