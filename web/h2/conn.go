package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
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
	maxHead int

	// The reading goroutine's own.
	rbuf         []byte
	r0, r1       int
	dec          *hpack.Decoder
	block        []byte // header block being assembled
	blockStream  uint32 // its stream, while CONTINUATION frames are due
	blockFlags   uint8  // the HEADERS frame's flags
	maxStreamID  uint32 // highest stream the client opened
	recvWindow   int64  // the connection's receive window
	refused      int
	peerSettings bool                // the client's first SETTINGS arrived
	refreshed    bool                // Fast's Watcher was refreshed since the last read
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
	werr       error
	enc        *hpack.Encoder
	encBuf     bytes.Buffer
	queue      []*stream // streams with data waiting for window or room
	goingAway  bool      // GOAWAY sent: no new stream
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
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tls = &st
	}
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
			var ce connError
			if errors.As(e, &ce) {
				c.goAway(ce.code)
				c.linger()
			}
			return
		}
		if c.lastStream > 0 && c.late.Load() {
			// The first flight of requests is in: serve it, take no
			// more (lastStream is only written by this goroutine).
			c.goAway(errNo)
		}
		c.pump()
		c.flush()
		if _, err := c.read(); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if !c.done() {
					continue
				}
				// Gone away (shutdown, idle timeout) with every stream
				// done: a close with the client's WINDOW_UPDATEs or
				// late HEADERS unread would reset the connection, and
				// the client's kernel would drop the end of responses
				// it has not read yet.
				c.linger()
			}
			return
		}
	}
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
	if c.r0 == c.r1 {
		c.r0, c.r1 = 0, 0
	} else if c.r0 > 0 && len(c.rbuf)-c.r1 < defaultMaxFrameSize+frameHeaderLen {
		c.r1 = copy(c.rbuf, c.rbuf[c.r0:c.r1])
		c.r0 = 0
	}
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
	c.refreshed = false
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

