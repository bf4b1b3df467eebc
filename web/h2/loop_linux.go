package h2

import (
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwistd/gotwistd/internal/epoll"
	"golang.org/x/sys/unix"
)

// Event loops. A connection whose reading goroutine has nothing to do but
// wait for input (no handler running, nothing unwritten, not going away)
// and whose socket can be read by number (the connection beneath TLS is a
// loopSock: gotwistd's HTTP/1.1 engine's TLS listener) waits in one of
// the Server's event loops instead, one per P, as idle HTTP/1.1
// connections do in web/h1's: a loop that finds it readable reads and
// decrypts what came (without waiting), handles the frames (answering
// what Fast takes, the same code the goroutine runs) and writes the
// answers, and the connection stays. The goroutine stays parked on a
// channel meanwhile; the loop hands the connection back to it
// (handBack) when a frame started a handler, a write did not all go, the
// input ended or failed, a frame was an error, or another goroutine wants
// to write (kick: a GOAWAY on shutdown, a Close). Loops wait as
// internal/epoll says: under load they poll for a few microseconds
// before sleeping, so that a core is not put to sleep and woken between
// a client's requests, which Go's netpoller, waking a goroutine per
// connection, did (7-8% of 2 cores idle under h2load -c50 -m10, none
// with h2o).

// loopSock is the connection beneath TLS when an event loop may read it
// (web/h1's tlsSock; see its LoopHold).
type loopSock interface {
	LoopHold(wake func()) (fd int, ok bool)
	LoopRelease() (closed bool)
	Blocked() bool
	Flush() error
}

// loopState is a connection's part in the loops, kept in conn.
type loopState struct {
	sock       loopSock     // beneath TLS, if a loop may hold it; or nil
	fd         int          // the socket, while in a loop's set (under the loop's mu)
	resume     chan loopEnd // the loop hands the connection back on it
	home       *loop        // the loop it waits in, chosen at the first park
	lastActive time.Time    // its last turn (for IdleTimeout)
	wrote      int64        // conn.wrote at the last park (wroteMuch)
	// Under conn.mu:
	lp     *loop // the loop that holds it, from park to unpark; or nil
	kicked bool  // another goroutine wants the connection back
}

// loopEnd is why a loop handed a connection back: a frame's error, or
// the input's (an end, a failure, or, for IdleTimeout, a deadline).
type loopEnd struct{ frames, read error }

// loops are a Server's event loops, made on first use.
type loops struct {
	mu      sync.Mutex
	all     []*loop
	next    int
	retryAt time.Time    // after a failure to make one: the next attempt
	failed  bool         // a failure was logged
	parked  atomic.Int64 // connections put in a loop's set so far (tests look)
}

// loop is one event loop: an epoll set of held connections' sockets.
type loop struct {
	srv *Server
	set *epoll.Set

	mu     sync.Mutex
	conns  map[int]*conn // by socket
	kicked []*conn       // to hand back (kick)
	closed bool
	used   time.Time    // when it last held a connection (see housekeep)
	sweep  time.Time    // next idle-timeout check (the loop's own)
	turns  atomic.Int64 // turns of held connections that read frames (tests look)
}

// initLoop lets c wait in event loops, if its connection beneath TLS is
// a loopSock.
func (c *conn) initLoop() {
	if tc := c.tlsConn(); tc != nil {
		if s, ok := tc.NetConn().(loopSock); ok && !c.srv.noLoops {
			c.loop.sock = s
			c.loop.resume = make(chan loopEnd, 1)
		}
	}
}

// park gives c to an event loop while it waits for input, and returns
// once the loop hands it back, with what ended the loop's turn: held is
// false (and nothing happened) if no loop took it.
func (c *conn) park() (held bool, framesErr, readErr error) {
	if c.loop.sock == nil {
		return false, nil, nil
	}
	c.mu.Lock()
	c.loop.kicked = false // a kick is for the loop that held c last
	c.mu.Unlock()
	if !c.waitsOnly() || c.wroteMuch() {
		return false, nil, nil
	}
	// One loop for the connection's life: what it knows of c (its
	// socket's number) is under that loop's mu.
	lp := c.loop.home
	if lp == nil || lp.isClosed() {
		if lp = c.srv.loopFor(); lp == nil {
			return false, nil, nil
		}
		c.loop.home = lp
	}
	c.mu.Lock()
	c.loop.lp = lp
	c.mu.Unlock()
	fd, ok := c.loop.sock.LoopHold(func() { lp.kick(c) })
	if !ok {
		c.mu.Lock()
		c.loop.lp = nil
		c.mu.Unlock()
		return false, nil, nil
	}
	// The goroutine's last read may have left records in the tls.Conn,
	// which the socket's readiness would not show: a first turn here
	// reads until the socket has nothing.
	stay, fe, re := c.turn()
	if stay && lp.add(c, fd) {
		end := <-c.loop.resume
		fe, re = end.frames, end.read
	}
	if c.unpark() && re == nil && fe == nil {
		re = net.ErrClosed
	}
	return true, fe, re
}

