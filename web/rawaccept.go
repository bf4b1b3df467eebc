package web

import (
	"net"
	"time"

	"github.com/gotwistd/gotwistd/web/h1"
)

// The listener wrappers serveOne puts around a plain listener are
// h1.AcceptHooks: gotwistd's HTTP/1.1 engine may accept on the socket
// beneath them itself (accept4(2), and a connection answered and closed
// before it is a net.Conn), and tells each wrapper what its Accept would
// have seen. (TLS, PROXY-protocol and handover listeners are not hooks:
// the engine accepts through them.)
var (
	_ h1.AcceptHook = (*acceptRetryListener)(nil)
	_ h1.AcceptHook = (*sendTimeoutListener)(nil)
	_ h1.AcceptHook = (*unsentListener)(nil)
	_ h1.AcceptHook = (*limitListener)(nil)
	_ h1.AcceptHook = (*countListener)(nil)
)

// RawAccepted: an accept that succeeded needs no retry, and ends an
// episode of failures, as in Accept. (The engine leaves the accept errors
// to Accept, which waits them out.)
func (l *acceptRetryListener) RawAccepted(fd int) bool {
	l.recovered()
	return true
}

// RawClosed has nothing to undo.
func (l *acceptRetryListener) RawClosed() {}

// RawWrap returns c: Accept does not wrap.
func (l *acceptRetryListener) RawWrap(c net.Conn) net.Conn { return c }

// Unwrap returns the listener beneath.
func (l *sendTimeoutListener) Unwrap() net.Listener { return l.Listener }

// RawAccepted leaves the send timeout to RawWrap. A connection the engine
// answers and closes at accept has written its whole response at once:
// nothing of it waits in the process for a client that stopped reading,
// and the kernel's own limits for a closed socket apply, as for every
// peer's. The system call was about 5% of the server's CPU for each such
// connection (20.4 against 21.7 µs a connection in `wrk -H 'Connection:
// close'`, five alternating runs).
func (l *sendTimeoutListener) RawAccepted(fd int) bool { return true }

// RawClosed has nothing to undo.
func (l *sendTimeoutListener) RawClosed() {}

// RawWrap sets the send timeout on c's socket, as Accept does, before
// the engine writes to it again: c stays open past its first response,
// or that response did not fit in the socket's buffer.
func (l *sendTimeoutListener) RawWrap(c net.Conn) net.Conn {
	if rc := rawConn(c); rc != nil {
		_ = setSendTimeout(rc, l.timeout) // best effort, as in Accept
	}
	return c
}

// Unwrap returns the listener beneath.
func (l *limitListener) Unwrap() net.Listener { return l.Listener }

// RawAccepted takes a slot, or refuses the connection as Accept does.
func (l *limitListener) RawAccepted(fd int) bool {
	if l.limit.open.Add(1) <= l.limit.max {
		return true
	}
	l.limit.open.Add(-1)
	l.limit.refusedOne()
	return false
}

// RawClosed gives the slot back.
func (l *limitListener) RawClosed() { l.limit.open.Add(-1) }

// RawWrap wraps c as Accept does, holding the slot RawAccepted took.
func (l *limitListener) RawWrap(c net.Conn) net.Conn { return &limitConn{Conn: c, limit: l.limit} }

// refusedOne counts a connection refused over the limit, and logs it
// (at most every refuseLogEvery).
func (cl *connLimit) refusedOne() {
	n := cl.refused.Add(1)
	now := time.Now().UnixNano()
	last := cl.lastLog.Load()
	if (last == 0 || now-last >= int64(refuseLogEvery)) && cl.lastLog.CompareAndSwap(last, now) && cl.onLimit != nil {
		cl.onLimit(n)
	}
}

// Unwrap returns the listener beneath.
func (l *countListener) Unwrap() net.Listener { return l.Listener }

// RawAccepted counts the connection, as Accept does.
func (l *countListener) RawAccepted(fd int) bool {
	if l.m != nil {
		l.m.accepted.Add(1)
		l.m.open.Add(1)
	}
	if l.idle != nil {
		l.idle.begin()
	}
	return true
}

// RawClosed uncounts it, as its Close would have.
func (l *countListener) RawClosed() {
	if l.m != nil {
		l.m.open.Add(-1)
	}
	if l.idle != nil {
		l.idle.end()
	}
}

// RawWrap wraps c as Accept does.
func (l *countListener) RawWrap(c net.Conn) net.Conn { return &countConn{Conn: c, l: l} }
