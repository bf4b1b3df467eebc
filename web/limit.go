package web

import (
	"io"
	"net"
	"sync/atomic"
	"time"
)

// connLimit caps the open connections over every listener that shares it.
type connLimit struct {
	max     int64
	open    atomic.Int64
	refused atomic.Int64
	lastLog atomic.Int64 // unix nanoseconds of the last refusal logged
	onLimit func(refused int64)
}

// refuseLogEvery is the least time between two log lines about refused
// connections, so a flood does not flood the log too.
const refuseLogEvery = 10 * time.Second

// limitListener closes connections accepted beyond the limit at once, so
// the client gets an immediate end of connection instead of waiting in the
// kernel's queue, and the server's resources stay bounded.
type limitListener struct {
	net.Listener
	limit *connLimit
}

// Accept returns the next connection within the limit.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.limit.open.Add(1) <= l.limit.max {
			return &limitConn{Conn: c, limit: l.limit}, nil
		}
		l.limit.open.Add(-1)
		c.Close()
		l.limit.refusedOne()
	}
}

// limitConn gives its slot back when closed.
type limitConn struct {
	net.Conn
	limit  *connLimit
	closed atomic.Bool
}

// Close closes the connection and frees its slot once.
func (c *limitConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.limit.open.Add(-1)
	}
	return c.Conn.Close()
}

// ReadFrom lets net/http use sendfile through the wrapper.
func (c *limitConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// CloseWrite half-closes the connection, as net/http does before closing a
// connection it has answered an error on.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Unwrap returns the underlying connection.
func (c *limitConn) Unwrap() net.Conn { return c.Conn }

// TransparentIO tells gotwistd's HTTP/1.1 engine that reads and writes
// pass through unchanged, so it may serve the socket beneath from its
// event loops (h1.Transparent).
func (c *limitConn) TransparentIO() {}
