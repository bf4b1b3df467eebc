package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotwistd/gotwistd/internal/stackgrow"
	"github.com/gotwistd/gotwistd/web/fast"
)

// Connection states, for Shutdown.
const (
	stNew int32 = iota
	stActive
	stIdle
	stLoopIdle // idle in an event loop
	stClosing
)

// Buffer sizes and other tuning.
const (
	// readBufSize is a connection's read buffer, grown for larger heads
	// up to the head limit.
	readBufSize = 4 << 10
	// flushAt is how much output the engine holds (pipelined responses)
	// before writing it out.
	flushAt = 32 << 10
	// inlineBody is the largest body copied into the output buffer; a
	// larger one is written from where it is, with writev(2).
	inlineBody = 16 << 10
	// tlsRecord is the most plaintext a TLS record carries.
	tlsRecord = 16 << 10
	// keepWriteBuf is the largest output buffer kept for reuse.
	keepWriteBuf = 64 << 10
	// lingerTime and lingerBytes bound how long and how much a closing
	// connection reads and throws away after its last response, so that
	// unread input does not make the kernel reset the connection before
	// the client has read that response.
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
	// maxPostHandlerRead is how much of a request body the handler left
	// unread the engine reads and throws away to keep the connection; a
	// larger rest closes it (as net/http does).
	maxPostHandlerRead = 256 << 10
)

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

var works = sync.Pool{New: func() any { return new(work) }}

// work is the state a connection needs only while it has a request to
// serve; idle connections give it back to a pool.
type work struct {
	req  Request
	resp response
	body body
	wbuf []byte
	vec  net.Buffers

	served atomic.Int64 // requests answered with it, for the loops' plan (affinity_linux.go)
}

// conn is one client connection.
type conn struct {
	srv    *Server
	nc     net.Conn
	raw    syscall.RawConn // nc's socket when nc is a bare one; nil otherwise
	vw     io.Writer       // the socket under nc, for writev; nil: use nc
	remote string
	hs     Handshaker // a wrapper's, to call before anything else; or nil
	lim    limits
	born   int64 // unix nanoseconds of accept
	state  atomic.Int32
	idleAt atomic.Int64 // unix nanoseconds of the last move to stIdle, for Shutdown

	rbuf     []byte // read buffer (nil while idle on a bare socket)
	r0, r1   int    // unread bytes: rbuf[r0:r1]
	scan     int    // headEnd resume offset, relative to r0
	blank    int    // empty lines skipped before the current request
	armed    bool   // the read-header deadline of the current request is set
	lineDone bool   // the current request's line was judged complete

	w *work // nil while idle

	// between is a wrapper's BetweenRequests (handover.Boundary), called
	// whenever the connection is between requests with no unread byte;
	// or nil.
	between func()

	tc       *tls.Conn            // nc when it is a TLS connection; or nil
	tlsState *tls.ConnectionState // tc's, once its handshake is done
	sock     *tlsSock             // under tc, when event loops may serve it (adoptSock); or nil
	readFull bool                 // the last read through tc filled the buffer: it may hold more

	rdl, wdl time.Time // deadlines as last set
	now      time.Time // when the last read returned

	rn     int
	rerr   error
	readFn func(fd uintptr) bool

	fd           int         // the socket, when reads may go to it directly; -1 otherwise
	looks        uint32      // times a loop found it idle again (look)
	lastFast     bool        // the last request was answered by the FastHandler
	lastActive   int64       // unix nanoseconds, while in an event loop
	pending      [][]byte    // output an event loop could not write
	inLoop       bool        // an event loop is serving it: writes must not wait
	readTimedOut bool        // the last read failing hit the read deadline
	refreshed    bool        // the fast.Watcher was refreshed since the last read
	looped       atomic.Bool // an event loop has it: only the loop may close it

	ctx    context.Context // for *http.Request; made on first use
	cancel context.CancelFunc

	linger   bool  // read and discard input before closing
	failSize int   // body bytes of the last error response
	werr     error // a write failed: the connection is done

	// closeAfterPending: pending ends with a "Connection: close"
	// response; close once it is written.
	closeAfterPending bool
}

