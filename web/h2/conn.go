package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwistd/gotwistd/web/fast"
	"golang.org/x/net/http2/hpack"
)

// Output limits.
const (
	// outLimit: stream data waits in its stream, not in the connection's
	// output buffer, beyond this.
	outLimit = 256 << 10
	// streamQueueLimit: a handler writing a body waits while its stream
	// holds more than this unsent.
	streamQueueLimit = 64 << 10
	// readBufSize holds a whole frame of the size this server allows.
	readBufSize = 2 * (defaultMaxFrameSize + frameHeaderLen)
	// maxRefused: a connection that gets this many streams refused (over
	// the concurrency limit) is ended: a client resetting streams as fast
	// as it opens them (CVE-2023-44487) keeps handlers busy otherwise.
	maxRefused = 1000
)

// lateRequestWait is how long a connection that has taken in no stream
// when the server shuts down (a new one: accepted just before, or as the
// server shut down) waits for its client's first request before GOAWAY:
// the client connected to a socket that accepted it, and a one-shot
// client (curl) does not retry a request that a GOAWAY naming stream 0
// refused.
const lateRequestWait = 2 * time.Second

// conn is one HTTP/2 connection. Its goroutine (serve) reads and handles
// frames and answers what Fast takes; handlers of other requests run on
// goroutines of their own. Everything shared is under mu; output goes to
// out, and whoever finds no write in progress writes it (flush).
type conn struct {
	srv     *Server
	nc      net.Conn
	remote  string
	tls     *tls.ConnectionState
	hold    holder // the connection beneath TLS, if it can gather writes
	maxHead int

	// The reading goroutine's own.
	rbuf         []byte
	r0, r1       int
	dec          *hpack.Decoder
	block        []byte // header block being assembled
	lastBlock    []byte // the last block decoded (see decode)
	repeatable   bool   // lastBlock is tableNeutral: the same bytes decode to the same fields
	blockStream  uint32 // its stream, while CONTINUATION frames are due
	blockFlags   uint8  // the HEADERS frame's flags
	maxStreamID  uint32 // highest stream the client opened
	recvWindow   int64  // the connection's receive window
	refused      int
	peerSettings bool                // the client's first SETTINGS arrived
	refreshed    bool                // Fast's Watcher was refreshed since the last read
	now          time.Time           // the clock when it was first needed since the last read; zero: not yet
	fields       []hpack.HeaderField // the header block just decoded
	fastFields   []hpack.HeaderField // a fast response's, being encoded
	lowerNames   map[string]string   // see lowerName
	fastScratch  fast.Request

	mu         sync.Mutex
	cond       sync.Cond // signalled when output was written, windows grew, or the connection failed
	streams    map[uint32]*stream
	handlers   int // handler goroutines running, streams reset or not
	sendWindow int64
	peerWindow int64  // the client's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame  int    // the client's SETTINGS_MAX_FRAME_SIZE
	out, spare []byte // frames to write; the buffer being written
	writing    bool
	wrote      int64 // bytes written so far
	werr       error
	enc        *hpack.Encoder
	encBuf     bytes.Buffer
	encEpoch   uint64                // counts changes to enc's dynamic table (see fastBlock)
	fastBlocks [fastBlocks]fastBlock // header blocks of fast responses, kept
	fastNext   int                   // the next of fastBlocks to replace
	queue      []*stream             // streams with data waiting for window or room
	goingAway  bool                  // GOAWAY sent: no new stream
	// lastStream is the highest stream taken in (served, or refused with
	// REFUSED_STREAM) before any GOAWAY: what a GOAWAY names as the last
	// stream, so that a client retries exactly the streams above it
	// (RFC 9113 section 6.8). maxStreamID may be higher: streams opened
	// after the GOAWAY, ignored.
	lastStream uint32
	// late: the server shut down before this connection took in a
	// stream. Its client's first requests are served all the same (it
	// sent them to a socket that accepted them), then GOAWAY names the
	// last of them; a client that sends none within lateRequestWait gets
	// GOAWAY with last stream 0. Set by shutdown, read by serve.
	late      atomic.Bool
	lateTimer *time.Timer // under mu
	started   bool        // under mu: the server's SETTINGS are queued

	loop loopState // waiting in an event loop (loop_linux.go)
}

// stream is one request and its response.
type stream struct {
	id         uint32
	window     int64 // send window
	recvWindow int64 // receive window left for the body
	pend       [][]byte
	pend0      [1][]byte // pend's first backing: one piece needs no allocation
	pendLen    int
	endAfter   bool // END_STREAM once pend is sent
	ended      bool // END_STREAM sent
	queued     bool
	recvEnd    bool // the client ended its side
	reset      bool // gone: reset by either side, or the connection ended
	declared   int64
	received   int64
	body       *body
	cancel     context.CancelFunc
	handler    bool // its handler is running
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv: s, nc: nc, remote: nc.RemoteAddr().String(), maxHead: s.maxHeaderBytes(),
		rbuf:       make([]byte, readBufSize),
		recvWindow: defaultWindow,
		streams:    make(map[uint32]*stream),
		sendWindow: defaultWindow,
		peerWindow: defaultWindow,
		peerFrame:  defaultMaxFrameSize,
	}
	c.cond.L = &c.mu
	if tc := c.tlsConn(); tc != nil {
		st := tc.ConnectionState()
		c.tls = &st
		c.hold, _ = tc.NetConn().(holder)
	}
	c.initLoop()
	c.dec = hpack.NewDecoder(defaultHeaderTableLen, func(f hpack.HeaderField) { c.fields = append(c.fields, f) })
	c.dec.SetMaxStringLength(c.maxHead)
	c.enc = hpack.NewEncoder(&c.encBuf)
	return c
}

