package endpoint

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// deferAcceptSecs is the TCP_DEFER_ACCEPT DeferAccept sets (h2o sets the
// same on its listeners): the kernel hands a connection to
// accept(2) once its first bytes have arrived, so the server reads its
// request at once instead of waking for the connection and again for the
// request. A client that connects and stays silent is accepted anyway
// once a retransmitted SYN-ACK is answered, about this many seconds
// later (a second or three), and then gets the read-header timeout as
// before. Sockets systemd passes keep what their unit says
// (DeferAcceptSec=): gotwistd does not change an inherited socket.
const deferAcceptSecs = 1

// DeferAccept sets TCP_DEFER_ACCEPT on the listener's socket if Listen
// bound it itself (tcp, tcp6, and those under ssl, haproxy and le), for a
// protocol whose client speaks first (HTTP, TLS): accept(2) then returns
// connections whose first bytes are there. Not for a protocol whose
// server speaks first (a port forwarder's SSH or SMTP), whose clients
// would wait until the kernel gives up deferring. It does nothing on
// other listeners.
func (l *Listener) DeferAccept() error {
	sc, ok := l.bound.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, deferAcceptSecs)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("set TCP_DEFER_ACCEPT: %w", serr)
	}
	return nil
}