// Transparent is implemented by connection wrappers whose Read and Write
// go to the wrapped connection (Unwrap) unchanged: they count
// connections, or act on Close. Through such wrappers the engine reads and
// writes the socket beneath itself, and can serve the connection from an
// event loop while it is idle.
type Transparent interface {
	Unwrap() net.Conn
	TransparentIO()
}

func (s *Server) newConn(nc net.Conn, lim limits) *conn {
	c := &conn{srv: s, nc: nc, lim: lim, born: time.Now().UnixNano(), fd: -1}
	if tc, ok := nc.(*tls.Conn); ok {
		// Every byte goes through TLS: no socket to read or write
		// beneath it (no raw reads, writev, event loop or sendfile). The
		// handshake, in serve, learns the address.
		c.tc = tc
		return c
	}
	// RemoteAddr waits here, in Serve's accept loop, only for wrappers
	// without a Handshake; those with one learn it in serve.
	// Wrappers that say what they wrap (max-connections, handover) pass
	// writes through: write vectors to the socket under them. Reads go to
	// the socket only through transparent ones.
	transparent := true
	var sc syscall.Conn
	for inner := nc; inner != nil; {
		switch t := inner.(type) {
		case *net.TCPConn:
			c.vw, sc = t, t
		case *net.UnixConn:
			c.vw, sc = t, t
		case socketConn:
			c.vw, sc = t, t
		case interface{ Unwrap() net.Conn }:
			if _, ok := inner.(Transparent); !ok {
				transparent = false
			}
			if hs, ok := inner.(Handshaker); ok && c.hs == nil {
				c.hs = hs
			}
			if b, ok := inner.(interface{ BetweenRequests() }); ok && c.between == nil {
				c.between = b.BetweenRequests
			}
			inner = t.Unwrap()
			continue
		}
		break
	}
	if c.hs == nil {
		c.remote = nc.RemoteAddr().String()
	}
	if sc != nil && transparent {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.readFn = c.rawRead
			_ = raw.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	}
	return c
}

// socketConn is a connection on a socket Serve accepted itself
// (sockConn), which the engine reads and writes as a *net.TCPConn.
type socketConn interface {
	net.Conn
	syscall.Conn
	acceptedRaw()
}

// Handshaker is implemented by connection wrappers that read something of
// their own before the connection carries HTTP (a PROXY protocol header:
// endpoint.ProxyConn). The engine calls Handshake first thing on the
// connection's goroutine, before RemoteAddr, and closes the connection
// without a word if it fails. A wrapper that is also Transparent must have
// read nothing past its part when Handshake returns.
type Handshaker interface {
	Handshake() error
}

// serve is the connection's goroutine, from its start.
func (c *conn) serve() {
	// Grow the stack once, now, not two or three times in the
	// handshake, or once deeper in the request (internal/stackgrow):
	// the sizes they reach.
	if c.tc != nil {
		stackgrow.To16K()
	} else {
		stackgrow.To4K()
	}
	if c.tc != nil && !c.handshakeTLS() {
		c.end()
		return
	}
	if c.hs != nil {
		if err := c.hs.Handshake(); err != nil {
			c.end()
			return
		}
		c.remote = c.nc.RemoteAddr().String()
	}
	if d := c.srv.ReadHeaderTimeout; d > 0 {
		c.setReadDeadline(time.Now().Add(d), d)
		c.armed = true
	}
	c.run()
}

// resume serves on its own goroutine a connection an event loop handed
// back: it writes the output the loop could not, then goes on with the
// input the loop read.
func (c *conn) resume() {
	// Grow the stack once, now, as serve does (internal/stackgrow): a
	// request off the fast path goes 4 KB deep, and the copies' walks
	// paged in .gopclntab (~0.2 MB of idle RSS after a first request).
	stackgrow.To4K()
	c.refreshed = false // the loop read the input
	if len(c.pending) > 0 {
		if d := c.srv.WriteTimeout; d > 0 {
			c.setWriteDeadline(time.Now().Add(d), d)
		}
		for _, p := range c.pending {
			if _, err := c.nc.Write(p); err != nil {
				c.werr = err
				break
			}
		}
		clear(c.pending)
		c.pending = c.pending[:0]
		if c.werr != nil || c.closeAfterPending {
			c.end()
			return
		}
	}
	c.run()
}

