package endpoint

import (
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// deferSecs is the listener's TCP_DEFER_ACCEPT.
func deferSecs(t *testing.T, l *Listener) int {
	t.Helper()
	rc, err := l.Stream.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var secs int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		secs, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return secs
}

// TestTCPDeferAccept: a tcp: listener has no TCP_DEFER_ACCEPT until
// DeferAccept (a port forwarder's clients may wait for the server to
// speak), then has it, and the connection accept(2) returns has its
// client's first bytes there already: a read that does not wait finds
// them.
func TestTCPDeferAccept(t *testing.T) {
	l := listen(t, "tcp:0:interface=127.0.0.1")
	if secs := deferSecs(t, l); secs != 0 {
		t.Errorf("TCP_DEFER_ACCEPT = %d after Listen, want 0", secs)
	}
	if err := l.DeferAccept(); err != nil {
		t.Fatal(err)
	}
	if secs := deferSecs(t, l); secs != deferAcceptSecs {
		t.Errorf("TCP_DEFER_ACCEPT = %d after DeferAccept, want %d", secs, deferAcceptSecs)
	}
	c, err := net.Dial("tcp", l.Stream.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	s, err := l.Stream.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src, err := s.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var rerr error
	buf := make([]byte, 64)
	if err := src.Control(func(fd uintptr) { n, rerr = unix.Read(int(fd), buf) }); err != nil {
		t.Fatal(err)
	}
	if rerr != nil || n == 0 {
		t.Errorf("read at accept: %d bytes, %v; want the request", n, rerr)
	}
}
