package web

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// userTimeout returns c's TCP_USER_TIMEOUT in milliseconds.
func userTimeout(t *testing.T, c net.Conn) int {
	t.Helper()
	rc := rawConn(c)
	if rc == nil {
		t.Fatalf("no socket under %T", c)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// TestSendTimeoutRawHooks: on a connection the HTTP/1.1 engine accepts
// itself, the timeout is set when the engine keeps it (RawWrap), not at
// accept, where a connection answered and closed at once has no use for
// it.
func TestSendTimeoutRawHooks(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	l := &sendTimeoutListener{Listener: inner, timeout: 1500 * time.Millisecond}
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := inner.Accept() // beneath the wrapper, as the engine's accept4
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := rawConn(sc).Control(func(fd uintptr) {
		if !l.RawAccepted(int(fd)) {
			t.Error("RawAccepted refused the connection")
		}
	}); err != nil {
		t.Fatal(err)
	}
	if got := userTimeout(t, sc); got != 0 {
		t.Errorf("after RawAccepted: TCP_USER_TIMEOUT = %d ms, want the kernel's 0", got)
	}
	if got := userTimeout(t, l.RawWrap(wrapped{sc})); got != 1500 {
		t.Errorf("after RawWrap: TCP_USER_TIMEOUT = %d ms, want 1500", got)
	}
}