// run serves requests until the connection ends, or is handed to an event
// loop while idle.
func (c *conn) run() {
	for {
		if !c.process() {
			c.end()
			return
		}
		if c.w != nil && len(c.w.wbuf) > 0 && !c.flush() {
			c.end()
			return
		}
		if c.r0 == c.r1 {
			// Also in a shutdown: a response written before it started
			// left the connection open, or none was (a new connection
			// whose request has not been read yet). Shutdown closes it
			// once it has waited long enough for a request (idleGrace,
			// newConnGrace); one that comes is answered, with
			// "Connection: close".
			c.idle()
			parked, ok := c.waitIdle()
			if parked {
				return // the loop has it now
			}
			if !ok {
				c.end()
				return
			}
			if !c.state.CompareAndSwap(stIdle, stActive) && !c.state.CompareAndSwap(stNew, stActive) {
				c.end()
				return // Shutdown closed it
			}
			if c.srv.ConnState != nil {
				c.srv.ConnState(c.nc, http.StateActive)
			}
			continue
		}
		// A partial head: wait for the rest.
		if d := c.srv.ReadHeaderTimeout; d > 0 && !c.armed {
			c.setReadDeadline(c.now.Add(d), d)
			c.armed = true
		}
		if !c.read() {
			c.end()
			return
		}
	}
}

// defaultParkAfter is how long a connection whose last request went to
// the Handler waits for the next one on its goroutine before it goes to an
// event loop (Server.parkAfter, when set, replaces it).
const defaultParkAfter = time.Second

// waitIdle waits for the next request of an idle connection. parked means
// an event loop has it now; otherwise ok says whether input came (false:
// end the connection: EOF, an error, the idle timeout, Close).
//
// A connection the FastHandler answered last goes to a loop at once. One
// the Handler answered is likely to want it again soon (the loop would
// hand it straight back), so it waits on its goroutine for parkAfter
// first; if nothing came, it goes to a loop then, giving back the
// goroutine and the stack the Handler grew. (The idle timeout of a parked
// connection counts from when it reached the loop.)
func (c *conn) waitIdle() (parked, ok bool) {
	if c.lastFast && c.srv.toLoop(c) {
		return true, false
	}
	if c.state.Load() == stClosing {
		return false, false // Close got it first
	}
	idle := c.srv.IdleTimeout
	start := time.Now()
	parkAfter := c.srv.parkAfter
	if parkAfter <= 0 {
		parkAfter = defaultParkAfter
	}
	if !c.lastFast && c.srv.loopable(c) && (idle <= 0 || idle > parkAfter) {
		c.setReadDeadline(start.Add(parkAfter), parkAfter)
		if c.read() {
			return false, true
		}
		if !c.readTimedOut {
			return false, false
		}
		if c.srv.toLoop(c) {
			return true, false
		}
		if c.state.Load() == stClosing {
			return false, false
		}
	}
	if idle > 0 {
		c.setReadDeadline(start.Add(idle), idle)
	} else if !c.rdl.IsZero() {
		c.setReadDeadline(time.Time{}, 0)
	}
	return false, c.read()
}

// idle gives back what an idle connection does not need and reports it
// idle.
func (c *conn) idle() {
	c.r0, c.r1, c.scan = 0, 0, 0
	if c.w != nil {
		c.releaseWork()
	}
	if len(c.rbuf) > readBufSize {
		c.rbuf = nil // grown for a large head: do not keep it
	}
	c.idleAt.Store(c.now.UnixNano()) // the last read: as good as the response's end
	if c.state.CompareAndSwap(stActive, stIdle) && c.srv.ConnState != nil {
		c.srv.ConnState(c.nc, http.StateIdle)
	}
	c.armed = false
	if c.between != nil {
		c.between() // nothing is buffered: the next read waits for a request
	}
}

func (c *conn) getWork() *work {
	if c.w == nil {
		c.w = works.Get().(*work)
	}
	return c.w
}

func (c *conn) releaseWork() {
	w := c.w
	c.w = nil
	if cap(w.wbuf) > keepWriteBuf {
		w.wbuf = nil
	}
	w.wbuf = w.wbuf[:0]
	clear(w.vec[:cap(w.vec)])
	w.vec = w.vec[:0]
	works.Put(w)
}

