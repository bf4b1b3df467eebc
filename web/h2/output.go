package h2

import (
	"sync"

	"golang.org/x/net/http2/hpack"
)

// The connection's output: one buffer of frames that whoever finds no
// write in progress writes out, filled with the streams' responses as
// the client's flow-control windows allow.

// Output buffers. A connection keeps its own small ones (frames other
// than DATA, small bodies); one that gets a body's DATA takes a large
// buffer from outPool and gives it back once written. Kept per
// connection, 50 connections' large buffers (2 x 256 KB each) were 25 MB
// that every response's body was copied into cold: that copy took 17% of
// the server's CPU for 100 KB responses over HTTP/2 (perf, h2load -c50
// -m10), against 5% for the same bytes copied again by crypto/tls into a
// buffer it reuses; from a pool, the few buffers in use stay in cache.
const (
	// bigOut is a pooled buffer's capacity: outLimit of frames and the
	// default-size DATA frame that crossed it, with room to spare.
	bigOut = outLimit + 4*(frameHeaderLen+defaultMaxFrameSize)
	// smallOut: a buffer up to this size stays with its connection.
	smallOut = 32 << 10
)

var outPool = sync.Pool{New: func() any { b := make([]byte, 0, bigOut); return &b }}

// growOutLocked makes room in c.out for n more bytes of DATA: past half
// of smallOut (append doubles), a connection's small buffer is exchanged
// for a pooled large one (what it holds is copied over, and it becomes
// the spare if there is none).
func (c *conn) growOutLocked(n int) {
	if cap(c.out)-len(c.out) >= n || cap(c.out) >= bigOut || len(c.out)+n <= smallOut/2 {
		return // room; large already; or small still (append grows it)
	}
	bp := outPool.Get().(*[]byte)
	big := append((*bp)[:0], c.out...)
	*bp = nil
	bufPtrs.Put(bp)
	if c.spare == nil && cap(c.out) > 0 && cap(c.out) <= smallOut {
		c.spare = c.out[:0]
	}
	c.out = big
}

// bufPtrs recycles the pointers outPool holds buffers by.
var bufPtrs = sync.Pool{New: func() any { return new([]byte) }}

// releaseOutLocked gives a written buffer back: a large one to outPool
// (not one grown far past bigOut for huge frames), a small one to the
// connection as its spare (when it has none); others are dropped.
func (c *conn) releaseOutLocked(b []byte) {
	switch {
	case cap(b) >= bigOut && cap(b) <= 4*bigOut:
		bp := bufPtrs.Get().(*[]byte)
		*bp = b[:0]
		outPool.Put(bp)
	case cap(b) <= smallOut && c.spare == nil:
		c.spare = b[:0]
	}
}

// flush writes the output; a write in progress on another goroutine takes
// it instead.
func (c *conn) flush() {
	c.mu.Lock()
	if lp := c.loop.lp; lp != nil {
		// An event loop holds the socket: it alone writes, so ask for
		// the connection back; its goroutine writes this.
		c.mu.Unlock()
		lp.kick(c)
		return
	}
	c.mu.Unlock()
	c.writeOut()
}

// writeOut writes the output, as flush does, whoever holds the socket: a
// loop's turn calls it.
func (c *conn) writeOut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writing {
		return
	}
	for len(c.out) > 0 && c.werr == nil && !c.socketFull() {
		b := c.out
		c.out, c.spare = c.spare[:0], nil
		c.writing = true
		c.mu.Unlock()
		err := c.write(b)
		c.mu.Lock()
		c.wrote += int64(len(b))
		c.writing = false
		if err != nil {
			c.werr = err
		}
		c.releaseOutLocked(b)
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
		c.growOutLocked(frameHeaderLen + n)
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
	c.encodeLocked(status, fields)
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

// holder is a connection beneath TLS whose writes can be gathered into
// one (tlsbatch.Conn).
type holder interface {
	Hold()
	Release() error
}

// batchOver: a write of more than this many bytes goes out in one system
// call, not one per TLS record, when the connection beneath TLS can hold
// writes.
const batchOver = 2 * defaultMaxFrameSize

// write writes b to the connection.
func (c *conn) write(b []byte) error {
	if c.hold == nil || len(b) <= batchOver {
		_, err := c.nc.Write(b)
		return err
	}
	c.hold.Hold()
	_, err := c.nc.Write(b)
	if rerr := c.hold.Release(); err == nil {
		err = rerr
	}
	return err
}