func (c *conn) settings(h frameHeader, p []byte) error {
	if h.stream != 0 {
		return connError{errProtocol, "SETTINGS on a stream"}
	}
	if h.flags&flagAck != 0 {
		if len(p) != 0 {
			return connError{errFrameSize, "SETTINGS ACK with a payload"}
		}
		return nil
	}
	if len(p)%6 != 0 {
		return connError{errFrameSize, "SETTINGS of the wrong size"}
	}
	c.peerSettings = true
	c.mu.Lock()
	defer c.mu.Unlock()
	for ; len(p) > 0; p = p[6:] {
		id, v := binary.BigEndian.Uint16(p), binary.BigEndian.Uint32(p[2:])
		switch id {
		case settingEnablePush:
			if v > 1 {
				return connError{errProtocol, "SETTINGS_ENABLE_PUSH not 0 or 1"}
			}
		case settingInitialWindowSize:
			if v > maxWindow {
				return connError{errFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE too large"}
			}
			delta := int64(v) - c.peerWindow
			c.peerWindow = int64(v)
			for _, st := range c.streams {
				st.window += delta
				if st.window > maxWindow {
					return connError{errFlowControl, "a stream window grew too large"}
				}
				if st.window > 0 && st.pendLen > 0 && !st.queued {
					st.queued = true
					c.queue = append(c.queue, st)
				}
			}
		case settingMaxFrameSize:
			if v < defaultMaxFrameSize || v > maxFrameSizeLimit {
				return connError{errProtocol, "SETTINGS_MAX_FRAME_SIZE out of range"}
			}
			c.peerFrame = int(min(v, 64<<10))
		case settingHeaderTableSize:
			c.enc.SetMaxDynamicTableSizeLimit(min(v, defaultHeaderTableLen))
		}
	}
	c.out = appendFrameHeader(c.out, 0, frameSettings, flagAck, 0)
	c.cond.Broadcast()
	return nil
}

func (c *conn) windowUpdate(h frameHeader, p []byte) error {
	if len(p) != 4 {
		return connError{errFrameSize, "WINDOW_UPDATE of the wrong size"}
	}
	inc := int64(binary.BigEndian.Uint32(p) & (1<<31 - 1))
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.stream == 0 {
		if inc == 0 {
			return connError{errProtocol, "WINDOW_UPDATE of 0"}
		}
		c.sendWindow += inc
		if c.sendWindow > maxWindow {
			return connError{errFlowControl, "the connection window grew too large"}
		}
		c.cond.Broadcast()
		return nil
	}
	st := c.streams[h.stream]
	if st == nil {
		if h.stream > c.maxStreamID {
			return connError{errProtocol, "WINDOW_UPDATE on an idle stream"}
		}
		return nil // a closed stream
	}
	if inc == 0 {
		c.resetLocked(st, errProtocol)
		return nil
	}
	st.window += inc
	if st.window > maxWindow {
		c.resetLocked(st, errFlowControl)
		return nil
	}
	if st.pendLen > 0 && !st.queued {
		st.queued = true
		c.queue = append(c.queue, st)
	}
	c.cond.Broadcast()
	return nil
}

func (c *conn) rstStream(h frameHeader, p []byte) error {
	if h.stream == 0 {
		return connError{errProtocol, "RST_STREAM on stream 0"}
	}
	if len(p) != 4 {
		return connError{errFrameSize, "RST_STREAM of the wrong size"}
	}
	if h.stream > c.maxStreamID {
		return connError{errProtocol, "RST_STREAM on an idle stream"}
	}
	c.mu.Lock()
	if st := c.streams[h.stream]; st != nil {
		c.closeLocked(st)
	}
	c.mu.Unlock()
	return nil
}

func (c *conn) data(h frameHeader, p []byte) error {
	if h.stream == 0 {
		return connError{errProtocol, "DATA on stream 0"}
	}
	if h.stream > c.maxStreamID {
		return connError{errProtocol, "DATA on an idle stream"}
	}
	// Flow control counts the whole payload, padding included.
	n := int64(len(p))
	c.recvWindow -= n
	if c.recvWindow < 0 {
		return connError{errFlowControl, "DATA beyond the connection window"}
	}
	body, ok := stripPadding(p, h.flags)
	if !ok {
		return connError{errProtocol, "padding longer than the frame"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > 0 {
		// The connection window is given back at once; a stream's only
		// as its handler reads.
		c.out = appendWindowUpdate(c.out, 0, uint32(n))
		c.recvWindow += n
	}
	st := c.streams[h.stream]
	if st == nil || st.recvEnd {
		if st != nil {
			c.resetLocked(st, errStreamClosed)
		} else {
			c.out = appendRSTStream(c.out, h.stream, errStreamClosed)
		}
		return nil
	}
	st.recvWindow -= n
	if st.recvWindow < 0 {
		c.resetLocked(st, errFlowControl)
		return nil
	}
	st.received += int64(len(body))
	if st.declared >= 0 && st.received > st.declared {
		c.resetLocked(st, errProtocol)
		return nil
	}
	if h.flags&flagEndStream != 0 {
		st.recvEnd = true
		if st.declared >= 0 && st.received != st.declared {
			c.resetLocked(st, errProtocol)
			return nil
		}
	}
	if st.ended {
		// The response is complete: the rest of the body is not wanted.
		if !st.recvEnd {
			c.out = appendRSTStream(c.out, st.id, errNo)
			c.closeLocked(st)
			return nil
		}
		c.maybeCloseLocked(st)
		return nil
	}
	if st.body != nil {
		st.body.put(body, st.recvEnd)
	} else if n > 0 {
		// Nobody reads this body: give the stream its window back.
		c.out = appendWindowUpdate(c.out, st.id, uint32(n))
		st.recvWindow += n
	}
	c.maybeCloseLocked(st)
	return nil
}

func (c *conn) headers(h frameHeader, p []byte) error {
	if h.stream == 0 {
		return connError{errProtocol, "HEADERS on stream 0"}
	}
	p, ok := stripPadding(p, h.flags)
	if !ok {
		return connError{errProtocol, "padding longer than the frame"}
	}
	if h.flags&flagPriority != 0 {
		if len(p) < 5 {
			return connError{errFrameSize, "HEADERS too short for its priority"}
		}
		if binary.BigEndian.Uint32(p)&(1<<31-1) == h.stream {
			// Depending on itself: a stream error, once the block is
			// decoded (HPACK's state must follow every block).
			c.blockFlags = h.flags | 0x80
		}
		p = p[5:]
	}
	c.block = append(c.block[:0], p...)
	if c.blockFlags&0x80 == 0 {
		c.blockFlags = h.flags
	}
	if h.flags&flagEndHeaders == 0 {
		c.blockStream = h.stream
		return nil
	}
	return c.endHeaders(h.stream)
}

func (c *conn) continuation(h frameHeader, p []byte) error {
	// A header list may be maxHead long decoded, a little more encoded
	// (Huffman rarely grows a string); beyond that, a flood.
	if len(c.block)+len(p) > c.maxHead+c.maxHead/4+16<<10 {
		return connError{errEnhanceYourCalm, "header block too large"}
	}
	c.block = append(c.block, p...)
	if h.flags&flagEndHeaders == 0 {
		return nil
	}
	c.blockStream = 0
	return c.endHeaders(h.stream)
}

// endHeaders handles a complete header block: a new request, or
// trailers.
func (c *conn) endHeaders(id uint32) error {
	flags := c.blockFlags
	c.blockFlags = 0
	fields, err := c.decode()
	if err != nil {
		return connError{errCompression, "cannot decode a header block: " + err.Error()}
	}
	if id%2 == 0 {
		return connError{errProtocol, "a client opened an even-numbered stream"}
	}
	end := flags&flagEndStream != 0
	if id <= c.maxStreamID {
		c.mu.Lock()
		st := c.streams[id]
		c.mu.Unlock()
		if st == nil || st.recvEnd {
			return connError{errStreamClosed, "HEADERS on a closed stream"}
		}
		// Trailers: they end the stream, and carry no pseudo-header.
		if !end {
			return connError{errProtocol, "trailers without END_STREAM"}
		}
		for _, f := range fields {
			if len(f.Name) > 0 && f.Name[0] == ':' {
				c.mu.Lock()
				c.resetLocked(st, errProtocol)
				c.mu.Unlock()
				return nil
			}
		}
		c.mu.Lock()
		st.recvEnd = true
		if st.declared >= 0 && st.received != st.declared {
			c.resetLocked(st, errProtocol)
		} else if st.body != nil {
			st.body.put(nil, true)
		}
		c.maybeCloseLocked(st)
		c.mu.Unlock()
		return nil
	}
	c.maxStreamID = id
	if flags&0x80 != 0 {
		return c.streamError(id, errProtocol)
	}
	c.mu.Lock()
	if c.goingAway {
		c.mu.Unlock()
		return nil // after GOAWAY: ignored
	}
	c.lastStream = id // under mu, as goAway reads it: a GOAWAY names no stream it drops
	if uint32(len(c.streams)+c.zombiesLocked()) >= c.srv.maxStreams() {
		c.out = appendRSTStream(c.out, id, errRefusedStream)
		c.mu.Unlock()
		c.refused++
		if c.refused > maxRefused {
			return connError{errEnhanceYourCalm, "too many streams refused"}
		}
		return nil
	}
	st := &stream{id: id, window: c.peerWindow, recvWindow: defaultWindow, declared: -1, recvEnd: end}
	st.pend = st.pend0[:0]
	c.streams[id] = st
	c.mu.Unlock()
	// One validation for both paths; the *http.Request only for the
	// Handler.
	var h head
	if code := c.validate(st, fields, &h); code != 0 {
		if code < 1000 {
			return c.streamError(id, uint32(code))
		}
		c.respondStatus(st, code-1000)
		return nil
	}
	if c.srv.Fast != nil && c.serveFast(st, &h) {
		return nil
	}
	c.startHandler(st, c.request(st, fields, &h))
	return nil
}

// decode decodes the header block in c.block, as hpack's DecodeFull
// does, into c.fields: valid until the next block.
func (c *conn) decode() ([]hpack.HeaderField, error) {
	if cap(c.fields) > maxKeptFields {
		c.fields = nil // an unusually long list: not kept for the connection's life
	} else {
		clear(c.fields) // nothing kept alive from the last block
		c.fields = c.fields[:0]
	}
	if _, err := c.dec.Write(c.block); err != nil {
		return nil, err
	}
	if err := c.dec.Close(); err != nil {
		return nil, err
	}
	return c.fields, nil
}

// maxKeptFields: a connection keeps the slice of a header list this long
// for the next.
const maxKeptFields = 64

// busyLocked reports whether a handler runs or a response is unfinished:
// the connection is not idle.
func (c *conn) busyLocked() bool {
	if c.handlers > 0 {
		return true
	}
	for _, st := range c.streams {
		if !st.ended {
			return true
		}
	}
	return false
}

// zombiesLocked is the number of handlers still running for streams that
// are gone (reset): they count against the concurrency limit.
func (c *conn) zombiesLocked() int {
	z := c.handlers
	for _, st := range c.streams {
		if st.handler {
			z--
		}
	}
	return max(z, 0)
}

// streamError resets stream id with code.
func (c *conn) streamError(id uint32, code uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[id]; st != nil {
		c.resetLocked(st, code)
	} else {
		c.out = appendRSTStream(c.out, id, code)
	}
	return nil
}

// resetLocked sends RST_STREAM for st and forgets it.
func (c *conn) resetLocked(st *stream, code uint32) {
	if !st.reset {
		c.out = appendRSTStream(c.out, st.id, code)
	}
	c.closeLocked(st)
}

// closeLocked forgets st: its handler's writes go nowhere now.
func (c *conn) closeLocked(st *stream) {
	st.reset = true
	st.pend, st.pendLen = nil, 0
	if st.body != nil {
		st.body.fail(errStreamGone)
	}
	if st.cancel != nil {
		st.cancel()
	}
	delete(c.streams, st.id)
	c.cond.Broadcast()
	c.wakeIfDoneLocked()
}

// maybeCloseLocked forgets st once both sides ended it.
func (c *conn) maybeCloseLocked(st *stream) {
	if st.ended && st.recvEnd && !st.reset {
		delete(c.streams, st.id)
		c.wakeIfDoneLocked()
	}
}

// wakeIfDoneLocked wakes the reading goroutine of a connection going away
// once its last stream is done, so that it ends.
func (c *conn) wakeIfDoneLocked() {
	if c.goingAway && !c.busyLocked() {
		_ = c.nc.SetReadDeadline(time.Now())
	}
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

// flush writes the output; a write in progress on another goroutine takes
// it instead.
func (c *conn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writing {
		return
	}
	for len(c.out) > 0 && c.werr == nil {
		b := c.out
		c.out, c.spare = c.spare[:0], nil
		c.writing = true
		c.mu.Unlock()
		_, err := c.nc.Write(b)
		c.mu.Lock()
		c.writing = false
		if err != nil {
			c.werr = err
		}
		if c.spare == nil {
			c.spare = b[:0]
		}
		c.pumpLocked()
		c.cond.Broadcast()
	}
	if c.werr != nil {
		c.out = c.out[:0]
	}
}

// pump moves waiting stream data into the output, as windows allow.
func (c *conn) pump() {
	c.mu.Lock()
	c.pumpLocked()
	c.mu.Unlock()
}

func (c *conn) pumpLocked() {
	n := 0
	for n < len(c.queue) && len(c.out) < outLimit {
		st := c.queue[n]
		if !c.sendLocked(st) {
			break // the connection window is used up
		}
		st.queued = false
		n++
	}
	if n > 0 {
		// The same array again, without the streams sent.
		left := copy(c.queue, c.queue[n:])
		clear(c.queue[left:])
		c.queue = c.queue[:left]
	}
}

// sendLocked writes what st has waiting as DATA frames, as far as the
// windows and the output limit allow; false if the connection window
// stopped it (st stays queued), true if st is done for now (sent, or
// waiting for its own window).
func (c *conn) sendLocked(st *stream) bool {
	for !st.reset && (st.pendLen > 0 || st.endAfter && !st.ended) {
		n := min(st.pendLen, c.peerFrame)
		if n > 0 {
			if st.window <= 0 {
				return true
			}
			if c.sendWindow <= 0 {
				return false
			}
			n = int(min(int64(n), st.window, c.sendWindow))
		}
		if len(c.out) >= outLimit {
			return false
		}
		last := n == st.pendLen && st.endAfter
		var flags uint8
		if last {
			flags = flagEndStream
		}
		c.out = appendFrameHeader(c.out, n, frameData, flags, st.id)
		for left := n; left > 0; {
			b := st.pend[0]
			k := min(left, len(b))
			c.out = append(c.out, b[:k]...)
			left -= k
			if k == len(b) {
				st.pend[0] = nil
				st.pend = st.pend[1:]
			} else {
				st.pend[0] = b[k:]
			}
		}
		st.pendLen -= n
		st.window -= int64(n)
		c.sendWindow -= int64(n)
		if last {
			c.finishLocked(st)
		}
	}
	return true
}

// finishLocked notes that END_STREAM went out for st.
func (c *conn) finishLocked(st *stream) {
	st.ended = true
	// A stream whose client has not ended its side stays, half-closed
	// (local): what the client sends next is still checked (a body longer
	// than its Content-Length is a PROTOCOL_ERROR, a window past 2^31-1 a
	// FLOW_CONTROL_ERROR), and more body is then refused with
	// RST_STREAM(NO_ERROR) (RFC 9113 section 8.1). It keeps no connection
	// from going idle.
	c.maybeCloseLocked(st)
	c.cond.Broadcast()
}

// queueLocked adds data for st (not copied), and END_STREAM after it when
// end is set.
func (c *conn) queueLocked(st *stream, b []byte, end bool) {
	if st.reset {
		return
	}
	if len(b) > 0 {
		st.pend = append(st.pend, b)
		st.pendLen += len(b)
	}
	if end {
		st.endAfter = true
	}
	if !st.queued {
		st.queued = true
		c.queue = append(c.queue, st)
	}
}

// headerBlockLocked appends HEADERS (and CONTINUATION) frames with the
// encoded fields for st.
func (c *conn) headerBlockLocked(st *stream, status int, fields []hpack.HeaderField, end bool) {
	c.encBuf.Reset()
	_ = c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: statusText(status)})
	for _, f := range fields {
		_ = c.enc.WriteField(f)
	}
	c.appendBlockLocked(st.id, c.encBuf.Bytes(), end)
}

func (c *conn) appendBlockLocked(id uint32, block []byte, end bool) {
	typ := uint8(frameHeaders)
	for first := true; first || len(block) > 0; first = false {
		n := min(len(block), c.peerFrame)
		var flags uint8
		if first && end {
			flags |= flagEndStream
		}
		if n == len(block) {
			flags |= flagEndHeaders
		}
		c.out = appendFrameHeader(c.out, n, typ, flags, id)
		c.out = append(c.out, block[:n]...)
		block = block[n:]
		typ = frameContinuation
	}
}

// respondStatus answers st with an empty response of this status.
func (c *conn) respondStatus(st *stream, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.reset {
		return
	}
	c.headerBlockLocked(st, status, []hpack.HeaderField{{Name: "content-length", Value: "0"}}, true)
	c.finishLocked(st)
}

var errStreamGone = errors.New("http2: stream reset or connection closed")

// body is a request body arriving in DATA frames.
type body struct {
	c    *conn
	st   *stream
	mu   sync.Mutex
	cond sync.Cond
	buf  []byte
	eof  bool
	err  error
}

func (b *body) put(p []byte, end bool) {
	b.mu.Lock()
	b.buf = append(b.buf, p...)
	if end {
		b.eof = true
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *body) fail(err error) {
	b.mu.Lock()
	if b.err == nil && !b.eof {
		b.err = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

// Read reads the body, giving the stream its window back as it goes.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	for len(b.buf) == 0 && !b.eof && b.err == nil {
		b.cond.Wait()
	}
	if len(b.buf) == 0 {
		defer b.mu.Unlock()
		if b.eof {
			return 0, io.EOF
		}
		return 0, b.err
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	b.mu.Unlock()
	c := b.c
	c.mu.Lock()
	if !b.st.reset && !b.st.recvEnd {
		c.out = appendWindowUpdate(c.out, b.st.id, uint32(n))
		b.st.recvWindow += int64(n)
	}
	c.mu.Unlock()
	c.flush()
	return n, nil
}

func (b *body) Close() error {
	b.fail(errors.New("http2: request body closed"))
	return nil
}