// process serves the complete requests in the buffer; false means close
// the connection.
func (c *conn) process() bool {
	for c.r0 < c.r1 {
		buf := c.rbuf[c.r0:c.r1]
		if n, lines := skipBlank(buf); n > 0 {
			c.blank += lines
			if c.blank > maxLeadingBlankLines {
				c.fail(errBlankLines)
				return false
			}
			c.r0 += n
			c.scan = 0
			continue
		}
		end, resume := headEnd(buf, c.scan)
		if end < 0 {
			c.scan = resume
			if e := checkPartial(buf, c.lim, &c.lineDone); e != nil {
				c.refuse(e, buf)
				return false
			}
			return true
		}
		if end > c.lim.maxHead {
			c.refuse(errHeadTooLarge(buf, c.lim, &c.lineDone), buf)
			return false
		}
		c.scan, c.blank, c.armed, c.lineDone = 0, 0, false, false
		w := c.getWork()
		if e := parse(buf[:end], &w.req, c.lim); e != nil {
			w.req.RemoteAddr = c.remote
			c.failUnflushed(e)
			// Reported before the answer leaves: a client that has read
			// it finds the refusal logged.
			if c.srv.Refused != nil && w.req.Method != nil {
				c.srv.Refused(w.req.fastRequest(c.remote, c.now, false), e.code, c.failSize)
			}
			c.flush()
			return false
		}
		c.r0 += end
		if !c.serveRequest(&w.req) {
			return false
		}
		if c.w != nil && len(c.w.wbuf) >= flushAt && !c.flush() {
			return false
		}
	}
	return true
}

// serveRequest answers one parsed request; false means close the
// connection after what is written.
func (c *conn) serveRequest(r *Request) bool {
	r.RemoteAddr = c.remote
	if d := c.srv.WriteTimeout; d > 0 {
		c.setWriteDeadline(c.now.Add(d), d)
	}
	if c.srv.Fast != nil {
		if fr := r.fastRequest(c.remote, c.now, false); fr.Plain() {
			fr.Watched = c.refreshWatch()
			if f, ok := c.srv.Fast.ServeFast(fr); ok {
				c.lastFast = true
				closing := r.close || c.srv.inShutdown.Load()
				c.writeFast(r, &f, closing)
				return !closing && c.werr == nil
			}
		}
	}
	c.lastFast = false
	return c.serveSlow(r)
}

// writeFast writes a fast.Handler's response.
func (c *conn) writeFast(r *Request, f *fast.Response, closing bool) {
	w := c.w
	code := f.Status
	if code == 0 {
		code = http.StatusOK
	}
	b := appendStatusLine(w.wbuf, r.Minor, code)
	b = append(b, f.Header...)
	b = appendDate(b, c.now)
	switch {
	case closing:
		b = append(b, "Connection: close\r\n"...)
	case !closing && r.Minor == 0:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	w.wbuf = b
	if r.IsHEAD() || len(f.Body) == 0 || !bodyAllowedForStatus(code) {
		return
	}
	if len(f.Body) <= inlineBody {
		w.wbuf = append(w.wbuf, f.Body...)
		return
	}
	c.writeWith(f.Body)
}

// end closes the connection.
func (c *conn) end() {
	if c.w != nil {
		c.flush()
	}
	if c.linger && c.werr == nil {
		c.lingerClose()
	}
	c.nc.Close()
	if c.cancel != nil {
		c.cancel()
	}
	if c.w != nil {
		c.releaseWork()
	}
	if len(c.rbuf) == readBufSize {
		b := c.rbuf
		readBufs.Put(&b)
	}
	c.rbuf = nil
	// Reported before Shutdown can see the connection gone.
	if c.srv.ConnState != nil {
		c.srv.ConnState(c.nc, http.StateClosed)
	}
	c.srv.trackConn(c, false)
}

// context returns the connection's context for *http.Request, made on
// first use and cancelled when the connection ends.
func (c *conn) context() context.Context {
	if c.ctx == nil {
		ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, c.nc.LocalAddr())
		c.ctx, c.cancel = context.WithCancel(ctx)
	}
	return c.ctx
}

// errDone is returned by the body of a request whose connection failed.
var errDone = errors.New("h1: connection closed")
