package endpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ProxyListener accepts connections that start with a PROXY protocol
// header (version 1 or 2), as a load balancer (HAProxy's send-proxy and
// send-proxy-v2, nginx's proxy_protocol, AWS and GCP network load
// balancers) sends them. Accept does not wait for the header: each
// connection reads it on its first Read, RemoteAddr or Handshake, in the
// goroutine that serves it, and reads exactly the header, nothing past it,
// so the bytes after it are the socket's again (a server may read the
// socket directly after Handshake).
type ProxyListener struct {
	net.Listener
	// HeaderTimeout bounds the wait for a connection's header, from its
	// first Read, RemoteAddr or Handshake. 0: DefaultProxyHeaderTimeout.
	HeaderTimeout time.Duration
	// OnError, if set, is called once for each connection whose header
	// is missing, malformed, too long or late, with the error (a
	// *ProxyError), from the connection's goroutine. Such a connection
	// is then unusable: its reads fail. A connection closed before
	// sending any byte (a balancer's TCP health check) is not reported.
	OnError func(c net.Conn, err error)
}

// NewProxyListener returns a ProxyListener accepting on l.
func NewProxyListener(l net.Listener) *ProxyListener {
	return &ProxyListener{Listener: l}
}

// Wrap makes c, a connection whose PROXY protocol header is still to be
// read (one a previous instance parked unread), a connection of l.
func (l *ProxyListener) Wrap(c net.Conn) *ProxyConn {
	return &ProxyConn{Conn: c, l: l}
}

// Accept returns the next connection as a *ProxyConn, at once.
func (l *ProxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &ProxyConn{Conn: c, l: l}, nil
}

// ProxyConn is a connection of a ProxyListener. Its RemoteAddr and
// LocalAddr are the header's source and destination (the connection's
// own for LOCAL and UNKNOWN headers); reads start after the header. Its
// Read, Write, ReadFrom (sendfile) and CloseWrite go to the connection
// underneath (Unwrap), unchanged once the header is read.
type ProxyConn struct {
	net.Conn
	l *ProxyListener

	mu  sync.Mutex // held while reading the header
	hdr ProxyHeader
	err error
	ok  bool // hdr or err is set

	dmu      sync.Mutex
	userRD   time.Time // the read deadline the server set
	inHead   bool      // the header is being read
	headDead time.Time // its deadline
}

// Handshake reads the header, once: later calls return the first result.
// Read and RemoteAddr call it; a server that reads the socket under the
// connection directly must call it first.
func (c *ProxyConn) Handshake() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok {
		return c.err
	}
	timeout := c.l.HeaderTimeout
	if timeout <= 0 {
		timeout = DefaultProxyHeaderTimeout
	}
	c.dmu.Lock()
	c.inHead = true
	c.headDead = time.Now().Add(timeout)
	d := c.headDead
	if !c.userRD.IsZero() && c.userRD.Before(d) {
		d = c.userRD
	}
	c.dmu.Unlock()
	c.Conn.SetReadDeadline(d)
	h, err, silent := c.readHeader()
	c.dmu.Lock()
	c.inHead = false
	c.Conn.SetReadDeadline(c.userRD)
	c.dmu.Unlock()
	c.hdr, c.err, c.ok = h, err, true
	if err != nil && !silent && c.l.OnError != nil {
		c.l.OnError(c, err)
	}
	return err
}

// Header returns the connection's header, reading it first if need be.
func (c *ProxyConn) Header() (ProxyHeader, error) {
	err := c.Handshake()
	return c.hdr, err
}

// readHeader reads exactly the header. silent reports a connection that
// closed before sending anything.
func (c *ProxyConn) readHeader() (h ProxyHeader, err error, silent bool) {
	bp := headerBufs.Get().(*[]byte)
	defer headerBufs.Put(bp)
	buf := *bp
	if sc, ok := c.Conn.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return c.peekHeader(rc, buf)
		}
	}
	return c.exactHeader(buf)
}

// headerBufs are the buffers headers are read into; parsed headers keep
// no reference to them.
var headerBufs = sync.Pool{New: func() any { b := make([]byte, MaxProxyV2Header); return &b }}

// peekHeader looks at the socket's input with MSG_PEEK until it holds a
// whole header, then reads just that.
func (c *ProxyConn) peekHeader(rc syscall.RawConn, buf []byte) (ProxyHeader, error, bool) {
	have := 0
	for {
		var n int
		var rerr error
		hup := false
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK)
			switch {
			case rerr == unix.EAGAIN || rerr == unix.EINTR:
				return false
			case rerr == nil && n > 0 && n == have:
				// Nothing new: wait for more, unless the client has
				// closed its side (a peek still shows the bytes before
				// its FIN, never the end of the stream).
				hup = peerClosed(int(fd))
				return hup
			}
			return true
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return ProxyHeader{}, readErr(err), false
		}
		if n == 0 || hup {
			if have == 0 {
				return ProxyHeader{}, &ProxyError{Cause: ProxyClosed, Detail: "before any byte", Err: io.EOF}, true
			}
			return ProxyHeader{}, &ProxyError{Cause: ProxyClosed, Err: io.ErrUnexpectedEOF}, false
		}
		have = n
		h, used, perr := ParseProxyHeader(buf[:n])
		if perr != nil {
			return h, perr, false
		}
		if used > 0 {
			if _, err := io.ReadFull(c.Conn, buf[:used]); err != nil {
				return ProxyHeader{}, readErr(err), false
			}
			return h, nil, false
		}
		if n == len(buf) {
			// Cannot happen: a header this long is refused above.
			return h, &ProxyError{Cause: ProxyTooLong}, false
		}
	}
}

