package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotwistd/gotwistd/web/fast"
)

// Defaults of the limits a zero Server field leaves to the engine.
const (
	// DefaultMaxHeaderBytes bounds a request's head, request line
	// included, when Server.MaxHeaderBytes is 0; larger heads get 431.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxTargetBytes bounds a request target when
	// Server.MaxTargetBytes is 0; longer ones get 414, as nginx's 8 KiB
	// request line buffers do.
	DefaultMaxTargetBytes = 8 << 10
)

// newConnGrace is how long Shutdown lets a new connection that has not
// sent a byte yet be, from its accept, before it counts as idle and is
// closed (net/http: 5 s). Every connection the server accepted is owed an
// answer: its client sent its request with the connect, so the bytes are
// on their way; only one that keeps silent this long is given up.
const newConnGrace = 2 * time.Second

// idleGrace is how long Shutdown lets a kept-alive connection that is
// idle, from the end of its last response, wait for a next request
// before it closes it. A client that reuses its connection at once (a
// load generator, a browser fetching a page's parts) has its next request
// answered, with "Connection: close", instead of seeing the connection
// close under a request already sent; a connection idle longer than this
// is closed at once.
const idleGrace = time.Second

// Server serves HTTP/1.0 and HTTP/1.1 on stream listeners (TCP, UNIX),
// with the semantics of net/http's Server for the same handler: the same
// status codes, headers and connection handling, but a stricter parser
// (see the package documentation), and a fast.Handler that skips building
// *http.Request for cached files. Its zero value serves nothing: set
// Handler.
type Server struct {
	// Handler serves every request Fast declines. Required.
	Handler http.Handler
	// Fast, if set, is offered every fast.Request.Plain request first. A
	// Fast that is a fast.Watcher lends the event loops its descriptor
	// (see the package documentation).
	Fast fast.Handler
	// ReadHeaderTimeout bounds reading a request's head, from the
	// connection's start or the first byte of a request on a kept-alive
	// connection. 0: no limit.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that waits this long for
	// its next request. 0: no limit. Deadlines are renewed at most once
	// a second per connection (event loops check once a second), so a
	// busy connection does not pay for a timer update per request: an
	// idle connection may close up to a second early or late.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing a response, from the end of its
	// request's head. 0: no limit.
	WriteTimeout time.Duration
	// MaxHeaderBytes bounds a request's head, request line included;
	// larger ones get 431. 0: DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxTargetBytes bounds the request target; longer ones get 414.
	// 0: DefaultMaxTargetBytes.
	MaxTargetBytes int
	// ConnState, if set, is called as net/http's Server.ConnState is:
	// StateNew on accept, StateActive when a request's first bytes
	// arrive, StateIdle when a response is done and no byte of the next
	// request is buffered, StateClosed at the end. StateHijacked never
	// happens.
	ConnState func(net.Conn, http.ConnState)
	// ErrorPage, if set, gives the body and Content-Type of the engine's
	// own error responses (400, 414, 431, 501, 505, 417) instead of
	// net/http's one-line text.
	ErrorPage func(code int) (contentType, body string)
	// ServerHeader, if set, is the Server header of the engine's own
	// error responses (which carry a Date header in any case).
	ServerHeader string
	// Refused, if set, is called after the engine answered a request it
	// refused with status code (and a body of size bytes), when the
	// request line was understood: r has Method, Target and Proto, and
	// the header fields if they could be parsed; it is valid only during
	// the call. For an access log.
	Refused func(r *fast.Request, code, size int)
	// ErrorLog receives, as warnings, the handler panics the engine
	// recovers, handlers' misuse of the ResponseWriter, and accept
	// errors; and failed TLS handshakes at debug level (scanners,
	// clients that distrust the certificate). Nil: slog.Default().
	ErrorLog *slog.Logger

	// NextProto, if set, serves the TLS connections whose handshake
	// chose (by ALPN) a protocol other than HTTP/1.x, keyed by its name
	// ("h2"), as net/http's Server.TLSNextProto: the function serves the
	// connection until it ends; the engine closes it after. Connections
	// that chose another protocol are closed after the handshake. The
	// engine serves a *tls.Conn (from tls.NewListener or NewTLSListener)
	// itself: the handshake on the connection's goroutine, with the
	// sooner of ReadHeaderTimeout and WriteTimeout as its deadline, then
	// HTTP/1.1 through the TLS connection, idle ones from NewTLSListener
	// in the event loops.
	NextProto map[string]func(*tls.Conn)
	// OnShutdown, if set, is called when Shutdown starts, to tell the
	// connections NextProto serves to end (an HTTP/2 GOAWAY): Shutdown
	// waits for them as for requests in progress.
	OnShutdown func()

	// noEventLoop keeps every connection on a goroutine of its own, also
	// while idle (tests of the goroutine path).
	noEventLoop bool
	// noRawAccept makes Serve accept through the listener's Accept only
	// (tests of that path).
	noRawAccept bool
	// noPinning keeps the loops off CPUs of their own; pinAlways keeps
	// them on theirs, whatever the plan (tests; affinity_linux.go).
	noPinning bool
	pinAlways atomic.Bool

	// graceNew and graceIdle replace newConnGrace and idleGrace when
	// set (tests).
	graceNew, graceIdle time.Duration
	// parkAfter replaces defaultParkAfter when set (tests).
	parkAfter time.Duration

	inShutdown atomic.Bool
	closed     atomic.Bool // Close was called: connections accepted now are closed
	loops      loops
	pinned     atomic.Bool // the loops run on CPUs of their own (affinity_linux.go)
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	rawFiles   map[*os.File]struct{} // listening sockets Serve accepts on itself, closed with the listeners
	conns      map[*conn]struct{}
	connsDone  chan struct{} // closed and renewed when conns becomes empty
}

