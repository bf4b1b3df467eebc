// Package tlsbatch lets a writer over crypto/tls send the records of one
// large write in one system call. A *tls.Conn writes each record of at
// most 16 KB to the connection beneath it as it makes it: a 100 KB
// response is 7 writes, each through the TCP stack on its own. A Conn put
// beneath the tls.Conn (Listener wraps every accepted connection) passes
// writes straight through until told to Hold, then gathers them until
// Release writes them together.
package tlsbatch

import (
	"net"
	"sync"
)

// Listener wraps the connections ln accepts in a Conn.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: c}, nil
}

// Conn is a connection whose writes can be held and released together.
type Conn struct {
	net.Conn
	mu   sync.Mutex // serialises writes: none may pass a held one
	held *[]byte    // non-nil between Hold and Release
}

// bufs are the buffers held writes gather in, shared so that the few in
// use stay in the CPU's cache.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 320<<10); return &b }}

// Write writes p, or, while held, keeps a copy of it for Release.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held != nil {
		*c.held = append(*c.held, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// Hold makes the writes that follow wait for Release.
func (c *Conn) Hold() {
	c.mu.Lock()
	if c.held == nil {
		c.held = bufs.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// Release writes what was held in one write, and lets writes through
// again.
func (c *Conn) Release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	bp := c.held
	if bp == nil {
		return nil
	}
	c.held = nil
	var err error
	if len(*bp) > 0 {
		_, err = c.Conn.Write(*bp)
	}
	if cap(*bp) <= 1<<20 {
		*bp = (*bp)[:0]
		bufs.Put(bp)
	}
	return err
}

// TransparentIO says that reads and writes go to the connection beneath
// unchanged while nothing is held (web/h1's Transparent): an engine may
// then read and write the socket beneath directly, as web/h1's event loops
// do for HTTP/1.1 over TLS, which never holds. Between Hold and Release it
// must not.
func (c *Conn) TransparentIO() {}

// Unwrap returns the connection beneath.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// CloseWrite half-closes the connection beneath, if it can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
