package h1

import (
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gotwistd/gotwistd/internal/stackgrow"
	"golang.org/x/sys/unix"
)

// TLS connections in event loops. A connection from NewTLSListener whose
// handshake chose HTTP/1.x goes to a loop as a plain one does (toLoop),
// once the engine holds all its input (tlsIdle). The loop then reads
// through its tls.Conn, whose tlsSock reads the socket without waiting: a
// read that finds nothing returns errWouldBlock, which crypto/tls gives
// back without keeping it (as it does a deadline's timeout, which is a
// net.Error that is Temporary), the part of a record read so far staying
// in the tls.Conn until the rest is readable. What the loop cannot finish
// goes to a goroutine, as from a plain loop: a request for the Handler, a
// partial head, an answer the socket did not take at once (tlsSock.pend,
// c.pending). Input that ends (EOF, close_notify) or fails closes the
// connection once what came before is answered. Handshake messages after
// the handshake (a client's KeyUpdate) crypto/tls handles in its Read, in
// the loop as anywhere; renegotiation it refuses, which ends the
// connection.

// errWouldBlock is what a tlsSock's read in a loop returns when the
// socket has nothing: a timeout, for crypto/tls, which keeps no
// temporary error.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "h1: no TLS input ready" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// maxPlaintext is the most plaintext one TLS record carries: a tls.Conn's
// Read given this much room returns all it has decrypted.
const maxPlaintext = 16 << 10

// tlsLoopBuf is a loop's buffer of decrypted input: room for a record's
// plaintext after a record's worth not yet served.
const tlsLoopBuf = 2 * maxPlaintext

