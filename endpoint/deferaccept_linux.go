package endpoint

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// deferAcceptSecs is the TCP_DEFER_ACCEPT of the TCP listeners gotwistd
// binds itself (as h2o sets on its own): the kernel hands a connection to
// accept(2) once its first bytes have arrived, so the server reads its
// request at once instead of waking for the connection and again for the
// request. A client that connects and stays silent is accepted anyway
// once a retransmitted SYN-ACK is answered, about this many seconds
// later (a second or three), and then gets the read-header timeout as
// before. Sockets systemd passes keep what their unit says
// (DeferAcceptSec=): gotwistd does not change an inherited socket.
const deferAcceptSecs = 1

// deferAccept is a ListenConfig.Control that sets TCP_DEFER_ACCEPT on a
// TCP socket before it listens.
func deferAccept(network, address string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, deferAcceptSecs)
	}); err != nil {
		return err
	}
	return serr
}
