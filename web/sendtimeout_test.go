package web

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// wrapped hides a connection behind a wrapper with Unwrap, as the handover
// and limit wrappers do.
type wrapped struct{ net.Conn }

func (w wrapped) Unwrap() net.Conn { return w.Conn }

// unwrapListener returns its connections wrapped.
type unwrapListener struct{ net.Listener }

func (l unwrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wrapped{c}, nil
}

// TestSendTimeoutListener checks that accepted TCP connections get
// TCP_USER_TIMEOUT, through wrappers, and that other sockets are left
// alone. What the option does to a client that stops reading is tested on
// the real binary in test/hostile.
func TestSendTimeoutListener(t *testing.T) {
	if !sendTimeoutSupported {
		t.Skip("--send-timeout has no effect on this system")
	}
	for _, tc := range []struct {
		name string
		wrap func(net.Listener) net.Listener
	}{
		{"plain", func(l net.Listener) net.Listener { return l }},
		{"wrapped", func(l net.Listener) net.Listener { return unwrapListener{l} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer inner.Close()
			l := &sendTimeoutListener{Listener: tc.wrap(inner), timeout: 1500 * time.Millisecond}
			c, err := net.Dial("tcp", inner.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sc, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			if got := userTimeout(t, sc); got != 1500 {
				t.Errorf("TCP_USER_TIMEOUT = %d ms, want 1500", got)
			}
		})
	}
	t.Run("unix socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s")
		inner, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer inner.Close()
		l := &sendTimeoutListener{Listener: inner, timeout: time.Second}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sc, err := l.Accept()
		if err != nil {
			t.Fatalf("Accept on a UNIX socket: %v", err)
		}
		sc.Close()
	})
}
