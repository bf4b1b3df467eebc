package web

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// beforeQUIC asks for the packet info and ECN bits of datagrams queued
// from now on, as quic-go does when it starts (see waitDatagram). The
// options of the other address family fail; so may all of them on an
// unusual socket, which quic-go then handles as it would have.
func beforeQUIC(rc syscall.RawConn) {
	_ = rc.Control(func(fd uintptr) {
		for _, o := range [...][2]int{
			{unix.IPPROTO_IP, unix.IP_RECVTOS},
			{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS},
			{unix.IPPROTO_IP, unix.IP_PKTINFO},
			{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO},
		} {
			_ = unix.SetsockoptInt(int(fd), o[0], o[1], 1)
		}
	})
}
