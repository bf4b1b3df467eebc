package h1

import (
	"net/http"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/gotwistd/gotwistd/internal/epoll"
	"github.com/gotwistd/gotwistd/web/fast"
	"golang.org/x/sys/unix"
)

// An event loop serves idle keep-alive connections without a goroutine
// each: their sockets are in the loop's own epoll set (level-triggered),
// which its goroutine waits on itself, in a blocking epoll_pwait(2) (see
// wait: through Go's netpoller, a loop's wake-up could wait for the
// netpoller's next look, up to tens of milliseconds while every P was
// busy: a p99 latency of 50-100 ms under load). When requests
// arrive the loop reads them, and if the fast.Handler answers all of them
// and the answers can be written at once, the connection stays in the
// loop: one read(2) and one write(2) per request, and no read that finds
// nothing (a goroutine must try a read before it can wait). Anything else
// (a request for the Handler, a partial head, a short write, an error)
// hands the connection back to a goroutine of its own, with the input
// read and the output not yet written.
//
// The socket stays registered in Go's netpoller too (the loop never
// closes or duplicates it), so handing it back costs one epoll_ctl(2).
type loop struct {
	srv *Server
	set *epoll.Set // waited on as internal/epoll says (Set.Wait); Wake wakes the loop

	mu     sync.Mutex
	conns  map[int]*conn // by socket; changed under mu, read by the loop
	closed bool

	watch   fast.Watcher // the fast.Handler's, if its descriptor is in the set
	watchFD int
	n       int // events ready: set.Events[:n]
	rbuf    []byte
	tbuf    []byte // decrypted input of TLS connections (serveTLS); made on first use
	work    work
	sweep   time.Time // next idle-timeout check

	// CPUs (affinity_linux.go):
	cpu   int  // this loop's CPU, or -1: it is never pinned
	onCPU bool // its thread runs on cpu alone now
	first bool // the first loop: it runs the plan (planAffinity)
}

// loopReadBuf is the loop's read buffer: as large as pipelined requests
// from a busy client usually get.
const loopReadBuf = 16 << 10

// loops are a Server's event loops, made on first use. When they cannot
// all be made (the process is at its open-files limit), the missing ones
// are tried again at most every loopRetryEvery, so a server that reached
// its limit once does not go without loops for the rest of its life.
type loops struct {
	all     []*loop
	next    int
	mu      sync.Mutex
	made    bool      // every loop was made
	retryAt time.Time // after a failure: the next attempt
	failed  bool      // a failure was logged
	aff     affinity  // the loops' CPUs (affinity_linux.go)
}

// loopRetryEvery is the least time between two attempts at making the
// event loops that could not be made.
const loopRetryEvery = time.Second

// toLoop hands the idle connection c to an event loop; false if it cannot
// be (not a bare socket, loops unavailable, shutting down), and then c
// stays with its goroutine.
func (s *Server) toLoop(c *conn) bool {
	if !s.loopable(c) {
		return false
	}
	s.loops.mu.Lock()
	if !s.loops.made {
		s.startLoopsLocked(time.Now())
	}
	if len(s.loops.all) == 0 {
		s.loops.mu.Unlock()
		return false
	}
	lp := s.loops.all[s.loops.next%len(s.loops.all)]
	s.loops.next++
	s.loops.mu.Unlock()

	// What the goroutine held goes back first: once the socket is in the
	// epoll set, the loop may serve it at any moment.
	if len(c.rbuf) == readBufSize {
		b := c.rbuf
		readBufs.Put(&b)
	}
	c.rbuf = nil
	c.lastActive = time.Now().UnixNano()
	lp.mu.Lock()
	// looped before the state: Close reads them in the other order.
	c.looped.Store(true)
	if lp.closed || !c.state.CompareAndSwap(stIdle, stLoopIdle) {
		c.looped.Store(false)
		lp.mu.Unlock()
		return false
	}
	if !lp.addLocked(c) {
		c.looped.Store(false)
		lp.mu.Unlock()
		return c.state.CompareAndSwap(stLoopIdle, stIdle) && false
	}
	lp.mu.Unlock()
	return true
}

