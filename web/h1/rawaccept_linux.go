package h1

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/gotwistd/gotwistd/web/fast"
	"golang.org/x/sys/unix"
)

// Accepting without net.Listener. Where it can (see rawAccept), Serve
// takes its connections from the listening socket itself: it waits for
// the socket through the listener's syscall.RawConn (Go's netpoller, so
// closing the listener ends the wait), then calls accept4(2) until the
// queue is empty. A connection whose request is there (the socket has
// TCP_DEFER_ACCEPT) is read, answered by the fast.Handler and, after a
// "Connection: close" answer, closed, with raw system calls: no net.Conn,
// no registration with the netpoller, no goroutine. Only a connection that
// needs more (a request for the Handler, a partial head, an answer it
// could not write at once, a kept-alive connection for an event loop, one
// with nothing to read yet) becomes a net.Conn (net.FileConn: a
// *net.TCPConn, as the listener's Accept returns), wrapped by the
// listener's AcceptHooks, and goes on as a connection Accept returned.
// An accept4 error other than "nothing queued" hands the next accept to
// the listener's Accept, whose wrappers handle it as they always have
// (the open-files limit: a pause, a log line).

// rawAcceptor is Serve's state when it accepts on a listening socket
// itself.
type rawAcceptor struct {
	srv   *Server
	f     *os.File // a duplicate of the listening socket
	rc    syscall.RawConn
	lrc   syscall.RawConn // the listener's
	hooks []AcceptHook    // innermost first
	lim   limits
	fn    func(fd uintptr) bool

	rbuf []byte
	work work
	c    conn // the connection being answered, until it needs a net.Conn
	// batch holds the connections accepted and not yet served.
	batch [acceptBatch]struct {
		fd  int
		rsa unix.RawSockaddrAny
	}

	fallback bool  // an accept4 error: let the listener's Accept have it
	err      error // ends Serve's raw accepting
}

// rawAccept returns an acceptor for l, or nil when Serve must use l's
// Accept: the listener must be, under AcceptHooks only, a TCP listener,
// and its connections the fast path's to answer (a Fast handler, event
// loops on, no ConnState hook, which is told of every connection as a
// net.Conn).
func (s *Server) rawAccept(l net.Listener, lim limits) *rawAcceptor {
	if s.Fast == nil || s.noEventLoop || s.noRawAccept || s.ConnState != nil {
		return nil
	}
	var hooks []AcceptHook
	for {
		if h, ok := l.(AcceptHook); ok {
			hooks = append(hooks, h)
			l = h.Unwrap()
			continue
		}
		break
	}
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return nil
	}
	lrc, err := tl.SyscallConn()
	if err != nil {
		return nil
	}
	// A listener's RawConn cannot wait for reads: a duplicate of its
	// socket, as a pollable *os.File, waits for it. Shutdown and Close
	// close it with the listener (closeListeners), and Serve when it
	// returns.
	dup := -1
	if lrc.Control(func(fd uintptr) { dup, _ = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }) != nil || dup < 0 {
		return nil
	}
	f := os.NewFile(uintptr(dup), "listener")
	rc, err := f.SyscallConn()
	if err != nil || !s.trackRawFile(f, true) {
		f.Close()
		return nil
	}
	for i, j := 0, len(hooks)-1; i < j; i, j = i+1, j-1 {
		hooks[i], hooks[j] = hooks[j], hooks[i]
	}
	ra := &rawAcceptor{srv: s, f: f, rc: rc, lrc: lrc, hooks: hooks, lim: lim, rbuf: make([]byte, readBufSize)}
	ra.fn = ra.acceptAll
	return ra
}

// close ends ra: Serve returns.
func (ra *rawAcceptor) close() {
	ra.srv.trackRawFile(ra.f, false)
	ra.f.Close()
}

// run accepts and serves connections until the listener fails or closes
// (the error), or an accept4 error asks for the listener's Accept (nil).
func (ra *rawAcceptor) run() error {
	ra.fallback, ra.err = false, nil
	if err := ra.rc.Read(ra.fn); err != nil {
		return err
	}
	return ra.err
}

// acceptAll is the RawConn callback: it accepts until the queue is empty
// (false: wait for the socket), or until Serve must stop or fall back.
// It takes up to acceptBatch connections at a time, then refreshes the
// fast.Watcher once for them (what changed before they were accepted
// counts; their requests were there, or as good as if they had been),
// then serves each.
func (ra *rawAcceptor) acceptAll(lfd uintptr) bool {
	s := ra.srv
	for {
		if s.inShutdown.Load() {
			// Leave the queue as it is: a socket systemd holds keeps it
			// for the next instance.
			ra.err = ErrServerClosed
			return true
		}
		if err := ra.lrc.Control(func(uintptr) {}); err != nil {
			// The listener was closed under Serve (not by Shutdown or
			// Close, which close the duplicate too): Serve returns, as
			// its Accept would have.
			ra.err = err
			return true
		}
		n, wait := 0, false
		for n < len(ra.batch) && !wait && !ra.fallback {
			a := &ra.batch[n]
			alen := uint32(unix.SizeofSockaddrAny)
			r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, lfd, uintptr(unsafe.Pointer(&a.rsa)), uintptr(unsafe.Pointer(&alen)),
				unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
			switch e {
			case 0:
				a.fd = int(r)
				n++
			case unix.EAGAIN:
				wait = true
			case unix.EINTR, unix.ECONNABORTED:
			default:
				ra.fallback = true
			}
		}
		watched := false
		if n > 0 {
			if w, ok := s.Fast.(fast.Watcher); ok && w.WatchFD() >= 0 {
				w.Refresh()
				watched = true
			}
		}
		for i := 0; i < n; i++ {
			if !ra.serve(ra.batch[i].fd, &ra.batch[i].rsa, watched) {
				for _, a := range ra.batch[i+1 : n] {
					unix.RawSyscall(unix.SYS_CLOSE, uintptr(a.fd), 0, 0) // Close: nothing is served any more
				}
				return true
			}
		}
		if wait {
			return false
		}
		if ra.fallback {
			return true
		}
	}
}

