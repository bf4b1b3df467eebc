package h2

import (
	"errors"
	"io"
	"sync"
	"time"
)

// The streams' lifecycle on a connection (counting, resetting,
// closing), and a request body's pipe from the reader to the handler.

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
	if z == 0 {
		return 0
	}
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