// ErrServerClosed is what Serve returns after Shutdown or Close: the same
// value as http.ErrServerClosed, so callers can test for either.
var ErrServerClosed = http.ErrServerClosed

// logf logs a warning.
func (s *Server) logf(format string, args ...any) { s.logAt(slog.LevelWarn, format, args...) }

// logAt logs at level.
func (s *Server) logAt(level slog.Level, format string, args ...any) {
	l := s.ErrorLog
	if l == nil {
		l = slog.Default()
	}
	if l.Enabled(context.Background(), level) {
		l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (s *Server) limits() limits {
	lim := limits{maxHead: s.MaxHeaderBytes, maxTarget: s.MaxTargetBytes}
	if lim.maxHead <= 0 {
		lim.maxHead = DefaultMaxHeaderBytes
	}
	if lim.maxTarget <= 0 {
		lim.maxTarget = DefaultMaxTargetBytes
	}
	return lim
}

// Serve accepts connections on l and serves each on its own goroutine,
// until Shutdown or Close (then it returns ErrServerClosed) or an accept
// error that is not temporary. Temporary errors (out of file descriptors,
// a deadline set on the listener) are retried after a pause that grows
// to a second, as net/http does. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		return errors.New("h1: Server.Handler is nil")
	}
	if !s.trackListener(&l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	defer l.Close()
	lim := s.limits()
	if ra := s.rawAccept(l, lim); ra != nil {
		defer ra.close()
		return s.serve(l, lim, ra)
	}
	return s.serve(l, lim, nil)
}

// serve is Serve's accept loop, with ra accepting on l's socket, or
// through l if nil.
func (s *Server) serve(l net.Listener, lim limits, ra *rawAcceptor) error {
	var acc acceptor
	var delay time.Duration
	for {
		nc, err := s.accept(l, ra)
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			if temporary(err) {
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else {
					delay = min(2*delay, time.Second)
				}
				s.logf("h1: accept error: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := s.newConn(nc, lim)
		if !s.trackConn(c, true) {
			// Close, not Shutdown: nothing is served any more. (A
			// connection accepted during Shutdown is served: its
			// client is owed an answer.)
			nc.Close()
			return ErrServerClosed
		}
		if s.ConnState != nil {
			s.ConnState(nc, http.StateNew)
		}
		if s.answerAtAccept(c, &acc) {
			continue
		}
		go c.serve()
	}
}

// temporary reports whether an accept error is worth retrying.
func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
		s.signalDone()
	}
	return true
}

// signalDone tells Shutdown that the last connection ended and no Serve
// is left to accept another one. Call it with mu held.
func (s *Server) signalDone() {
	if len(s.conns) == 0 && len(s.listeners) == 0 && s.connsDone != nil {
		close(s.connsDone)
		s.connsDone = nil
	}
}

func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed.Load() {
			return false
		}
		if s.conns == nil {
			s.conns = make(map[*conn]struct{})
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
		s.signalDone()
	}
	return true
}

