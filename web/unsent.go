package web

import "net"

// unsentLowat is the TCP_NOTSENT_LOWAT gotwistd sets on every TCP
// connection it serves: the kernel takes more of a response only while
// less than this much of what it took is still unsent. Without it, a
// socket takes writes until its send buffer is full, and Linux grows that
// buffer to 4 MB for a client that reads more slowly than gotwistd writes
// (any client on loopback, most on a LAN): megabytes per connection wait
// in the kernel, long since out of the CPU's cache when they are sent,
// and the client's receive window opens and shuts around them. Data in
// flight is not bounded by it, only what waits behind it, so a long fat
// network keeps its full window. 64 KiB is one of the kernel's segments
// on loopback and four TLS records. Measured on this repository's 2-core
// machine, 10 MB files, wrk -t2 -c50: HTTP 3.2 -> 4.1-5.0 GB/s, HTTPS
// 1.39 -> 1.73-1.76 GB/s (lighttpd 1.60-1.75 in the same minutes), and
// the client's kernel time per byte down 40%; 100 KB files unchanged.
const unsentLowat = 64 << 10

// unsentListener sets unsentLowat on every connection it accepts. (A
// listening socket's option would be inherited by the connections it
// accepts, but not through the MPTCP listeners Go makes by default.)
type unsentListener struct{ net.Listener }

// Accept returns the next connection with its low-water mark set.
func (l *unsentListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	setUnsentLowat(c)
	return c, nil
}

// setUnsentLowat sets unsentLowat on the socket under c. Best effort: a
// socket without the option (not TCP, not Linux) keeps the kernel's way.
func setUnsentLowat(c net.Conn) {
	if rc := rawConn(c); rc != nil {
		_ = rc.Control(func(fd uintptr) { setUnsentLowatFD(int(fd)) })
	}
}

// Unwrap returns the listener beneath.
func (l *unsentListener) Unwrap() net.Listener { return l.Listener }

// RawAccepted leaves the connection as it is: one the engine answers and
// closes at once, as most of those asking for "Connection: close" are,
// writes its response in one write(2) and needs no mark (a system call
// saved per connection).
func (l *unsentListener) RawAccepted(fd int) bool { return true }

// RawClosed has nothing to undo.
func (l *unsentListener) RawClosed() {}

// RawWrap sets the mark on a connection the engine keeps.
func (l *unsentListener) RawWrap(c net.Conn) net.Conn {
	setUnsentLowat(c)
	return c
}