// unpark takes c back from its loop: the socket waits again, and what
// the loop's writes left unsent is written first. It reports whether a
// Close came meanwhile (the connection is closed now).
func (c *conn) unpark() (closed bool) {
	closed = c.loop.sock.LoopRelease()
	c.mu.Lock()
	c.loop.lp = nil
	for c.writing {
		c.cond.Wait()
	}
	if c.loop.sock.Blocked() && c.werr == nil {
		c.writing = true
		c.mu.Unlock()
		err := c.loop.sock.Flush()
		c.mu.Lock()
		c.writing = false
		if err != nil {
			c.werr = err
		}
		c.cond.Broadcast()
	}
	c.mu.Unlock()
	c.flush() // what other goroutines queued meanwhile
	return closed
}

// wroteMuch reports whether c wrote more than a loop would since the last
// park: its client fetches large bodies, and its next requests will most
// likely be handed back from a loop at once (bulky), so the goroutine
// reads them itself. 100 KB responses: 0.95x the requests/s when such
// connections parked anyway, level without.
func (c *conn) wroteMuch() bool {
	c.mu.Lock()
	wrote := c.wrote
	c.mu.Unlock()
	much := wrote-c.loop.wrote > batchOver
	c.loop.wrote = wrote
	return much
}

// waitsOnly reports whether c has nothing to do but wait for input:
// what a connection in a loop must be. A response whose data waits (for
// the client's window, or for room in the output) keeps the goroutine:
// bodies larger than the socket takes at once leave a loop's write
// short, and the copy of what it left, written by the goroutine, cost
// half the throughput of 100 KB responses (h2load -c50 -m10).
func (c *conn) waitsOnly() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handlers == 0 && !c.writing && len(c.out) == 0 && len(c.queue) == 0 && c.werr == nil &&
		!c.goingAway && !c.late.Load() && !c.loop.kicked
}

// turn reads what c's socket has, without waiting, handles the frames and
// writes the answers; stay reports whether c may go on waiting in a loop.
func (c *conn) turn() (stay bool, framesErr, readErr error) {
	for reads := 1; ; reads++ {
		n, err := c.readNow()
		if n > 0 {
			if e := c.frames(); e != nil {
				return false, e, nil
			}
			c.pump() // (bodies wait in their streams until then)
			if c.bulky() {
				// Large bodies, or more answers than a loop writes: the
				// goroutine writes them, waiting for the socket, in one
				// system call per batch of records (write).
				return false, nil, nil
			}
		}
		if err != nil {
			// crypto/tls returns the socket's error as it is: no
			// errors.As (reflection) on every turn.
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break // nothing more to read
			}
			return false, nil, err
		}
		if reads == maxTurnReads {
			// A client that sends without pause: its goroutine serves
			// it (the loop's other connections wait meanwhile, and the
			// answers to what was read are in c.out, unwritten).
			return false, nil, nil
		}
	}
	if c.lastStream > 0 && c.late.Load() {
		return false, nil, nil // the goroutine sends the GOAWAY
	}
	c.writeOut()
	c.loop.lastActive = time.Now()
	return c.waitsOnly() && !c.loop.sock.Blocked(), nil, nil
}

// maxTurnReads bounds the reads of one turn: the input a loop takes from
// one connection before it writes, and before its other connections' turn.
const maxTurnReads = 8

// bulky reports whether c's output is more than a loop writes: more than
// one batch of records, or data waiting beyond it. A loop that wrote 100
// KB responses itself, one record per write(2) and what the socket did
// not take copied aside, served 0.8x the requests the goroutine does.
func (c *conn) bulky() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out) > batchOver || len(c.queue) > 0
}

// socketFull reports whether a loop's write left output unsent: what
// follows waits in c.out for the goroutine (a copy of it into the
// socket's pending output would only be written later, and cost a copy).
func (c *conn) socketFull() bool { return c.loop.sock != nil && c.loop.sock.Blocked() }

// readNow reads more input into rbuf, as read does, without a deadline
// (the socket does not wait while held).
func (c *conn) readNow() (int, error) {
	c.compact()
	n, err := c.nc.Read(c.rbuf[c.r1:])
	c.r1 += n
	return n, err
}

// loopFor returns an event loop for a connection, making the loops
// missing (one per P; a loop that closed, idle or after shutdown, is
// replaced); nil if there are none. When they cannot be made (the process
// is at its open-files limit) they are tried again at most once a second.
func (s *Server) loopFor() *loop {
	s.loops.mu.Lock()
	defer s.loops.mu.Unlock()
	live := s.loops.all[:0]
	for _, lp := range s.loops.all {
		if !lp.isClosed() {
			live = append(live, lp)
		}
	}
	clear(s.loops.all[len(live):])
	s.loops.all = live
	s.mu.Lock()
	shutdown := s.shutdown
	s.mu.Unlock()
	if now := time.Now(); !shutdown && !now.Before(s.loops.retryAt) {
		for len(s.loops.all) < max(1, runtime.GOMAXPROCS(0)) {
			lp, err := newLoop(s)
			if err != nil {
				if !s.loops.failed {
					s.logf("http2: no event loop (%v); connections keep a goroutine each until one can be made", err)
				}
				s.loops.failed = true
				s.loops.retryAt = now.Add(time.Second)
				break
			}
			s.loops.all = append(s.loops.all, lp)
			go lp.run()
		}
	}
	if len(s.loops.all) == 0 {
		return nil
	}
	lp := s.loops.all[s.loops.next%len(s.loops.all)]
	s.loops.next++
	return lp
}