// addLocked puts c in lp's map, then its epoll set (an event the loop
// finds without its connection would be dropped); false, and c in
// neither, if the set refuses it. The caller holds lp.mu, under which the
// loop closes the set once closed is set, and has checked closed.
func (lp *loop) addLocked(c *conn) bool {
	lp.conns[c.fd] = c
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)}
	if unix.EpollCtl(lp.set.FD, unix.EPOLL_CTL_ADD, c.fd, &ev) != nil {
		delete(lp.conns, c.fd)
		return false
	}
	return true
}

// loopable reports whether c may go to an event loop now: its socket is
// one the engine reads itself, loops are on, and no shutdown is under way.
func (s *Server) loopable(c *conn) bool {
	return c.fd >= 0 && !s.noEventLoop && !s.inShutdown.Load() && c.tlsIdle()
}

// startLoopsLocked makes the event loops still missing, one per P, unless
// the last attempt failed less than loopRetryEvery before now. The caller
// holds s.loops.mu.
func (s *Server) startLoopsLocked(now time.Time) {
	if now.Before(s.loops.retryAt) {
		return
	}
	pin := s.pinnable()
	for len(s.loops.all) < max(1, runtime.GOMAXPROCS(0)) {
		lp, err := newLoop(s)
		if err != nil {
			if !s.loops.failed {
				s.logf("h1: no event loop (%v); idle connections keep a goroutine each until one can be made", err)
			}
			s.loops.failed = true
			s.loops.retryAt = now.Add(loopRetryEvery)
			return
		}
		if pin {
			s.assignCPU(lp, len(s.loops.all))
			lp.first = len(s.loops.all) == 0
		}
		// The caller holds mu, which Close's wakeLoops takes to read the list.
		s.loops.all = append(s.loops.all, lp)
		go lp.run()
	}
	s.loops.made = true
	if s.loops.failed {
		s.logf("h1: event loops made, after all")
	}
}

func newLoop(s *Server) (*loop, error) {
	set, err := epoll.New(128)
	if err != nil {
		return nil, err
	}
	lp := &loop{
		srv: s, set: set, watchFD: -1, cpu: -1,
		conns: make(map[int]*conn),
		rbuf:  make([]byte, loopReadBuf),
	}
	lp.adoptWatch()
	return lp, nil
}

// adoptWatch puts the fast.Handler's watch descriptor in the loop's epoll
// set, if it has one yet (a watcher may still be starting: the loop asks
// again once a second until it has one).
func (lp *loop) adoptWatch() {
	w, ok := lp.srv.Fast.(fast.Watcher)
	if !ok {
		return
	}
	if fd := w.WatchFD(); fd >= 0 {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if unix.EpollCtl(lp.set.FD, unix.EPOLL_CTL_ADD, fd, &ev) == nil {
			lp.watch, lp.watchFD = w, fd
		}
	}
}

// wake makes the loop look at its connections now (for Shutdown).
func (lp *loop) wake() {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.closed {
		return // the set is closed
	}
	lp.set.Wake()
}

// wake pokes every event loop.
func (s *Server) wakeLoops() {
	s.loops.mu.Lock()
	defer s.loops.mu.Unlock()
	for _, lp := range s.loops.all {
		lp.wake()
	}
}

// wait fills lp.set.Events with what is ready, waiting at most until
// the next sweep: through Go's netpoller, a loop's wake-up could wait for
// the netpoller's next look, which can take milliseconds while every P is
// busy; a busy loop polls briefly before it sleeps (internal/epoll).
func (lp *loop) wait(now time.Time) {
	until := lp.sweep
	if lp.first && lp.srv.loops.aff.next.Before(until) {
		until = lp.srv.loops.aff.next
	}
	lp.n = lp.set.Wait(until.Sub(now) + time.Millisecond)
}

