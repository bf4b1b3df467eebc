package h1

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockConn is a TCP connection Serve accepted on the listening socket
// itself (rawaccept_linux.go) and that needs a net.Conn: its socket as a
// pollable *os.File (registered with Go's netpoller as a *net.TCPConn's
// is, and so with its deadlines), the address accept4(2) gave, and what
// the engine and the listener's wrappers use of a *net.TCPConn: its
// syscall.RawConn, half-closing, writev(2) (writeBuffers) and sendfile(2)
// (ReadFrom). Making one costs what net's accept does (fcntl(2) and
// epoll_ctl(2) for the netpoller, TCP_NODELAY), not net.FileConn's
// duplicate and look-ups.
type sockConn struct {
	f      *os.File
	rc     syscall.RawConn
	remote *net.TCPAddr
	local  atomic.Pointer[net.TCPAddr] // from getsockname(2), on first use
}

// newSockConn makes a net.Conn of fd, a connected TCP socket in
// non-blocking mode, whose peer is remote.
func newSockConn(fd int, remote netip.AddrPort) (*sockConn, error) {
	// As net's: no Nagle delay for the engine's separate writes.
	one := int32(1)
	_, _, _ = unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY,
		uintptr(unsafe.Pointer(&one)), unsafe.Sizeof(one), 0)
	f := os.NewFile(uintptr(fd), "tcp")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &sockConn{f: f, rc: rc, remote: net.TCPAddrFromAddrPort(remote)}, nil
}

func (c *sockConn) Read(p []byte) (int, error)  { return c.f.Read(p) }
func (c *sockConn) Write(p []byte) (int, error) { return c.f.Write(p) }

// Close closes the socket.
func (c *sockConn) Close() error { return c.f.Close() }

// LocalAddr is the socket's own address.
func (c *sockConn) LocalAddr() net.Addr {
	if a := c.local.Load(); a != nil {
		return a
	}
	a := &net.TCPAddr{}
	_ = c.rc.Control(func(fd uintptr) {
		if sa, err := unix.Getsockname(int(fd)); err == nil {
			switch sa := sa.(type) {
			case *unix.SockaddrInet4:
				a = &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
			case *unix.SockaddrInet6:
				a = &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
				if sa.ZoneId != 0 {
					a.Zone = zoneName(int(sa.ZoneId))
				}
			}
		}
	})
	c.local.Store(a)
	return a
}

// RemoteAddr is the peer's address.
func (c *sockConn) RemoteAddr() net.Addr { return c.remote }

func (c *sockConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *sockConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *sockConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// SyscallConn returns the socket's raw connection, on the netpoller.
func (c *sockConn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// CloseWrite shuts down the sending side.
func (c *sockConn) CloseWrite() error {
	var serr error
	if err := c.rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return err
	}
	return serr
}

// writeBuffers writes bufs whole, with writev(2), waiting for the socket
// as a Write does (and as long as its write deadline allows).
func (c *sockConn) writeBuffers(bufs *net.Buffers) (int64, error) {
	var total int64
	var werr error
	err := c.rc.Write(func(fd uintptr) bool {
		for len(*bufs) > 0 {
			n, err := rawWritev(int(fd), *bufs)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return false
			case err != nil:
				werr = err
				return true
			}
			total += int64(n)
			for b := *bufs; n > 0 && len(b) > 0; b = *bufs {
				if n < len(b[0]) {
					b[0] = b[0][n:]
					break
				}
				n -= len(b[0])
				*bufs = b[1:]
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		err = &net.OpError{Op: "writev", Net: "tcp", Source: c.LocalAddr(), Addr: c.remote, Err: err}
	}
	return total, err
}

// ReadFrom copies r to the socket, with sendfile(2) when r is a file (or
// a LimitedReader of one), as a *net.TCPConn's does.
func (c *sockConn) ReadFrom(r io.Reader) (int64, error) {
	remain := int64(1 << 62)
	src := r
	lr, limited := r.(*io.LimitedReader)
	if limited {
		remain, src = lr.N, lr.R
		if remain <= 0 {
			return 0, nil
		}
	}
	f, ok := src.(*os.File)
	if !ok {
		return io.Copy(writerOnly{c}, r)
	}
	frc, err := f.SyscallConn()
	if err != nil {
		return io.Copy(writerOnly{c}, r)
	}
	var written int64
	var werr error
	unsupported := false
	cerr := frc.Control(func(in uintptr) {
		err := c.rc.Write(func(out uintptr) bool {
			for remain > 0 {
				n, err := unix.Sendfile(int(out), int(in), nil, int(min(remain, 4<<20)))
				if n > 0 {
					written += int64(n)
					remain -= int64(n)
				}
				switch {
				case err == unix.EINTR:
					continue
				case err == unix.EAGAIN:
					return false
				case (err == unix.EINVAL || err == unix.ENOSYS) && written == 0:
					unsupported = true
					return true
				case err != nil:
					werr = err
					return true
				case n == 0:
					return true // the file ended
				}
			}
			return true
		})
		if werr == nil {
			werr = err
		}
	})
	if limited {
		lr.N = remain
	}
	if cerr != nil && werr == nil {
		werr = cerr
	}
	if unsupported {
		n, err := io.Copy(writerOnly{c}, r)
		return written + n, err
	}
	if werr != nil {
		werr = &net.OpError{Op: "sendfile", Net: "tcp", Source: c.LocalAddr(), Addr: c.remote, Err: werr}
	}
	return written, werr
}

func (c *sockConn) acceptedRaw() {}

var (
	_ socketConn    = (*sockConn)(nil)
	_ syscall.Conn  = (*sockConn)(nil)
	_ io.ReaderFrom = (*sockConn)(nil)
)
