package h1

import "net"

// AcceptHook is implemented by listener wrappers (connection limits,
// counters, socket options) that let the engine accept connections on the
// socket beneath them itself, with accept4(2), instead of through their
// Accept: on Linux, Serve then answers a connection whose request is
// already there, and closes it, before any net.Conn exists (see the
// package documentation, "Accepting"). A wrapper without these methods
// keeps its listener on Accept.
//
// For each connection the engine accepts that way, RawAccepted is called
// first, innermost wrapper first; then, once, either RawClosed (the
// engine closed it without ever making a net.Conn of it) or RawWrap (it
// became one, which the wrapper wraps as its Accept would have, and whose
// Close is then the wrapper's business, as for any connection).
type AcceptHook interface {
	// Unwrap returns the listener beneath.
	Unwrap() net.Listener
	// RawAccepted is told of a connection the engine accepted on the
	// socket beneath, fd (the engine's: not to be kept or closed), before
	// a byte is read from it. False refuses it: the engine closes it, and
	// calls neither RawClosed nor RawWrap.
	RawAccepted(fd int) bool
	// RawClosed is told that a connection RawAccepted took was closed.
	RawClosed()
	// RawWrap wraps c, a connection RawAccepted took, as Accept would have
	// returned it.
	RawWrap(c net.Conn) net.Conn
}
