package web

import (
	"net"
	"syscall"
	"time"
)

// sendTimeoutListener sets the send timeout (--send-timeout) on every TCP
// connection it accepts.
type sendTimeoutListener struct {
	net.Listener
	timeout time.Duration
}

// Accept returns the next connection with its send timeout set.
func (l *sendTimeoutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if rc := rawConn(c); rc != nil {
		// Best effort: a socket that refuses the option (not TCP, or
		// not Linux) keeps the kernel's default.
		_ = setSendTimeout(rc, l.timeout)
	}
	return c, nil
}

// rawConn returns the socket under c (through wrappers that have an
// Unwrap method), or nil.
func rawConn(c net.Conn) syscall.RawConn {
	for c != nil {
		if sc, ok := c.(syscall.Conn); ok {
			rc, err := sc.SyscallConn()
			if err != nil {
				return nil
			}
			return rc
		}
		u, ok := c.(interface{ Unwrap() net.Conn })
		if !ok {
			return nil
		}
		c = u.Unwrap()
	}
	return nil
}