// serve runs the connection until it ends.
func (c *conn) serve() {
	defer c.end()
	c.mu.Lock()
	c.out = appendSettings(c.out,
		setting{settingMaxConcurrentStreams, c.srv.maxStreams()},
		setting{settingMaxHeaderListSize, uint32(c.maxHead)},
		setting{settingEnablePush, 0},
	)
	// A larger connection window than the default: bodies nobody reads
	// must not stall the other streams.
	c.out = appendWindowUpdate(c.out, 0, 1<<20)
	c.recvWindow += 1 << 20
	c.started = true
	c.startLateLocked()
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.lateTimer != nil {
			c.lateTimer.Stop()
		}
		c.mu.Unlock()
	}()
	c.flush()

	if err := c.readPreface(); err != nil {
		return
	}
	for {
		// Frames first: the read that brought the preface may have
		// brought requests too.
		if e := c.frames(); e != nil {
			c.framesFailed(e)
			return
		}
		if c.lastStream > 0 && c.late.Load() {
			// The first flight of requests is in: serve it, take no
			// more (lastStream is only written by this goroutine).
			c.goAway(errNo)
		}
		c.pump()
		c.flush()
		if held, fe, re := c.park(); held {
			switch {
			case fe != nil:
				c.framesFailed(fe)
				return
			case re != nil && !c.readFailed(re):
				return
			}
			continue
		}
		if _, err := c.read(); err != nil && !c.readFailed(err) {
			return
		}
	}
}

// framesFailed ends the connection after frames returned e: with GOAWAY,
// if e is a connection error.
func (c *conn) framesFailed(e error) {
	var ce connError
	if errors.As(e, &ce) {
		c.goAway(ce.code)
		c.linger()
	}
}

// readFailed handles a read's error: true if the connection goes on (a
// deadline that woke it while streams are open).
func (c *conn) readFailed(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if !c.done() {
			return true
		}
		// Gone away (shutdown, idle timeout) with every stream
		// done: a close with the client's WINDOW_UPDATEs or
		// late HEADERS unread would reset the connection, and
		// the client's kernel would drop the end of responses
		// it has not read yet.
		c.linger()
	}
	return false
}

// linger closes the sending side after a GOAWAY, and reads and drops
// what the client still sends for a moment: closing with input unread
// would reset the connection, and the client could lose the GOAWAY (and
// what came before it).
func (c *conn) linger() {
	c.mu.Lock()
	for (c.writing || len(c.out) > 0) && c.werr == nil {
		c.cond.Wait() // the GOAWAY is not out yet
	}
	c.mu.Unlock()
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	for total := 0; total < 256<<10; {
		n, err := c.nc.Read(c.rbuf)
		total += n
		if err != nil {
			return
		}
	}
}

// done reports whether a connection woken by its read deadline should
// end: it went away, or sat idle too long, with no stream left.
func (c *conn) done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busyLocked() {
		return false
	}
	if !c.goingAway {
		// Idle timeout: say so.
		c.out = appendGoAway(c.out, c.lastStream, errNo)
		c.goingAway = true
		c.mu.Unlock()
		c.flush()
		c.mu.Lock()
	}
	return true
}

// read reads more input, with the idle timeout when no stream is open.
func (c *conn) read() (int, error) {
	c.compact()
	// The deadline is set under mu: a handler ending the last stream of
	// a connection going away sets it to now (wakeIfDoneLocked), and a
	// deadline cleared here after that would leave this read waiting for
	// a client that has nothing more to send.
	c.mu.Lock()
	idle := !c.busyLocked()
	switch {
	case idle && c.goingAway:
		_ = c.nc.SetReadDeadline(time.Now())
	case idle && c.srv.IdleTimeout > 0:
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.IdleTimeout))
	default:
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	c.mu.Unlock()
	n, err := c.nc.Read(c.rbuf[c.r1:])
	c.r1 += n
	return n, err
}

// compact makes room in rbuf for a whole frame after what is unread.
func (c *conn) compact() {
	if c.r0 == c.r1 {
		c.r0, c.r1 = 0, 0
	} else if c.r0 > 0 && len(c.rbuf)-c.r1 < defaultMaxFrameSize+frameHeaderLen {
		c.r1 = copy(c.rbuf, c.rbuf[c.r0:c.r1])
		c.r0 = 0
	}
}

