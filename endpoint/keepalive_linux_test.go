package endpoint

import (
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTCPNoKeepAlive: connections accepted on a tcp: endpoint get no TCP
// keep-alive probes, as Twisted's TCP server endpoint sets none (and
// Go's default would cost four setsockopt calls per connection).
func TestTCPNoKeepAlive(t *testing.T) {
	l := listen(t, "tcp:0:interface=127.0.0.1")
	c, err := net.Dial("tcp", l.Stream.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Stream.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rc, err := s.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		on, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if on != 0 {
		t.Errorf("SO_KEEPALIVE = %d on an accepted connection, want 0", on)
	}
}
