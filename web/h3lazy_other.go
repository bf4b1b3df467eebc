//go:build !linux

package web

import "syscall"

// beforeQUIC does nothing here: quic-go sets its socket options when it
// starts (see waitDatagram).
func beforeQUIC(syscall.RawConn) {}