// isClosed reports whether the loop has ended.
func (lp *loop) isClosed() bool {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.closed
}

func newLoop(s *Server) (*loop, error) {
	set, err := epoll.New(128)
	if err != nil {
		return nil, err
	}
	return &loop{srv: s, set: set, conns: make(map[int]*conn), used: time.Now()}, nil
}

// add puts the held connection c, socket fd, in the loop's set; false if
// it cannot be (the loop closed, or c was kicked meanwhile).
func (lp *loop) add(c *conn, fd int) bool {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.closed {
		return false
	}
	c.mu.Lock()
	kicked := c.loop.kicked
	c.mu.Unlock()
	if kicked {
		return false // a kick that came before c was in conns
	}
	// Level-triggered: input that came since the last read makes the
	// socket ready at once.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if unix.EpollCtl(lp.set.FD, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
		return false
	}
	c.loop.fd = fd
	lp.conns[fd] = c
	lp.used = time.Now()
	lp.srv.loops.parked.Add(1)
	return true
}

// kick asks the loop to hand c back to its goroutine soon (another
// goroutine has output for it, or closes it).
func (lp *loop) kick(c *conn) {
	c.mu.Lock()
	c.loop.kicked = true
	c.mu.Unlock()
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.closed {
		return // the set is closed
	}
	lp.kicked = append(lp.kicked, c)
	lp.set.Wake()
}

// handBack takes c out of the loop and gives it back to its goroutine;
// nothing if it is not in the loop (handed back already).
func (lp *loop) handBack(c *conn, end loopEnd) {
	lp.mu.Lock()
	if lp.conns[c.loop.fd] != c {
		lp.mu.Unlock()
		return
	}
	delete(lp.conns, c.loop.fd)
	_ = unix.EpollCtl(lp.set.FD, unix.EPOLL_CTL_DEL, c.loop.fd, nil)
	lp.mu.Unlock()
	c.loop.resume <- end
}

// loopSweep is how often a loop looks for connections idle too long.
const loopSweep = time.Second

func (lp *loop) run() {
	lp.sweep = time.Now().Add(loopSweep)
	for {
		n := lp.set.Wait(time.Until(lp.sweep) + time.Millisecond)
		woken := false
		for i := range n {
			if lp.set.Woken(lp.set.Events[i]) {
				woken = true
				continue
			}
			fd := int(lp.set.Events[i].Fd)
			lp.mu.Lock()
			c := lp.conns[fd]
			lp.mu.Unlock()
			if c == nil {
				continue
			}
			lp.turns.Add(1)
			if stay, fe, re := c.turn(); !stay {
				lp.handBack(c, loopEnd{fe, re})
			}
		}
		if woken {
			lp.mu.Lock()
			kicked := lp.kicked
			lp.kicked = nil
			lp.mu.Unlock()
			for _, c := range kicked {
				lp.handBack(c, loopEnd{})
			}
		}
		if now := time.Now(); woken || !now.Before(lp.sweep) {
			if lp.housekeep(now) {
				return
			}
			lp.sweep = now.Add(loopSweep)
		}
	}
}

// housekeep hands back connections idle past the Server's IdleTimeout
// (their goroutines say GOAWAY and close them), and closes the loop once
// it has held no connection for loopIdleExit, or none is left after the
// Server shut down; true then. (A Server has no Close: a loop must not
// outlive the connections it is for.)
func (lp *loop) housekeep(now time.Time) bool {
	idle := lp.srv.IdleTimeout
	var done []*conn
	lp.mu.Lock()
	for _, c := range lp.conns {
		if idle > 0 && now.Sub(c.loop.lastActive) > idle && !c.busy() {
			done = append(done, c)
		}
	}
	lp.mu.Unlock()
	for _, c := range done {
		lp.handBack(c, loopEnd{read: os.ErrDeadlineExceeded})
	}
	lp.srv.mu.Lock()
	shutdown := lp.srv.shutdown
	lp.srv.mu.Unlock()
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if len(lp.conns) > 0 {
		lp.used = now
	} else if shutdown || now.Sub(lp.used) > loopIdleExit {
		lp.closed = true
		lp.set.Close()
		return true
	}
	return false
}

// loopIdleExit is how long a loop without connections lives on.
const loopIdleExit = 30 * time.Second

// loopTurns is how many times s's loops served a connection they held.
func (s *Server) loopTurns() int64 {
	s.loops.mu.Lock()
	defer s.loops.mu.Unlock()
	var n int64
	for _, lp := range s.loops.all {
		n += lp.turns.Load()
	}
	return n
}

// busy reports whether a handler runs or a response is unfinished.
func (c *conn) busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.busyLocked()
}
