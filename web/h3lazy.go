package web

import (
	"net"
	"syscall"
)

// A quic listener's socket is bound at Listen, but quic-go's HTTP/3 server
// is set up on it only when the first datagram is there: until then an
// idle server runs none of quic-go (its transport, packet handler and
// their goroutines, ~100 KB of heap and ~0.3 MB of its code and tables
// paged in), and a start with a quic listener does not wait for it. The
// datagram stays queued in the socket until quic-go reads it.
//
// Of the per-datagram information quic-go asks the kernel for, the
// packet info (the local address a datagram came to, which quic-go
// answers from) is recorded only for datagrams queued after the socket
// option is set: beforeQUIC sets it, and the ECN ones, at once, so that
// the first client's datagrams carry what quic-go would have had; quic-go
// sets them again when it starts.

// waitDatagram returns once pc has a datagram to read, or it is closed
// (Shutdown), or at once for a PacketConn that is no socket.
func waitDatagram(pc net.PacketConn) {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	beforeQUIC(rc)
	first := true
	// RawConn.Read calls the function, and while it returns false waits
	// until the socket is readable and calls it again; nothing is read.
	_ = rc.Read(func(uintptr) bool {
		if first {
			first = false
			return false
		}
		return true
	})
}
