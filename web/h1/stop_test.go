package h1

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// sharedListener listens on loopback and returns the socket, as systemd
// holds a socket unit's, and a listener on a duplicate of it, as a
// socket-activated service gets.
func sharedListener(t *testing.T) (held, ours net.Listener) {
	t.Helper()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	f, err := held.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ours, err = net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	return held, ours
}

// TestShutdownAnswersAccepted: a connection the server accepted before
// Shutdown, whose request arrives only after Shutdown began, is answered
// (with Connection: close); a connection made once the server stopped
// accepting stays queued in the listening socket that another process
// holds, and the next server on that socket answers it.
func TestShutdownAnswersAccepted(t *testing.T) {
	for _, tt := range []struct {
		name   string
		noLoop bool
	}{{"event loops", false}, {"goroutines only", true}} {
		t.Run(tt.name, func(t *testing.T) {
			held, ours := sharedListener(t)
			f := &fastFiles{files: map[string]string{"/a": "fast:a"}}
			accepted := make(chan struct{}, 1)
			s := &Server{Handler: f, Fast: f, ErrorLog: quietLog(), noEventLoop: tt.noLoop, graceNew: time.Minute, graceIdle: time.Minute}
			s.ConnState = func(c net.Conn, st http.ConnState) {
				if st == http.StateNew {
					accepted <- struct{}{}
				}
			}
			served := make(chan error, 1)
			go func() { served <- s.Serve(ours) }()
			addr := held.Addr().String()

			early := dial(t, addr)
			<-accepted
			done := make(chan error, 1)
			go func() { done <- s.Shutdown(context.Background()) }()
			if err := <-served; err != ErrServerClosed {
				t.Fatalf("Serve: %v", err)
			}
			// The server no longer accepts: this one waits in the queue.
			queued := dial(t, addr)
			queued.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")

			early.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
			_, body, h := early.read("GET")
			if body != "fast:a" || h.Get("Connection") != "close" {
				t.Errorf("accepted before Shutdown, request after: %q, Connection %q; want fast:a and close", body, h.Get("Connection"))
			}
			if !early.closed() {
				t.Error("the connection stayed open after its answer")
			}
			if err := <-done; err != nil {
				t.Errorf("Shutdown: %v", err)
			}

			next := &Server{Handler: f, Fast: f, ErrorLog: quietLog()}
			go next.Serve(held)
			t.Cleanup(func() { next.Close() })
			if _, body, _ := queued.read("GET"); body != "fast:a" {
				t.Errorf("queued during the stop, answered by the next server: %q, want fast:a", body)
			}
		})
	}
}

// TestShutdownKeepAliveBoundary: without a store to hand them to, a
// kept-alive connection is closed at a request boundary: one whose client
// sends its next request while Shutdown runs (within the grace) gets it
// answered, saying Connection: close, wherever it waited (an event loop
// after a cached file, its goroutine after the Handler); an idle one is
// closed once the grace is over.
func TestShutdownKeepAliveBoundary(t *testing.T) {
	f := &fastFiles{files: map[string]string{"/a": "fast:a"}}
	s := &Server{Handler: f, Fast: f, ErrorLog: quietLog(), graceIdle: time.Minute}
	addr, served := serveLoopbackResult(t, s)
	inLoop := dial(t, addr)
	if b := inLoop.get("/a"); b != "fast:a" {
		t.Fatalf("first answer %q", b)
	}
	onGoroutine := dial(t, addr)
	if b := onGoroutine.get("/x"); b != "slow:/x" {
		t.Fatalf("first answer %q", b)
	}

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
	for _, c := range []struct {
		name, path, want string
		c                *client
	}{{"event loop", "/a", "fast:a", inLoop}, {"goroutine", "/y", "slow:/y", onGoroutine}} {
		c.c.send("GET " + c.path + " HTTP/1.1\r\nHost: h\r\n\r\n")
		_, body, h := c.c.read("GET")
		if body != c.want || h.Get("Connection") != "close" {
			t.Errorf("%s: next request during Shutdown: %q, Connection %q; want %q and close", c.name, body, h.Get("Connection"), c.want)
		}
		if !c.c.closed() {
			t.Errorf("%s: open after its last answer", c.name)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestShutdownClosesIdle: a kept-alive connection that sends nothing is
// closed once the grace is over, and Shutdown returns.
func TestShutdownClosesIdle(t *testing.T) {
	f := &fastFiles{files: map[string]string{"/a": "fast:a"}}
	s := &Server{Handler: f, Fast: f, ErrorLog: quietLog(), graceIdle: 10 * time.Millisecond, graceNew: 10 * time.Millisecond}
	accepted := make(chan struct{}, 2)
	s.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted <- struct{}{}
		}
	}
	addr := startEngine(t, s)
	idle := dial(t, addr)
	idle.get("/a")
	silent := dial(t, addr)
	<-accepted
	<-accepted
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if !idle.closed() || !silent.closed() {
		t.Error("an idle or silent connection stayed open")
	}
}