func (lp *loop) run() {
	idle := lp.srv.IdleTimeout
	lp.sweep = time.Now().Add(time.Second)
	now := time.Now()
	for {
		lp.wait(now)
		now = time.Now()
		woken := false
		for i := 0; i < lp.n; i++ {
			if lp.set.Woken(lp.set.Events[i]) {
				woken = true
			}
		}
		if woken || !now.Before(lp.sweep) {
			if lp.housekeep(now, idle) {
				return
			}
			lp.sweep = now.Add(time.Second)
			if lp.watch == nil {
				lp.adoptWatch()
			}
		}
		if lp.first {
			lp.planAffinity(now)
		}
		lp.applyAffinity()
		if lp.watch != nil {
			// Changes first: they happened before the requests of this
			// batch arrived, or are as good as if they had.
			for i := 0; i < lp.n; i++ {
				if int(lp.set.Events[i].Fd) == lp.watchFD {
					lp.watch.Refresh()
					break
				}
			}
		}
		lp.mu.Lock()
		for i := 0; i < lp.n; i++ {
			c := lp.conns[int(lp.set.Events[i].Fd)]
			lp.mu.Unlock()
			if c != nil {
				lp.serve(c, now)
			}
			lp.mu.Lock()
		}
		lp.mu.Unlock()
	}
}

// housekeep closes connections idle too long (in a shutdown: longer than
// idleGrace), and those Close asked to; it reports whether the loop is
// done (the server is shut down and the loop has no connection left).
func (lp *loop) housekeep(now time.Time, idle time.Duration) bool {
	shutdown := lp.srv.inShutdown.Load()
	lp.mu.Lock()
	var done []*conn
	for _, c := range lp.conns {
		st := c.state.Load()
		switch {
		case st == stClosing:
			done = append(done, c)
		case st == stLoopIdle && (shutdown && now.UnixNano()-c.lastActive > int64(lp.srv.idleGrace()) || idle > 0 && now.UnixNano()-c.lastActive > int64(idle)):
			if c.state.CompareAndSwap(stLoopIdle, stClosing) {
				done = append(done, c)
			}
		}
	}
	lp.mu.Unlock()
	for _, c := range done {
		lp.end(c)
	}
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if shutdown && len(lp.conns) == 0 {
		lp.closed = true
		lp.set.Close()
		return true
	}
	return false
}