// acceptBatch is how many connections Serve accepts before it serves them.
const acceptBatch = 16

// serve answers the connection fd if it can, or makes it a net.Conn and
// gives it to its goroutine or an event loop; false: Serve is to stop
// (ra.err says why).
func (ra *rawAcceptor) serve(fd int, rsa *unix.RawSockaddrAny, watched bool) bool {
	s := ra.srv
	for i, h := range ra.hooks {
		if !h.RawAccepted(fd) {
			ra.closed(fd, i)
			return true
		}
	}
	n, err := rawRead(fd, ra.rbuf)
	if err == unix.EAGAIN {
		// Nothing yet (the kernel stopped deferring): the connection's
		// goroutine waits for its request, with its timeouts.
		c, ok := ra.promote(fd, sockaddrAddrPort(rsa), time.Now())
		if !ok {
			return ra.err == nil
		}
		go c.serve()
		return true
	}
	if n <= 0 || err != nil {
		ra.closed(fd, len(ra.hooks)) // the client is gone already
		return true
	}
	now := time.Now()
	c := &ra.c
	*c = conn{srv: s, lim: ra.lim, fd: fd, now: now, pending: c.pending[:0]}
	ap := sockaddrAddrPort(rsa)
	var ab [64]byte
	c.remote = string(ap.AppendTo(ab[:0]))
	data := ra.rbuf[:n]
	p, closing, handBack := c.serveReady(data, &ra.work, watched)
	if c.werr != nil || closing && len(c.pending) == 0 {
		ra.closed(fd, len(ra.hooks))
		return true
	}
	pc, ok := ra.promote(fd, ap, now)
	if !ok {
		return ra.err == nil
	}
	pc.now = now
	pc.pending, c.pending = c.pending, nil
	if !pc.state.CompareAndSwap(stNew, stActive) {
		pc.end() // Close got it first
		return true
	}
	s.afterReady(pc, data, p, closing, handBack, now)
	return true
}

// closed closes fd, which hooks[:n] took.
func (ra *rawAcceptor) closed(fd, n int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	for _, h := range ra.hooks[:n] {
		h.RawClosed()
	}
}

// promote makes fd, whose peer is remote, a net.Conn (a sockConn),
// wrapped as the listener's Accept would have, and a tracked conn in
// state stNew; false if it could not be (the connection is closed, and
// ra.err set if Serve is to stop).
func (ra *rawAcceptor) promote(fd int, remote netip.AddrPort, born time.Time) (*conn, bool) {
	s := ra.srv
	sc, err := newSockConn(fd, remote)
	if err != nil {
		ra.closed(fd, len(ra.hooks))
		s.logf("h1: accept: %v", err)
		return nil, false
	}
	var nc net.Conn = sc
	for _, h := range ra.hooks {
		nc = h.RawWrap(nc)
	}
	c := s.newConn(nc, ra.lim)
	c.born = born.UnixNano()
	if !s.trackConn(c, true) {
		nc.Close()
		ra.err = ErrServerClosed
		return nil, false
	}
	return c, true
}

// sockaddrAddrPort is the address in rsa; net.TCPAddr's String of it, as
// net's RemoteAddr gives it, is its String.
func sockaddrAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), ntohs(sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		a := netip.AddrFrom16(sa.Addr).Unmap()
		if sa.Scope_id != 0 && a.Is6() {
			a = a.WithZone(zoneName(int(sa.Scope_id)))
		}
		return netip.AddrPortFrom(a, ntohs(sa.Port))
	}
	return netip.AddrPort{}
}

func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// zoneName is the name of interface index, as net names an IPv6 zone.
func zoneName(index int) string {
	if ifi, err := net.InterfaceByIndex(index); err == nil {
		return ifi.Name
	}
	return strconv.Itoa(index)
}

// accept takes Serve's next connection from l, answering at accept what
// ra can meanwhile; ra nil: l's Accept.
func (s *Server) accept(l net.Listener, ra *rawAcceptor) (net.Conn, error) {
	if ra != nil {
		if err := ra.run(); err != nil {
			if errors.Is(err, ErrServerClosed) {
				return nil, err
			}
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: err}
		}
	}
	return l.Accept()
}

// writeVec writes v to w, the socket under a connection: with writev(2).
func writeVec(w io.Writer, v *net.Buffers) (int64, error) {
	if sc, ok := w.(*sockConn); ok {
		return sc.writeBuffers(v)
	}
	return v.WriteTo(w)
}
