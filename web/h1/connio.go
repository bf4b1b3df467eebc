package h1

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// A connection's reads and writes on its socket: filling the read buffer,
// writing the output buffer (with writev(2) where it can), lingering
// before a close, and the deadlines.

// read reads more input into rbuf[r1:]; false means the connection is
// done (closed, timed out, or in error), silently.
func (c *conn) read() bool {
	if c.r0 == c.r1 {
		c.r0, c.r1, c.scan = 0, 0, 0
	}
	if c.rbuf != nil && c.r1 == len(c.rbuf) {
		if c.r0 > 0 {
			c.r1 = copy(c.rbuf, c.rbuf[c.r0:c.r1])
			c.r0 = 0
		} else {
			// A head larger than the buffer: grow, up to the limit
			// checkPartial enforces (plus a little, so that the limit is
			// seen being crossed).
			n := min(2*len(c.rbuf), c.lim.maxHead+readBufSize)
			nb := make([]byte, n)
			copy(nb, c.rbuf[:c.r1])
			if len(c.rbuf) == readBufSize {
				b := c.rbuf
				readBufs.Put(&b)
			}
			c.rbuf = nb
		}
	}
	var n int
	var err error
	if c.raw != nil {
		if rerr := c.raw.Read(c.readFn); rerr != nil {
			err = rerr
		} else {
			n, err = c.rn, c.rerr
			if n == 0 && err == nil {
				err = io.EOF
			}
		}
	} else {
		if c.rbuf == nil {
			c.rbuf = *readBufs.Get().(*[]byte)
		}
		n, err = c.nc.Read(c.rbuf[c.r1:])
		c.readFull = n == len(c.rbuf)-c.r1
	}
	if n > 0 {
		c.r1 += n
		c.now = time.Now()
		c.refreshed = false
		return true
	}
	// EOF, timeout, reset: all end the connection quietly, but for the
	// wait before parking (waitIdle).
	c.readTimedOut = errors.Is(err, os.ErrDeadlineExceeded)
	return false
}

// rawRead is the RawConn read callback: the buffer is taken only once the
// socket has data, and given back when a read finds none, so an idle
// connection holds no buffer.
func (c *conn) rawRead(fd uintptr) bool {
	if c.rbuf == nil {
		c.rbuf = *readBufs.Get().(*[]byte)
	}
	for {
		n, err := syscall.Read(int(fd), c.rbuf[c.r1:])
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if c.r1 == 0 && len(c.rbuf) == readBufSize {
				b := c.rbuf
				c.rbuf = nil
				readBufs.Put(&b)
			}
			return false
		}
		if err != nil {
			n = 0
		}
		c.rn, c.rerr = n, err
		return true
	}
}

// flush writes the output buffer out.
func (c *conn) flush() bool {
	w := c.w
	if c.werr != nil {
		w.wbuf = w.wbuf[:0]
		return false
	}
	if len(w.wbuf) == 0 {
		return true
	}
	if c.inLoop && c.tc == nil {
		c.loopWrite([][]byte{w.wbuf}, []bool{false})
		w.wbuf = w.wbuf[:0]
		return c.werr == nil
	}
	_, err := c.nc.Write(w.wbuf)
	w.wbuf = w.wbuf[:0]
	if err != nil {
		c.werr = err
		return false
	}
	return true
}

// writeWith writes the output buffer followed by p, with one writev(2)
// where the socket allows it.
func (c *conn) writeWith(p []byte) error {
	w := c.w
	if c.werr != nil {
		w.wbuf = w.wbuf[:0]
		return c.werr
	}
	if c.inLoop && c.tc != nil {
		return c.loopWriteTLS(p)
	}
	if c.inLoop {
		if len(w.wbuf) > 0 {
			c.loopWrite([][]byte{w.wbuf, p}, []bool{false, true})
		} else {
			c.loopWrite([][]byte{p}, []bool{true})
		}
		w.wbuf = w.wbuf[:0]
		return c.werr
	}
	var err error
	if c.tc != nil && len(w.wbuf) > 0 && len(w.wbuf) < tlsRecord {
		// Through TLS, each Write makes records of its own: the head
		// (and what is pending) shares its record with the body's start
		// instead of going out alone.
		k := min(len(p), tlsRecord-len(w.wbuf))
		w.wbuf = append(w.wbuf, p[:k]...)
		p = p[k:]
	}
	if c.vw != nil && len(w.wbuf) > 0 {
		w.vec = append(w.vec[:0], w.wbuf, p)
		_, err = writeVec(c.vw, &w.vec)
		w.vec = w.vec[:0]
	} else {
		if len(w.wbuf) > 0 {
			_, err = c.nc.Write(w.wbuf)
		}
		if err == nil && len(p) > 0 {
			_, err = c.nc.Write(p)
		}
	}
	w.wbuf = w.wbuf[:0]
	if err != nil {
		c.werr = err
	}
	return err
}

// lingerClose half-closes the connection and reads what the client still
// sends, for a while, so that closing does not reset the connection
// under a response the client has not read yet.
func (c *conn) lingerClose() {
	if !closeWrite(c.nc) {
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	var buf [4096]byte
	for n := 0; n < lingerBytes; {
		m, err := c.nc.Read(buf[:])
		n += m
		if err != nil {
			return
		}
	}
}

// closeWrite shuts down the sending side of nc, or of the socket under
// it; false if there is none.
func closeWrite(nc net.Conn) bool {
	for nc != nil {
		if cw, ok := nc.(interface{ CloseWrite() error }); ok {
			return cw.CloseWrite() == nil
		}
		u, ok := nc.(interface{ Unwrap() net.Conn })
		if !ok {
			return false
		}
		nc = u.Unwrap()
	}
	return false
}

// slop is how far from the wanted time a deadline already set may be and
// still be kept: renewing a deadline costs a timer update, which a busy
// connection need not pay for every request.
func slop(d time.Duration) time.Duration { return min(time.Second, d/10) }

// setReadDeadline sets the read deadline to t, unless the one already set
// is no later than t and at most slop(d) earlier. t zero clears it.
func (c *conn) setReadDeadline(t time.Time, d time.Duration) {
	if !t.IsZero() && !c.rdl.IsZero() && !c.rdl.After(t) && t.Sub(c.rdl) <= slop(d) {
		return
	}
	if t.IsZero() && c.rdl.IsZero() {
		return
	}
	c.rdl = t
	_ = c.nc.SetReadDeadline(t)
}

// setWriteDeadline is setReadDeadline for writes.
func (c *conn) setWriteDeadline(t time.Time, d time.Duration) {
	if !t.IsZero() && !c.wdl.IsZero() && !c.wdl.After(t) && t.Sub(c.wdl) <= slop(d) {
		return
	}
	c.wdl = t
	_ = c.nc.SetWriteDeadline(t)
}