// tlsConn is the connection as a *tls.Conn, or nil.
func (c *conn) tlsConn() *tls.Conn {
	tc, _ := c.nc.(*tls.Conn)
	return tc
}

// readPreface reads the client's connection preface.
func (c *conn) readPreface() error {
	for c.r1 < len(clientPreface) {
		if _, err := c.read(); err != nil {
			return err
		}
	}
	if string(c.rbuf[:len(clientPreface)]) != clientPreface {
		c.goAway(errProtocol)
		return errors.New("http2: bad client preface")
	}
	c.r0 = len(clientPreface)
	return nil
}

// frames handles every complete frame in the read buffer.
func (c *conn) frames() error {
	c.refreshed, c.now = false, time.Time{}
	for c.r1-c.r0 >= frameHeaderLen {
		h := parseFrameHeader(c.rbuf[c.r0:])
		if h.length > defaultMaxFrameSize {
			return connError{errFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE"}
		}
		if c.r1-c.r0 < frameHeaderLen+int(h.length) {
			return nil
		}
		p := c.rbuf[c.r0+frameHeaderLen : c.r0+frameHeaderLen+int(h.length)]
		c.r0 += frameHeaderLen + int(h.length)
		if err := c.frame(h, p); err != nil {
			return err
		}
	}
	return nil
}

// frame handles one frame.
func (c *conn) frame(h frameHeader, p []byte) error {
	if !c.peerSettings && h.typ != frameSettings {
		return connError{errProtocol, "the first frame must be SETTINGS"}
	}
	if c.blockStream != 0 && (h.typ != frameContinuation || h.stream != c.blockStream) {
		return connError{errProtocol, "a header block was interrupted"}
	}
	switch h.typ {
	case frameData:
		return c.data(h, p)
	case frameHeaders:
		return c.headers(h, p)
	case framePriority:
		if h.stream == 0 {
			return connError{errProtocol, "PRIORITY on stream 0"}
		}
		if len(p) != 5 {
			return c.streamError(h.stream, errFrameSize)
		}
		if binary.BigEndian.Uint32(p)&(1<<31-1) == h.stream {
			return c.streamError(h.stream, errProtocol)
		}
		return nil
	case frameRSTStream:
		return c.rstStream(h, p)
	case frameSettings:
		return c.settings(h, p)
	case framePushPromise:
		return connError{errProtocol, "PUSH_PROMISE from a client"}
	case framePing:
		if h.stream != 0 {
			return connError{errProtocol, "PING on a stream"}
		}
		if len(p) != 8 {
			return connError{errFrameSize, "PING of the wrong size"}
		}
		if h.flags&flagAck == 0 {
			c.mu.Lock()
			c.out = appendFrameHeader(c.out, 8, framePing, flagAck, 0)
			c.out = append(c.out, p...)
			c.mu.Unlock()
		}
		return nil
	case frameGoAway:
		if h.stream != 0 {
			return connError{errProtocol, "GOAWAY on a stream"}
		}
		c.goAway(errNo)
		return nil
	case frameWindowUpdate:
		return c.windowUpdate(h, p)
	case frameContinuation:
		if c.blockStream == 0 {
			return connError{errProtocol, "CONTINUATION without HEADERS"}
		}
		return c.continuation(h, p)
	}
	return nil // unknown frame types are ignored
}

// shutdown tells the connection that the server is shutting down: GOAWAY
// at once, but to a connection that has taken in no stream yet, which
// first serves its client's first requests (see late).
func (c *conn) shutdown() {
	c.mu.Lock()
	if c.lastStream > 0 || c.goingAway {
		c.mu.Unlock()
		c.goAway(errNo)
		return
	}
	c.late.Store(true)
	c.startLateLocked()
	c.mu.Unlock()
}

// startLateLocked starts the wait of a late connection for its first
// request, once its SETTINGS are queued (a GOAWAY goes after them).
func (c *conn) startLateLocked() {
	if c.started && c.late.Load() && c.lateTimer == nil {
		c.lateTimer = time.AfterFunc(lateRequestWait, func() { c.goAway(errNo) })
	}
}

// goAway sends GOAWAY with code (once): no new stream will be served.
func (c *conn) goAway(code uint32) {
	c.mu.Lock()
	if c.goingAway && code == errNo {
		c.mu.Unlock()
		return
	}
	c.goingAway = true
	c.out = appendGoAway(c.out, c.lastStream, code)
	c.wakeIfDoneLocked()
	c.mu.Unlock()
	c.flush()
}

// end is the connection's last act: handlers still running find their
// streams gone.
func (c *conn) end() {
	// What is still to be written goes first (the end of a response
	// that let a going-away connection finish): by this goroutine, or by
	// the one writing now. A client that reads nothing has 5 s.
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.flush()
	c.mu.Lock()
	for c.writing && c.werr == nil {
		c.cond.Wait()
	}
	for _, st := range c.streams {
		c.closeLocked(st)
	}
	if c.werr == nil {
		c.werr = net.ErrClosed
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}
