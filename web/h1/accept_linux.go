package h1

import (
	"net/http"
	"time"

	"github.com/gotwistd/gotwistd/web/fast"
)

// An accepted connection whose request is already there when Serve's
// accept returns (a client sends it with the handshake's last ACK, or
// just after) is answered by the accepting goroutine itself, as an event
// loop would: one read(2), the fast.Handler, one write(2). A request that
// asks for "Connection: close" (one request per connection) is then done
// without a goroutine of its own, and so without its creation, its stack
// growth and the scheduler's hand-over between the accepting thread and
// the serving one. A kept-alive connection goes to an event loop after
// its answer; anything the fast path does not take (a request for the
// Handler, a partial head, a short write) goes to the connection's
// goroutine as before, with what was read. A connection with nothing to
// read yet gets its goroutine as before, so the timeouts of a new
// connection (ReadHeaderTimeout from its accept, Shutdown's grace) are
// unchanged.

// acceptor is what one Serve's accept loop lends the connections it
// answers itself: a read buffer and the work state.
type acceptor struct {
	rbuf []byte
	work work
}

// answerAtAccept answers c's first requests if they are already readable
// and the fast path takes them; true if c needs nothing more from Serve
// (closed, in an event loop, or on its own goroutine).
func (s *Server) answerAtAccept(c *conn, a *acceptor) bool {
	if c.fd < 0 || c.hs != nil || c.tc != nil || s.Fast == nil || s.noEventLoop {
		return false
	}
	if a.rbuf == nil {
		a.rbuf = make([]byte, readBufSize)
	}
	n, err := rawRead(c.fd, a.rbuf)
	if n <= 0 || err != nil {
		// Nothing yet (EAGAIN), or EOF, or an error: the goroutine
		// waits, or finds the end, as it always has.
		return false
	}
	if !c.state.CompareAndSwap(stNew, stActive) {
		return false // Close got it first: the goroutine closes it
	}
	if s.ConnState != nil {
		s.ConnState(c.nc, http.StateActive)
	}
	now := time.Now()
	c.now = now
	watched := false
	if w, ok := s.Fast.(fast.Watcher); ok && w.WatchFD() >= 0 {
		w.Refresh() // what changed before the request arrived counts
		watched = true
	}
	data := a.rbuf[:n]
	p, closing, handBack := c.serveReady(data, &a.work, watched)
	s.afterReady(c, data, p, closing, handBack, now)
	return true
}

// afterReady goes on with c, a new connection whose first bytes, data,
// serveReady answered up to p: it closes c, or gives it to its goroutine
// or an event loop.
func (s *Server) afterReady(c *conn, data []byte, p int, closing, handBack bool, now time.Time) {
	switch {
	case c.werr != nil || closing && len(c.pending) == 0:
		c.state.Store(stClosing)
		c.end()
	case len(c.pending) > 0 || handBack:
		c.lastFast = p > 0
		c.closeAfterPending = closing
		if !closing {
			c.takeInput(data[p:])
		}
		go c.resume()
	default:
		// Kept alive, every byte served: idle, in an event loop if
		// one takes it.
		c.lastFast = true
		c.idleAt.Store(now.UnixNano())
		if !c.state.CompareAndSwap(stActive, stIdle) {
			c.end() // Close got it first
			return
		}
		if s.ConnState != nil {
			s.ConnState(c.nc, http.StateIdle)
		}
		if c.between != nil {
			c.between() // every byte read was served
		}
		if !s.toLoop(c) {
			go c.run()
		}
	}
}