// exactHeader reads the header from a connection that cannot be peeked
// at, never reading past its end: a byte at a time for version 1, the
// announced length for version 2.
func (c *ProxyConn) exactHeader(buf []byte) (ProxyHeader, error, bool) {
	have, want := 0, 1
	for {
		if _, err := io.ReadFull(c.Conn, buf[have:want]); err != nil {
			if have == 0 && errors.Is(err, io.EOF) {
				return ProxyHeader{}, &ProxyError{Cause: ProxyClosed, Detail: "before any byte", Err: err}, true
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return ProxyHeader{}, &ProxyError{Cause: ProxyClosed, Err: io.ErrUnexpectedEOF}, false
			}
			return ProxyHeader{}, readErr(err), false
		}
		have = want
		h, used, perr := ParseProxyHeader(buf[:have])
		if perr != nil || used > 0 {
			return h, perr, false
		}
		want = have + 1
		if have >= v2Fixed && buf[0] == '\r' {
			want = v2Fixed + int(binary.BigEndian.Uint16(buf[14:16]))
		}
	}
}

// peerClosed reports whether the peer of a socket has shut its sending
// side down.
func peerClosed(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	n, err := unix.Poll(p, 0)
	return err == nil && n > 0 && p[0].Revents&(unix.POLLRDHUP|unix.POLLHUP) != 0
}

func readErr(err error) *ProxyError {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return &ProxyError{Cause: ProxyTimeout, Err: err}
	}
	if errors.Is(err, io.EOF) {
		return &ProxyError{Cause: ProxyClosed, Err: io.ErrUnexpectedEOF}
	}
	return &ProxyError{Cause: ProxyRead, Err: err}
}

// Read reads the header first if need be. When the header is bad it
// returns a *net.OpError (Op "read") wrapping the *ProxyError, so
// net/http closes the connection without answering.
func (c *ProxyConn) Read(p []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, &net.OpError{Op: "read", Net: c.Conn.LocalAddr().Network(), Source: c.Conn.LocalAddr(), Addr: c.Conn.RemoteAddr(), Err: err}
	}
	return c.Conn.Read(p)
}

// RemoteAddr returns the header's source address, reading the header
// first if need be; the connection's own peer when the header is LOCAL,
// UNKNOWN, AF_UNSPEC, or bad.
func (c *ProxyConn) RemoteAddr() net.Addr {
	if c.Handshake() == nil && c.hdr.Source != nil {
		return c.hdr.Source
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr returns the header's destination address, as RemoteAddr
// does the source.
func (c *ProxyConn) LocalAddr() net.Addr {
	if c.Handshake() == nil && c.hdr.Destination != nil {
		return c.hdr.Destination
	}
	return c.Conn.LocalAddr()
}

// SetReadDeadline sets the read deadline of the connection underneath;
// while the header is read, the sooner of it and the header's own
// deadline applies.
func (c *ProxyConn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.userRD = t
	if c.inHead && (t.IsZero() || t.After(c.headDead)) {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines, as SetReadDeadline and the
// connection's SetWriteDeadline do.
func (c *ProxyConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// ReadFrom keeps sendfile(2) for net/http's file responses.
func (c *ProxyConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite half-closes the connection, as net/http does after an error
// response.
func (c *ProxyConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// File returns a duplicate of the socket underneath, for the handover
// to park it (handover.Tracker), or an error when there is no socket.
func (c *ProxyConn) File() (*os.File, error) {
	if fc, ok := c.Conn.(interface{ File() (*os.File, error) }); ok {
		return fc.File()
	}
	return nil, fmt.Errorf("proxy protocol connection over %T: no file descriptor", c.Conn)
}

// ClientAddr tells the handover (handover.Addressed) the client address
// to park the connection with, without waiting: pending when the header
// is not read yet (nothing of it is consumed, so the next instance reads
// it), the header's TCP source when it had one, an invalid address when
// the socket's own peer stands (LOCAL, UNKNOWN, AF_UNSPEC, AF_UNIX), and
// ok false while the header is being read or when it was bad.
func (c *ProxyConn) ClientAddr() (addr netip.AddrPort, pending, ok bool) {
	if !c.mu.TryLock() {
		return addr, false, false
	}
	defer c.mu.Unlock()
	switch {
	case !c.ok:
		return addr, true, true
	case c.err != nil:
		return addr, false, false
	}
	if t, isTCP := c.hdr.Source.(*net.TCPAddr); isTCP {
		return t.AddrPort(), false, true
	}
	return addr, false, true
}

// Unwrap returns the connection underneath.
func (c *ProxyConn) Unwrap() net.Conn { return c.Conn }

// TransparentIO tells gotwistd's HTTP/1.1 engine that, once Handshake
// has returned nil, reads and writes may go to the socket underneath
// directly (h1.Transparent): nothing past the header was read.
func (c *ProxyConn) TransparentIO() {}
