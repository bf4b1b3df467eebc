package h1

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// handshakeTLS makes the TLS handshake of c.tc on the connection's
// goroutine, with the sooner of ReadHeaderTimeout and WriteTimeout as its
// deadline (as net/http), and learns the client's address. It returns
// false when the connection is done: the handshake failed, or its
// protocol (ALPN) was not HTTP/1.x and a NextProto function served it, or
// none was there to (acme-tls/1: the certificate manager answered during
// the handshake, and that is all the client wanted).
func (c *conn) handshakeTLS() bool {
	d := c.srv.ReadHeaderTimeout
	if w := c.srv.WriteTimeout; w > 0 && (d <= 0 || w < d) {
		d = w
	}
	if d > 0 {
		_ = c.tc.SetDeadline(time.Now().Add(d))
	}
	if err := c.tc.Handshake(); err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			// Plain HTTP on the HTTPS port: say so in plain HTTP, as
			// net/http does.
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			re.Conn.Close()
		} else {
			// At debug level: scanners, clients distrusting the
			// certificate. (The wording of net/http's.)
			c.srv.logAt(slog.LevelDebug, "http: TLS handshake error from %s: %v", c.tc.NetConn().RemoteAddr(), err)
		}
		return false
	}
	if d > 0 {
		_ = c.tc.SetDeadline(time.Time{})
	}
	st := c.tc.ConnectionState()
	c.tlsState = &st
	c.remote = c.nc.RemoteAddr().String()
	switch p := st.NegotiatedProtocol; p {
	case "", "http/1.1", "http/1.0":
		c.adoptSock()
		return true
	default:
		passThrough(c.tc)
		fn := c.srv.NextProto[p]
		if fn == nil {
			return false
		}
		// Busy until fn returns: Shutdown waits for it (OnShutdown tells
		// the other engine to wind it down), Close closes it.
		if !c.state.CompareAndSwap(stNew, stActive) {
			return false // Shutdown closed it meanwhile
		}
		if c.srv.ConnState != nil {
			c.srv.ConnState(c.nc, http.StateActive)
		}
		fn(c.tc)
		return false
	}
}

// looksLikeHTTP reports whether the first bytes of a TLS connection are
// an HTTP request line's.
func looksLikeHTTP(h [5]byte) bool {
	switch string(h[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE", "TRACE":
		return true
	}
	return false
}
