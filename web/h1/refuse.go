package h1

import (
	"net/http"
	"strconv"
	"time"
)

// The engine's own answers to requests it refuses (400, 414, 431, 501,
// 505, 417), before any handler sees them.

// fail answers a request the engine refuses, and closes the connection
// after lingering.
func (c *conn) fail(e *parseError) {
	c.failUnflushed(e)
	c.flush()
}

// failUnflushed is fail without the flush: the answer waits in the write
// buffer.
func (c *conn) failUnflushed(e *parseError) {
	w := c.getWork()
	ctype, body := "text/plain; charset=utf-8", strconv.Itoa(e.code)+" "+http.StatusText(e.code)
	if e.code == http.StatusBadRequest {
		body += ": " + e.reason
	}
	if c.srv.ErrorPage != nil {
		if t, b := c.srv.ErrorPage(e.code); b != "" {
			ctype, body = t, b
		}
	}
	b := appendStatusLine(w.wbuf, 1, e.code)
	b = appendDate(b, time.Now())
	if c.srv.ServerHeader != "" {
		b = append(b, "Server: "...)
		b = append(b, c.srv.ServerHeader...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Type: "...)
	b = append(b, ctype...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, body...)
	w.wbuf = b
	c.failSize = len(body)
	c.linger = true
}

// refuse answers a request refused before its head was complete, and
// reports it with what its first line shows.
func (c *conn) refuse(e *parseError, buf []byte) {
	c.failUnflushed(e)
	defer c.flush() // after the report, as in serve
	if c.srv.Refused == nil {
		return
	}
	r := &c.getWork().req
	if lineOf(buf, r) {
		r.RemoteAddr = c.remote
		c.srv.Refused(r.fastRequest(c.remote, c.now, false), e.code, c.failSize)
	}
}
