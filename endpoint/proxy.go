package endpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PROXY protocol limits and defaults (HAProxy's proxy-protocol.txt).
const (
	// MaxProxyV1Header is the longest version 1 (text) header the
	// specification allows, CRLF included.
	MaxProxyV1Header = 107
	// MaxProxyV2Header bounds a version 2 (binary) header, its 16 fixed
	// bytes, addresses and TLVs included. The specification allows up
	// to 16+65535; real balancers send far less (HAProxy, AWS and GCP
	// stay under a few hundred bytes with their TLVs), so a larger one is
	// refused as too long.
	MaxProxyV2Header = 4096
	// DefaultProxyHeaderTimeout is how long a connection on a haproxy
	// endpoint may take to send its header when
	// ProxyListener.HeaderTimeout is 0.
	DefaultProxyHeaderTimeout = 10 * time.Second
)

// Causes of a *ProxyError, one per way a header can fail: a server logs
// each cause once, not each connection.
const (
	ProxyNoHeader = "no PROXY protocol header (the connection did not start with one)"
	ProxyTimeout  = "no PROXY protocol header within the read-header timeout"
	ProxyClosed   = "connection closed inside its PROXY protocol header"
	ProxyTooLong  = "PROXY protocol header too long"
	ProxyBadV1    = "malformed PROXY protocol v1 header"
	ProxyBadV2    = "malformed PROXY protocol v2 header"
	ProxyRead     = "read error in the PROXY protocol header"
)

// ErrProxyHeader is what every *ProxyError wraps, for errors.Is.
var ErrProxyHeader = errors.New("bad PROXY protocol header")

// ProxyError says why a connection's PROXY protocol header was refused.
type ProxyError struct {
	// Cause is one of the Proxy* constants.
	Cause string
	// Detail says more ("version 3", "a TLV overruns the header"); may
	// be empty.
	Detail string
	// Err is the underlying read error, if any.
	Err error
}

// Error reads like "malformed PROXY protocol v1 header: bad source port".
func (e *ProxyError) Error() string {
	s := e.Cause
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrProxyHeader and the read error, if any.
func (e *ProxyError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrProxyHeader, e.Err}
	}
	return []error{ErrProxyHeader}
}

func proxyErr(cause, format string, args ...any) *ProxyError {
	return &ProxyError{Cause: cause, Detail: fmt.Sprintf(format, args...)}
}

// ProxyHeader is what a PROXY protocol header says.
type ProxyHeader struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Local is true for a version 2 LOCAL command and a version 1
	// "PROXY UNKNOWN" line: the balancer speaks for itself (a health
	// check) and the connection's own addresses stand.
	Local bool
	// Source and Destination are the client's address and the address
	// it connected to, as the balancer saw them: *net.TCPAddr for TCP4
	// and TCP6 (v1) or AF_INET and AF_INET6 (v2), *net.UnixAddr for
	// AF_UNIX (v2). Both nil when Local, or for v2's AF_UNSPEC.
	Source, Destination net.Addr
}

// v2Signature starts every version 2 header.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// v1Signature starts every version 1 header.
var v1Signature = []byte("PROXY ")

// ParseProxyHeader parses the PROXY protocol header (version 1 or 2) at
// the start of b. It returns the header and its length n in b. n == 0
// with a nil error means b is a valid beginning of a header: read more
// and call again. An error is a *ProxyError: b does not start with a
// header, or with a valid one, or the header is longer than
// MaxProxyV1Header or MaxProxyV2Header. Version 2 TLVs are checked to fit
// the header and skipped.
func ParseProxyHeader(b []byte) (h ProxyHeader, n int, err error) {
	switch {
	case len(b) == 0:
		return h, 0, nil
	case b[0] == 'P':
		if len(b) < len(v1Signature) {
			if !bytes.HasPrefix(v1Signature, b) {
				return h, 0, &ProxyError{Cause: ProxyNoHeader}
			}
			return h, 0, nil
		}
		if !bytes.HasPrefix(b, v1Signature) {
			return h, 0, &ProxyError{Cause: ProxyNoHeader}
		}
		return parseV1(b)
	case b[0] == '\r':
		if len(b) < len(v2Signature) {
			if !bytes.HasPrefix(v2Signature, b) {
				return h, 0, &ProxyError{Cause: ProxyNoHeader}
			}
			return h, 0, nil
		}
		if !bytes.HasPrefix(b, v2Signature) {
			return h, 0, &ProxyError{Cause: ProxyNoHeader}
		}
		return parseV2(b)
	}
	return h, 0, &ProxyError{Cause: ProxyNoHeader}
}

