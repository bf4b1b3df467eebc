package tlsbatch

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// recorder is a connection that remembers the size of each write.
type recorder struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.writes = append(r.writes, len(p))
	r.mu.Unlock()
	return r.Conn.Write(p)
}

func (r *recorder) CloseWrite() error { return r.Conn.(*net.TCPConn).CloseWrite() }

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.writes...)
}

// pair returns a Conn over a recorder over one end of a TCP connection on
// loopback, and the other end.
func pair(t *testing.T) (*Conn, *recorder, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	peer.SetDeadline(time.Now().Add(10 * time.Second)) // a failure, not a hang
	raw, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	rec := &recorder{Conn: raw}
	c, err := Listener(oneConn{rec}).Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*Conn), rec, peer
}

// oneConn is a listener that accepts one connection it was given.
type oneConn struct{ c net.Conn }

func (l oneConn) Accept() (net.Conn, error) { return l.c, nil }
func (l oneConn) Close() error              { return nil }
func (l oneConn) Addr() net.Addr            { return l.c.LocalAddr() }

func TestWrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		do    func(c *Conn) error
		want  string // what the peer reads
		sizes []int  // the writes beneath
	}{
		{"passed through when not held", func(c *Conn) error {
			c.Write([]byte("ab"))
			_, err := c.Write([]byte("cde"))
			return err
		}, "abcde", []int{2, 3}},
		{"held writes go out in one", func(c *Conn) error {
			c.Hold()
			for _, s := range []string{"one", "two", "three"} {
				if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
					return errors.New("a held write did not report success")
				}
			}
			if err := c.Release(); err != nil {
				return err
			}
			_, err := c.Write([]byte("!"))
			return err
		}, "onetwothree!", []int{11, 1}},
		{"release with nothing held writes nothing", func(c *Conn) error {
			c.Hold()
			return c.Release()
		}, "", nil},
		{"release without hold", func(c *Conn) error { return c.Release() }, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec, peer := pair(t)
			if err := tc.do(c); err != nil {
				t.Fatal(err)
			}
			c.CloseWrite()
			got, err := io.ReadAll(peer)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("peer read %q, want %q", got, tc.want)
			}
			if s := rec.sizes(); len(s) != len(tc.sizes) || (len(s) > 0 && !equal(s, tc.sizes)) {
				t.Errorf("writes beneath %v, want %v", s, tc.sizes)
			}
		})
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestNoWritePassesAHeldOne: a write from another goroutine while writes
// are held (crypto/tls sending an alert as the connection closes) goes
// out after them, never before.
func TestNoWritePassesAHeldOne(t *testing.T) {
	c, _, peer := pair(t)
	c.Hold()
	c.Write(bytes.Repeat([]byte("a"), 100_000))
	done := make(chan struct{})
	go func() {
		c.Write([]byte("z"))
		close(done)
	}()
	// Whether the goroutine's write came before Release or waits for
	// it, "z" ends the stream.
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	<-done
	c.CloseWrite()
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100_001 || got[len(got)-1] != 'z' || bytes.Count(got, []byte("a")) != 100_000 {
		t.Fatalf("peer read %d bytes ending %q", len(got), got[max(0, len(got)-3):])
	}
}

// TestReleaseReportsTheError: held writes that cannot go out fail at
// Release.
func TestReleaseReportsTheError(t *testing.T) {
	c, _, _ := pair(t)
	c.Hold()
	c.Write([]byte("lost"))
	c.Conn.Close()
	if err := c.Release(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Release: %v, want %v", err, net.ErrClosed)
	}
	// Writes pass through (and fail) again.
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Release: %v, want %v", err, net.ErrClosed)
	}
}