// readNow reads the socket without waiting.
func (s *tlsSock) readNow(p []byte) (int, error) {
	for {
		n, err := rawRead(s.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errWouldBlock
		case err != nil:
			return 0, &net.OpError{Op: "read", Net: "tcp", Err: err}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// writeNow writes b to the socket without waiting: what it does not take
// goes to pend (and so does everything after it), and b counts as
// written.
func (s *tlsSock) writeNow(b []byte) (int, error) {
	n := len(b)
	for !s.hasPend.Load() && len(b) > 0 {
		m, err := rawWrite(s.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || m <= 0 && err == nil:
			m = 0
		case err != nil:
			return n - len(b), &net.OpError{Op: "write", Net: "tcp", Err: err}
		}
		if b = b[m:]; m == 0 {
			break
		}
	}
	if len(b) > 0 {
		s.mu.Lock()
		s.pend = append(s.pend, b...)
		s.hasPend.Store(true)
		s.mu.Unlock()
	}
	return n, nil
}

// serveTLS is serve for a TLS connection: it reads and decrypts what
// arrived and answers it, or hands c back to a goroutine.
func (lp *loop) serveTLS(c *conn, now time.Time) {
	s := c.sock
	s.nonblock.Store(true)
	if lp.tbuf == nil {
		lp.tbuf = make([]byte, tlsLoopBuf)
	}
	buf := lp.tbuf
	have := 0
	active := false
	for {
		n, err := c.tc.Read(buf[have : have+maxPlaintext])
		have += n
		if err == nil && s.buffered() && have+maxPlaintext <= len(buf) {
			continue // the next record is read already
		}
		ended := err != nil && err != errWouldBlock
		if have == 0 {
			switch {
			case !ended && s.blocked():
				// What crypto/tls wrote of its own (the answer to a
				// KeyUpdate) did not all go: a goroutine writes the rest.
				if active || lp.activate(c) {
					lp.handBackTLS(c, nil)
				}
			case ended:
				// EOF, close_notify, a reset, a TLS error: crypto/tls
				// keeps it; nothing to answer.
				c.state.Store(stClosing)
				lp.end(c)
			case active:
				lp.idleTLS(c, now) // what was read is answered
			}
			return // nothing yet, or part of a record: wait for the rest
		}
		if !active && !lp.activate(c) {
			return
		}
		active = true
		if ended {
			// Requests, then the end: they are answered, and then the
			// connection closed, here or by the goroutine it goes to,
			// which meets the end again (crypto/tls keeps it) and so
			// never comes back to a loop.
			s.ended = true
		}
		c.now = now
		p, closing, handBack := c.serveReady(buf[:have], &lp.work, lp.watch != nil)
		blocked := c.loopBlocked()
		switch {
		case c.werr != nil:
			c.state.Store(stClosing)
			lp.end(c)
		case blocked && closing:
			c.closeAfterPending = true
			lp.handBackTLS(c, nil)
		case blocked || handBack:
			lp.handBackTLS(c, buf[p:have])
		case closing || s.ended:
			c.state.Store(stClosing)
			lp.end(c)
		case s.buffered():
			// More records were read than buf had room for: serve them
			// too.
			have = 0
			continue
		default:
			lp.idleTLS(c, now)
		}
		return
	}
}

// activate makes c, idle in the loop, active; false if Shutdown or Close
// got it first (then it is closed).
func (lp *loop) activate(c *conn) bool {
	if !c.state.CompareAndSwap(stLoopIdle, stActive) {
		lp.end(c)
		return false
	}
	if lp.srv.ConnState != nil {
		lp.srv.ConnState(c.nc, http.StateActive)
	}
	return true
}

// idleTLS makes c, whose input the loop answered, idle in the loop again.
func (lp *loop) idleTLS(c *conn, now time.Time) {
	c.lastActive = now.UnixNano()
	if lp.srv.ConnState != nil {
		lp.srv.ConnState(c.nc, http.StateIdle)
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

// handBackTLS gives the TLS connection c a goroutine again, with input:
// what the loop decrypted but did not serve.
func (lp *loop) handBackTLS(c *conn, input []byte) {
	c.sock.nonblock.Store(false) // before Close may see it, once forgotten
	lp.forget(c, true)
	c.takeInput(input)
	go c.resumeTLS()
}

// resumeTLS is resume for a TLS connection: first what the loop's writes
// left in the tlsSock.
func (c *conn) resumeTLS() {
	stackgrow.To16K()
	if c.sock.blocked() {
		if d := c.srv.WriteTimeout; d > 0 {
			c.setWriteDeadline(time.Now().Add(d), d)
		}
		if err := c.sock.flushPending(); err != nil {
			c.werr = err
			c.end()
			return
		}
		if c.closeAfterPending && len(c.pending) == 0 {
			c.end()
			return
		}
	}
	c.resume()
}

// loopIO makes c's reads and writes not wait, for a loop that closes it
// (crypto/tls writes its close_notify).
func (c *conn) loopIO() {
	if c.sock != nil {
		c.sock.nonblock.Store(true)
	}
}

// LoopHold lets an event loop of another engine (web/h2's) read and write
// the socket of a connection whose protocol that engine serves (see
// NextProto), by its number, from its own epoll set: until LoopRelease,
// reads and writes do not wait (a read that finds nothing returns a
// net.Error whose Timeout is true, which crypto/tls does not keep; what a
// write's socket does not take at once is kept, counted as written, and
// written by Flush), and a Close is put off until LoopRelease, with wake
// called so that the holder releases the socket soon: the number must
// not be reused under the loop. fd is the socket; ok is false, and
// nothing changes, if the connection has no socket of its own, or input
// is buffered here that the socket's readiness would not show.
func (s *tlsSock) LoopHold(wake func()) (fd int, ok bool) {
	if s.buffered() {
		return -1, false
	}
	if s.fd < 0 {
		s.fd = s.socketFD()
	}
	if s.fd < 0 {
		return -1, false
	}
	s.mu.Lock()
	s.held, s.wake = true, wake
	s.mu.Unlock()
	s.drained = false
	s.nonblock.Store(true)
	return s.fd, true
}

// readHeld is a held socket's read (LoopHold). After a read that did not
// fill its buffer the socket most likely has nothing more, and the next
// read says so without a system call: the holder's epoll set, level-
// triggered, reports whatever came meanwhile. (HTTP/2 under h2load -c50
// -m10: a third of the reads were that empty one.)
func (s *tlsSock) readHeld(p []byte) (int, error) {
	if s.drained {
		s.drained = false
		return 0, errWouldBlock
	}
	n, err := s.readNow(p)
	s.drained = err == nil && n < len(p)
	return n, err
}

// LoopRelease ends LoopHold: reads and writes wait again (what writes
// left unsent is written by Flush, or before the next write), and a
// Close that came meanwhile closes the connection now, which it reports.
func (s *tlsSock) LoopRelease() (closed bool) {
	s.nonblock.Store(false)
	s.mu.Lock()
	closed = s.closeWanted
	s.held, s.wake, s.closeWanted = false, nil, false
	s.mu.Unlock()
	if closed {
		_ = s.Conn.Close()
	}
	return closed
}

// Blocked reports whether writes left output unsent (see LoopHold).
func (s *tlsSock) Blocked() bool { return s.blocked() }

// Flush writes what writes left unsent while a loop held the socket,
// waiting for the socket to take it. The holder calls it once released,
// before writing anything else, with no other write under way.
func (s *tlsSock) Flush() error { return s.flushPending() }

// Close closes the connection, or, while a loop holds its socket, asks
// the loop to release it and closes it then (LoopRelease).
func (s *tlsSock) Close() error {
	s.mu.Lock()
	if s.held {
		s.closeWanted = true
		wake := s.wake
		s.mu.Unlock()
		wake()
		return nil
	}
	s.mu.Unlock()
	return s.Conn.Close()
}