func parseV1(b []byte) (h ProxyHeader, n int, err error) {
	end := -1
	for i := len(v1Signature); i < len(b) && i < MaxProxyV1Header-1; i++ {
		c := b[i]
		if c == '\r' {
			if i+1 == len(b) {
				return h, 0, nil // the '\n' may come next
			}
			if b[i+1] != '\n' {
				return h, 0, proxyErr(ProxyBadV1, "CR without LF")
			}
			end = i
			break
		}
		if c < 0x20 || c > 0x7e {
			return h, 0, proxyErr(ProxyBadV1, "byte %#02x in the line", c)
		}
	}
	if end < 0 {
		if len(b) >= MaxProxyV1Header-1 {
			return h, 0, proxyErr(ProxyTooLong, "no CRLF in the first %d bytes of a v1 header", MaxProxyV1Header)
		}
		return h, 0, nil
	}
	h.Version = 1
	n = end + 2
	f := strings.Split(string(b[len(v1Signature):end]), " ")
	switch f[0] {
	case "UNKNOWN":
		// The rest of the line, if any, is to be ignored.
		h.Local = true
		return h, n, nil
	case "TCP4", "TCP6":
	default:
		return h, 0, proxyErr(ProxyBadV1, "protocol %q is not TCP4, TCP6 or UNKNOWN", f[0])
	}
	if len(f) != 5 {
		return h, 0, proxyErr(ProxyBadV1, "%d fields after PROXY, want 5 (protocol, source, destination, their ports)", len(f))
	}
	src, err1 := v1Addr(f[0], f[1], f[3])
	if err1 != nil {
		return h, 0, proxyErr(ProxyBadV1, "source: %v", err1)
	}
	dst, err2 := v1Addr(f[0], f[2], f[4])
	if err2 != nil {
		return h, 0, proxyErr(ProxyBadV1, "destination: %v", err2)
	}
	h.Source, h.Destination = src, dst
	return h, n, nil
}

func v1Addr(proto, ip, port string) (*net.TCPAddr, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		return nil, fmt.Errorf("%q is not an IP address", ip)
	}
	if (proto == "TCP4") != a.Is4() {
		return nil, fmt.Errorf("%q is not an %s address", ip, map[bool]string{true: "IPv4", false: "IPv6"}[proto == "TCP4"])
	}
	if !isNumber(port) || len(port) > 5 || len(port) > 1 && port[0] == '0' {
		return nil, fmt.Errorf("port %q is not a number 0-65535", port)
	}
	p, _ := strconv.Atoi(port)
	if p > 65535 {
		return nil, fmt.Errorf("port %q is not a number 0-65535", port)
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(p))), nil
}

// Version 2 address families and address block sizes.
const (
	v2Unspec = 0x0
	v2Inet   = 0x1
	v2Inet6  = 0x2
	v2Unix   = 0x3
	v2Fixed  = 16 // signature, version and command, family, length
)

func parseV2(b []byte) (h ProxyHeader, n int, err error) {
	if len(b) < v2Fixed {
		return h, 0, nil
	}
	if v := b[12] >> 4; v != 2 {
		return h, 0, proxyErr(ProxyBadV2, "version %d, want 2", v)
	}
	cmd := b[12] & 0xf
	if cmd > 1 {
		return h, 0, proxyErr(ProxyBadV2, "command %d is neither LOCAL (0) nor PROXY (1)", cmd)
	}
	fam, proto := b[13]>>4, b[13]&0xf
	total := v2Fixed + int(binary.BigEndian.Uint16(b[14:16]))
	if total > MaxProxyV2Header {
		return h, 0, proxyErr(ProxyTooLong, "a v2 header of %d bytes, more than the %d accepted", total, MaxProxyV2Header)
	}
	if len(b) < total {
		return h, 0, nil
	}
	h.Version = 2
	if cmd == 0 {
		// LOCAL: whatever follows is to be skipped unread.
		h.Local = true
		return h, total, nil
	}
	if fam > v2Unix || proto > 2 {
		return h, 0, proxyErr(ProxyBadV2, "address family %d, transport %d", fam, proto)
	}
	p := b[v2Fixed:total]
	var used int
	switch fam {
	case v2Inet:
		if used = 12; len(p) < used {
			return h, 0, proxyErr(ProxyBadV2, "%d bytes for AF_INET addresses, want 12", len(p))
		}
		h.Source = v2TCP(p[0:4], p[8:10])
		h.Destination = v2TCP(p[4:8], p[10:12])
	case v2Inet6:
		if used = 36; len(p) < used {
			return h, 0, proxyErr(ProxyBadV2, "%d bytes for AF_INET6 addresses, want 36", len(p))
		}
		h.Source = v2TCP(p[0:16], p[32:34])
		h.Destination = v2TCP(p[16:32], p[34:36])
	case v2Unix:
		if used = 216; len(p) < used {
			return h, 0, proxyErr(ProxyBadV2, "%d bytes for AF_UNIX addresses, want 216", len(p))
		}
		h.Source = &net.UnixAddr{Name: cString(p[0:108]), Net: "unix"}
		h.Destination = &net.UnixAddr{Name: cString(p[108:216]), Net: "unix"}
	}
	// TLVs: type (1 byte), length (2 bytes), value. Skipped, but each
	// must lie inside the header.
	for rest := p[used:]; len(rest) > 0; {
		if len(rest) < 3 {
			return h, 0, proxyErr(ProxyBadV2, "%d stray bytes after the TLVs", len(rest))
		}
		l := 3 + int(binary.BigEndian.Uint16(rest[1:3]))
		if l > len(rest) {
			return h, 0, proxyErr(ProxyBadV2, "TLV of type %#02x overruns the header", rest[0])
		}
		rest = rest[l:]
	}
	return h, total, nil
}

func v2TCP(ip, port []byte) *net.TCPAddr {
	a, _ := netip.AddrFromSlice(ip)
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, binary.BigEndian.Uint16(port)))
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

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
