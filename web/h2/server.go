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

	"github.com/gotwistd/gotwistd/web/fast"
)

// Server serves HTTP/2 connections that net/http's Server (see
// ConfigureServer), or another server calling ServeConn and GoAway, hands
// over after TLS chose "h2".
type Server struct {
	// Handler answers what Fast declines, on a goroutine per request.
	Handler http.Handler
	// Fast, if set, is offered every fast.Request.Plain request first, on
	// the connection's own goroutine, so that the responses to the
	// requests a client sent together leave in one write. A Fast that is
	// a fast.Watcher has its Refresh called once per read of a
	// connection, before the requests read are offered.
	Fast fast.Handler
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

	loops   loops // see loop_linux.go
	noLoops bool  // tests: every connection keeps its goroutine
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
