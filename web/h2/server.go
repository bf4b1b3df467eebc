package h2

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Request is what a FastHandler sees of a request: strings decoded by
// HPACK, valid only during the call.
type Request struct {
	// Method and Path are the :method and :path pseudo-header fields.
	Method, Path string
	// RemoteAddr is the client's address, as net/http's
	// Request.RemoteAddr.
	RemoteAddr string
	// Referer, UserAgent are those header fields, or "".
	Referer, UserAgent string
	// Origin is the first Origin header field, or "" (CORS).
	Origin string
	// AcceptEncoding is the Accept-Encoding field's value, or "" (the
	// FastHandler picks the coding; a request with two such fields is
	// not Simple).
	AcceptEncoding string
	// Simple: a GET or HEAD without a body, a Range, a precondition or
	// a second Accept-Encoding field: a request a cached file answers
	// whole.
	Simple bool
	// Watched: the FastHandler is a Watcher, and its Refresh was called
	// after this request arrived (once per read of the connection), so
	// it may trust what its watch told it instead of checking.
	Watched bool
}

// Watcher is a FastHandler that learns of changes through a descriptor
// (gotwistd's static handler: inotify on its cached files), as in
// gotwistd's HTTP/1.1 engine.
type Watcher interface {
	// WatchFD is the descriptor, or -1 for none.
	WatchFD() int
	// Refresh reads what the descriptor has to say, without waiting.
	Refresh()
}

// IsHEAD reports whether the method is HEAD.
func (r *Request) IsHEAD() bool { return r.Method == "HEAD" }

// FastHandler answers requests from memory, on the connection's own
// goroutine, so that the responses to the requests a client sent together
// leave in one write. It must not block.
type FastHandler interface {
	// ServeFastH2 returns the header lines ("Name: value\r\n", with
	// Content-Length, as gotwistd's HTTP/1.1 engine takes them) and the
	// body of a 200 response to r, or false to leave r to the Handler.
	// Neither header nor body may ever change afterwards: body may be
	// written later, and the HPACK encoder's table may keep views of
	// header.
	ServeFastH2(r *Request) (header, body []byte, ok bool)
}

// Server serves HTTP/2 connections that net/http's Server (see
// ConfigureServer), or another server calling ServeConn and GoAway, hands
// over after TLS chose "h2".
type Server struct {
	// Handler answers what Fast declines, on a goroutine per request.
	Handler http.Handler
	// Fast, if set, is offered every request first.
	Fast FastHandler
	// IdleTimeout closes a connection without open streams after this
	// long. 0: no limit.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header list (RFC 9113's size:
	// name and value lengths plus 32 per field). 0: 1 MiB.
	MaxHeaderBytes int
	// MaxConcurrentStreams is the limit announced to clients. 0: 250.
	MaxConcurrentStreams uint32
	// ErrorLog receives handler panics, as warnings; nil:
	// slog.Default().
	ErrorLog *slog.Logger

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
}

// ConfigureServer makes hs hand its "h2" TLS connections to s, and tell
// them to go away on hs.Shutdown. hs.TLSConfig.NextProtos must offer "h2".
func (s *Server) ConfigureServer(hs *http.Server) {
	if hs.TLSNextProto == nil {
		hs.TLSNextProto = make(map[string]func(*http.Server, *tls.Conn, http.Handler))
	}
	hs.TLSNextProto["h2"] = func(_ *http.Server, c *tls.Conn, _ http.Handler) {
		s.ServeConn(c)
	}
	hs.RegisterOnShutdown(s.goAway)
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return 1 << 20
}

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams > 0 {
		return s.MaxConcurrentStreams
	}
	return 250
}

// logf logs a warning.
func (s *Server) logf(format string, args ...any) {
	l := s.ErrorLog
	if l == nil {
		l = slog.Default()
	}
	l.Warn(fmt.Sprintf(format, args...))
}

// ServeConn serves one connection whose TLS handshake chose "h2", until
// the client or the server ends it. It closes nothing: net/http closes
// the connection when it returns.
func (s *Server) ServeConn(nc net.Conn) {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		c.shutdown()
		c.serve()
		return
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	c.serve()
}

// GoAway tells every connection that no new stream will be served, as
// the http.Server of ConfigureServer does on Shutdown: for a server that
// hands connections to ServeConn itself (gotwistd's HTTP/1.1 engine on
// TLS listeners), to call when it shuts down. Later connections are
// refused.
func (s *Server) GoAway() { s.goAway() }

// goAway tells every connection that no new stream will be served: each
// finishes the streams it has, then ends (a new one serves its client's
// first requests first).
func (s *Server) goAway() {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
}

// baseContext is the parent of every request's context.
var baseContext = context.Background()