// closeListeners closes every listener Serve is accepting on.
func (s *Server) closeListeners() error {
	s.mu.Lock()
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	files := make([]*os.File, 0, len(s.rawFiles))
	for f := range s.rawFiles {
		files = append(files, f)
	}
	s.mu.Unlock()
	// Not under mu: closing waits for the accept in progress, which may
	// need mu for a connection it hands on.
	for _, f := range files {
		f.Close()
	}
	return err
}

// trackRawFile adds or removes a listening socket Serve accepts on
// itself; false if the server is shutting down already.
func (s *Server) trackRawFile(f *os.File, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.rawFiles, f)
		return true
	}
	if s.inShutdown.Load() {
		return false
	}
	if s.rawFiles == nil {
		s.rawFiles = make(map[*os.File]struct{})
	}
	s.rawFiles[f] = struct{}{}
	return true
}

// Shutdown stops the server gracefully, losing no request a client sent:
//
//   - it closes the listeners, which only closes this process's
//     descriptor: connections still queued in a listening socket that
//     systemd (or another process) also holds stay queued, for the next
//     instance. A connection an Accept returned meanwhile is served.
//   - every connection accepted is answered: a new one that has not sent
//     its request yet gets up to 2 s from its accept for it;
//   - requests in progress finish, their responses saying
//     "Connection: close";
//   - a kept-alive connection is closed at a request boundary: one that
//     went idle less than a second ago gets the rest of that second for a
//     next request, answered with "Connection: close"; one idle longer is
//     closed at once.
//
// It returns nil once every connection is closed and every Serve has
// returned, or ctx's error if ctx ends first; the connections left are
// then still open (call Close).
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.inShutdown.Swap(true) && s.OnShutdown != nil {
		s.OnShutdown()
	}
	lerr := s.closeListeners()
	wait := time.Millisecond
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		done := s.closeIdle()
		if done == nil {
			return lerr
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return lerr
		case <-timer.C:
			// Poll: connections go idle without telling Shutdown.
			wait = min(2*wait, 500*time.Millisecond)
			timer.Reset(wait)
		}
	}
}

func (s *Server) newConnGrace() time.Duration {
	if s.graceNew > 0 {
		return s.graceNew
	}
	return newConnGrace
}

func (s *Server) idleGrace() time.Duration {
	if s.graceIdle > 0 {
		return s.graceIdle
	}
	return idleGrace
}

// closeIdle closes the idle connections; it returns nil if none is left,
// or a channel closed when the last one ends.
func (s *Server) closeIdle() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UnixNano()
	poke := false
	for c := range s.conns {
		st := c.state.Load()
		switch {
		case st == stLoopIdle:
			// Its loop closes it once idle for idleGrace.
			poke = true
		case st == stIdle && now-c.idleAt.Load() > int64(s.idleGrace()) || st == stNew && now-c.born > int64(s.newConnGrace()):
			if c.state.CompareAndSwap(st, stClosing) {
				c.nc.Close()
			}
		}
	}
	if poke {
		s.wakeLoops()
	}
	if len(s.conns) == 0 && len(s.listeners) == 0 {
		return nil
	}
	if s.connsDone == nil {
		s.connsDone = make(chan struct{})
	}
	return s.connsDone
}

// Close closes the listeners and every connection at once, requests in
// progress included.
func (s *Server) Close() error {
	s.closed.Store(true)
	s.inShutdown.Store(true)
	err := s.closeListeners()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.state.Store(stClosing)
		// A loop writes to its connections' sockets by number: only it
		// may close them, lest the number be reused under it.
		if !c.looped.Load() {
			c.nc.Close()
		}
	}
	s.wakeLoops()
	return err
}