// forget takes c out of the loop.
func (lp *loop) forget(c *conn, del bool) {
	lp.mu.Lock()
	delete(lp.conns, c.fd)
	lp.mu.Unlock()
	if del {
		_ = unix.EpollCtl(lp.set.FD, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
	c.looped.Store(false)
}

// end closes c, which the loop has.
func (lp *loop) end(c *conn) {
	// Closing the socket takes it out of every epoll set.
	c.loopIO() // a TLS connection's close_notify must not wait (before Close may see it)
	lp.forget(c, false)
	c.w = nil
	c.end()
}

// serve reads what c's client sent and answers it, or hands c back to a
// goroutine.
func (lp *loop) serve(c *conn, now time.Time) {
	if c.sock != nil {
		lp.serveTLS(c, now)
		return
	}
	n, err := rawRead(c.fd, lp.rbuf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return // readiness that went away
	}
	if n <= 0 || err != nil {
		c.state.Store(stClosing)
		lp.end(c)
		return
	}
	if !c.state.CompareAndSwap(stLoopIdle, stActive) {
		lp.end(c) // Shutdown or Close got it first
		return
	}
	srv := lp.srv
	if srv.ConnState != nil {
		srv.ConnState(c.nc, http.StateActive)
	}
	c.now = now
	data := lp.rbuf[:n]
	w := &lp.work
	p, closing, handBack := c.serveReady(data, w, lp.watch != nil)
	switch {
	case c.werr != nil:
		c.state.Store(stClosing)
		lp.end(c)
	case len(c.pending) > 0 && closing:
		c.closeAfterPending = true
		lp.handBack(c, nil)
	case len(c.pending) > 0 || handBack:
		lp.handBack(c, data[p:])
	case closing:
		c.state.Store(stClosing)
		lp.end(c)
	default:
		c.lastActive = now.UnixNano()
		if srv.ConnState != nil {
			srv.ConnState(c.nc, http.StateIdle)
		}
		if c.between != nil {
			c.between() // every byte read was served
		}
		if !c.state.CompareAndSwap(stActive, stLoopIdle) {
			lp.end(c)
			return
		}
		lp.look(c)
	}
}

// serveReady answers, without waiting, the requests at the start of data
// (just read from c's socket) that the fast.Handler takes, with w as the
// work state; watched says the Handler's watch was refreshed after data
// arrived. It returns how many bytes it served, whether the connection
// is to close after them, and whether the rest needs c's goroutine (a
// request for the Handler, a partial head, one the engine refuses). What
// could not be written is in c.pending, and a write error in c.werr.
func (c *conn) serveReady(data []byte, w *work, watched bool) (p int, closing, handBack bool) {
	srv := c.srv
	w.wbuf = w.wbuf[:0]
	c.inLoop = true
	c.w = w
	for p < len(data) {
		buf := data[p:]
		end, _ := headEnd(buf, 0)
		if end < 0 || end > c.lim.maxHead || buf[0] == '\r' || buf[0] == '\n' {
			handBack = true // partial, blank lines, too large: the goroutine judges
			break
		}
		r := &w.req
		if parse(buf[:end], r, c.lim) != nil || srv.Fast == nil || !r.fastRequest(c.remote, c.now, watched).Plain() {
			handBack = true
			break
		}
		r.RemoteAddr = c.remote
		f, ok := srv.Fast.ServeFast(&r.fast)
		if !ok {
			handBack = true
			break
		}
		p += end
		w.served.Add(1)
		closing = r.close || srv.inShutdown.Load()
		c.writeFast(r, &f, closing)
		if c.werr != nil || c.loopBlocked() {
			break
		}
		if closing {
			break
		}
	}
	if len(w.wbuf) > 0 && c.werr == nil {
		c.flush()
	}
	c.inLoop = false // before a goroutine may take c over
	c.w = nil
	w.wbuf = w.wbuf[:0]
	return p, closing, handBack
}

// handBack gives c a goroutine again, with input: what the loop read but
// did not serve (c.pending holds what it could not write).
func (lp *loop) handBack(c *conn, input []byte) {
	lp.forget(c, true)
	c.takeInput(input)
	go c.resume()
}

// takeInput gives c a read buffer holding input, for its goroutine.
func (c *conn) takeInput(input []byte) {
	if len(input) > readBufSize {
		c.rbuf = make([]byte, max(len(input), 2*readBufSize))
	} else {
		c.rbuf = *readBufs.Get().(*[]byte)
	}
	c.r0, c.r1 = 0, copy(c.rbuf, input)
	c.scan, c.blank, c.armed, c.lineDone = 0, 0, false, false
}

// loopWrite writes b to c's socket without waiting, when c is in a loop;
// what cannot be written goes to c.pending, copied unless keep says b
// stays valid (a cached body).
func (c *conn) loopWrite(bufs [][]byte, keep []bool) {
	for {
		var n int
		var err error
		if len(bufs) == 1 {
			n, err = rawWrite(c.fd, bufs[0])
		} else {
			n, err = rawWritev(c.fd, bufs)
		}
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || n <= 0 && err == nil {
			break
		}
		if err != nil {
			c.werr = err
			return
		}
		for n > 0 {
			if n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs, keep = bufs[1:], keep[1:]
				continue
			}
			bufs[0] = bufs[0][n:]
			n = 0
		}
		if len(bufs) == 0 {
			return
		}
	}
	for i, b := range bufs {
		if !keep[i] {
			b = append([]byte(nil), b...)
		}
		c.pending = append(c.pending, b)
	}
}

// The loop's system calls are raw: they never block (the sockets are
// non-blocking, and epoll_wait is told not to wait), so they need not tell
// the scheduler, which would otherwise hand the P to another thread
// while a write to a loopback socket delivers the data to its reader.

func rawRead(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	p = p[:min(len(p), maxWrite)]
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// maxIovecs bounds one writev(2); the rest is written by the next call.
const maxIovecs = 64

// maxWrite bounds one write: the kernel handles a few 64 KiB writes to a
// TCP socket faster than one large one (fewer, smaller buffers at a time).
const maxWrite = 64 << 10

func rawWritev(fd int, bufs [][]byte) (int, error) {
	var iov [maxIovecs]unix.Iovec
	n, total := 0, 0
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if n == len(iov) || total == maxWrite {
			break
		}
		b = b[:min(len(b), maxWrite-total)]
		total += len(b)
		iov[n].Base = &b[0]
		iov[n].SetLen(len(b))
		n++
	}
	if n == 0 {
		return 0, nil
	}
	w, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
	runtime.KeepAlive(bufs)
	if e != 0 {
		return -1, e
	}
	return int(w), nil
}
