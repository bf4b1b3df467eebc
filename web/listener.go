package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/quic-go/quic-go/http3"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/handover"
	"github.com/gotwistd/gotwistd/systemd"
	"github.com/gotwistd/gotwistd/web/h1"
	"github.com/gotwistd/gotwistd/web/h2"
	"github.com/gotwistd/gotwistd/web/static"
	"github.com/gotwistd/gotwistd/web/tlsbatch"
)

// A request's way through the server, in one direction: Listen binds
// Server.listeners; build gives each listener its listenerState, made by
// the factory of the engine that serves it (newH3, newH1, newNetHTTP);
// serveOne wraps the listener's socket (handover, accept retries,
// limits, counting, TLS) and runs the engine on it; the engine hands each
// request to the state's site (handler.go), which hands it to the static
// handler.

// listenerState is everything that serves one listener: its engine (which
// hands requests to the listener's site) and the handover's state.
type listenerState struct {
	l *endpoint.Listener

	// engine serves a stream listener (gotwistd's h1.Server, or
	// net/http's Server); nil for quic.
	engine streamEngine
	// tls is the ALPN-completed TLS configuration of an ssl listener,
	// put around its socket by serveOne; nil otherwise.
	tls *tls.Config
	// h3 serves a quic listener; nil for streams.
	h3 *http3.Server
	// netHTTP is true when engine is net/http's Server, which finds its
	// connections' request boundaries only through handover's fallback
	// (the ConnState hook and its reads' sizes).
	netHTTP bool
	// setConnState installs a connection state hook in the engine; nil
	// for quic.
	setConnState func(func(net.Conn, http.ConnState))
	// acceptOnce is called when a connection of an accept-once listener
	// (systemd's Accept=yes) ends; nil for other listeners.
	acceptOnce func()

	// Under Server.mu: the connections a previous instance parked, for
	// this listener to serve first (nil once taken), and the tracker
	// that parks this listener's connections on Shutdown (nil unless
	// parking).
	adopted []systemd.Socket
	tracker *handover.Tracker
}

// streamEngine is what serves a stream listener: gotwistd's h1.Server or
// net/http's Server.
type streamEngine interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// engineConfig is what every listener's engine is built from.
type engineConfig struct {
	cfg     *Config
	version string
	errLog  *slog.Logger // gotwistd's engines' log
	// netHTTPLog is errLog for net/http's Server, which takes a
	// *log.Logger.
	netHTTPLog *log.Logger
	static     *static.Handler // nil unless the site is the static handler
	altSvc     []string        // Alt-Svc announcing HTTP/3, or nil
	idle       *idleTimer      // --exit-idle-time, or nil
}

// build gives each listener its state.
func (s *Server) build() {
	ec := engineConfig{cfg: &s.cfg, version: s.version, errLog: s.errLog,
		netHTTPLog: log.New(errorLogWriter{s.errLog}, "", 0), idle: s.idle}
	ec.static, _ = s.handler.(*static.Handler)
	var alts []string
	for _, l := range s.listeners {
		if l.Packet != nil {
			if a, ok := l.Packet.LocalAddr().(*net.UDPAddr); ok {
				alts = append(alts, `h3=":`+strconv.Itoa(a.Port)+`"; ma=`+altSvcMaxAge)
			}
		}
	}
	if len(alts) > 0 {
		ec.altSvc = []string{strings.Join(alts, ", ")}
	}
	ops := s.newOps()
	s.served = make([]*listenerState, len(s.listeners))
	for i, l := range s.listeners {
		h := &site{h: s.handler, errLog: s.errLog, ops: ops, metrics: s.metrics,
			server: []string{"gotwistd/" + s.version}}
		if ec.static != nil && ec.static.HasErrorPages() {
			h.pages = ec.static
		}
		if !s.cfg.NoAccessLog {
			h.access = s.access
		}
		var ls *listenerState
		switch {
		case l.Packet != nil:
			ls = newH3(ec, l, h)
		case (l.TLS == nil || s.cfg.HTTP2Engine == EngineGotwistd) && s.cfg.HTTP1Engine != EngineNetHTTP:
			// On ssl listeners, gotwistd's HTTP/1.1 engine makes the
			// handshakes and hands "h2" to gotwistd's HTTP/2 engine.
			ls = newH1(ec, l, h, s.acme != nil)
		default:
			// With --http2-engine=net/http, net/http serves both
			// protocols on ssl listeners.
			ls = newNetHTTP(ec, l, h)
		}
		if l.Stream != nil {
			h.unix = l.Stream.Addr().Network() == "unix" && l.Proxy == nil
			if l.Proxy != nil {
				l.Proxy.HeaderTimeout = s.cfg.ReadHeaderTimeout
				l.Proxy.OnError = s.proxyLog.onError
			}
			if s.acme != nil && l.TLS == nil {
				// Next to an le: listener: ACME challenges and the
				// redirect to HTTPS come first.
				h.h = &plainACME{a: s.acme, next: s.handler}
			}
			if l.AcceptOnce {
				s.acceptOnceLeft++
				ls.acceptOnce = s.acceptOnceDone
			}
		}
		s.served[i] = ls
	}
}

// newH3 is the state of a quic listener: quic-go's HTTP/3 server.
func newH3(ec engineConfig, l *endpoint.Listener, h *site) *listenerState {
	var hh http.Handler = h
	if ec.idle != nil {
		hh = idleHandler{h: h, idle: ec.idle}
	}
	return &listenerState{l: l, h3: &http3.Server{
		Handler:        hh,
		TLSConfig:      l.TLS,
		MaxHeaderBytes: ec.cfg.MaxHeaderBytes,
		IdleTimeout:    ec.cfg.IdleTimeout,
	}}
}

// tlsConfig is an ssl listener's TLS configuration offering h2 and
// http/1.1 by ALPN, unless it says otherwise; nil for other listeners.
func tlsConfig(ec engineConfig, l *endpoint.Listener, h *site) *tls.Config {
	if l.TLS == nil {
		return nil
	}
	h.altSvc = ec.altSvc
	if h.altSvc != nil {
		h.altSvcFast = newAltSvcHeaders(h.altSvc[0])
	}
	cfg := l.TLS.Clone()
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	return cfg
}

// newH2 is gotwistd's HTTP/2 engine for an ssl listener's "h2"
// connections.
func newH2(ec engineConfig, h *site) *h2.Server {
	hs := &h2.Server{
		Handler:        h,
		IdleTimeout:    ec.cfg.IdleTimeout,
		MaxHeaderBytes: ec.cfg.MaxHeaderBytes,
		ErrorLog:       ec.errLog,
	}
	if ec.static != nil {
		h.static = ec.static
		hs.Fast = h
	}
	return hs
}

// newH1 is the state of a stream listener gotwistd's HTTP/1.1 engine
// serves: plain, or ssl with "h2" handed to gotwistd's HTTP/2 engine.
// plainACME: an le: listener is next to it, whose ACME challenges and
// redirect come first on plain listeners, so no fast path there.
func newH1(ec engineConfig, l *endpoint.Listener, h *site, plainACME bool) *listenerState {
	ls := &listenerState{l: l, tls: tlsConfig(ec, l, h)}
	h.static = ec.static
	hs := &h1.Server{
		Handler:           h,
		ReadHeaderTimeout: ec.cfg.ReadHeaderTimeout,
		IdleTimeout:       ec.cfg.IdleTimeout,
		WriteTimeout:      ec.cfg.WriteTimeout,
		MaxHeaderBytes:    ec.cfg.MaxHeaderBytes,
		MaxTargetBytes:    maxRequestTarget,
		ErrorLog:          ec.errLog,
		ErrorPage:         h.enginePage,
		ServerHeader:      "gotwistd/" + ec.version,
		Refused:           h.refused,
	}
	if ec.static != nil {
		hs.Fast = h
	}
	if l.TLS != nil {
		h2s := newH2(ec, h)
		hs.NextProto = map[string]func(*tls.Conn){"h2": func(c *tls.Conn) { h2s.ServeConn(c) }}
		hs.OnShutdown = h2s.GoAway
	}
	if plainACME && l.TLS == nil {
		h.static, hs.Fast = nil, nil
	}
	ls.engine = hs
	ls.setConnState = func(f func(net.Conn, http.ConnState)) { hs.ConnState = f }
	return ls
}

// newNetHTTP is the state of a stream listener net/http's Server serves
// (--http1-engine=net/http, or --http2-engine=net/http on ssl): on ssl,
// "h2" goes to gotwistd's HTTP/2 engine unless --http2-engine=net/http.
func newNetHTTP(ec engineConfig, l *endpoint.Listener, h *site) *listenerState {
	ls := &listenerState{l: l, tls: tlsConfig(ec, l, h), netHTTP: true}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ec.cfg.ReadHeaderTimeout,
		IdleTimeout:       ec.cfg.IdleTimeout,
		WriteTimeout:      ec.cfg.WriteTimeout,
		MaxHeaderBytes:    ec.cfg.MaxHeaderBytes,
		ErrorLog:          ec.netHTTPLog,
		TLSConfig:         ls.tls,
	}
	if l.TLS != nil && ec.cfg.HTTP2Engine == EngineGotwistd {
		newH2(ec, h).ConfigureServer(srv)
	}
	ls.engine = srv
	ls.setConnState = func(f func(net.Conn, http.ConnState)) { srv.ConnState = f }
	return ls
}

// connState is the connection state hook of a listener's engine: it
// tells the handover tracker t (net/http's Server only: gotwistd's engine
// tells the tracker where requests end itself, through
// handover.Boundary) and counts the ends of accept-once connections; nil
// if there is nothing to do.
func (ls *listenerState) connState(t *handover.Tracker) func(net.Conn, http.ConnState) {
	if !ls.netHTTP {
		t = nil
	}
	if t == nil && ls.acceptOnce == nil {
		return nil
	}
	once := ls.acceptOnce
	return func(c net.Conn, st http.ConnState) {
		if t != nil {
			t.ConnState(c, st)
		}
		if once != nil && (st == http.StateClosed || st == http.StateHijacked) {
			once()
		}
	}
}

// serveOne serves listener i until Shutdown.
func (s *Server) serveOne(i int) error {
	ls := s.served[i]
	l := ls.l
	if ls.h3 != nil {
		waitDatagram(l.Packet) // quic-go starts with the first datagram
		if err := ls.h3.Serve(l.Packet); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve HTTP/3 on %s: %w", l.Endpoint, err)
		}
		return nil
	}
	ln := l.Stream
	// HTTP's clients speak first: the kernel hands over connections
	// once their request is there (a socket gotwistd bound itself only).
	if err := l.DeferAccept(); err != nil {
		s.log.Warn(fmt.Sprintf("%s: %v", l.Endpoint, err))
	}
	s.mu.Lock()
	select {
	case <-s.stopping:
		// Shutdown came before this goroutine ran: serve nothing. The
		// connections adopted from the previous instance stay in
		// systemd's store, for the next one.
		s.mu.Unlock()
		return nil
	default:
	}
	ln = s.wrapPlain(i, ln)
	if f := ls.connState(ls.tracker); f != nil {
		ls.setConnState(f)
	}
	s.mu.Unlock()
	ln = newAcceptRetryListener(ln, l.Endpoint.String(), s.log)
	if s.cfg.SendTimeout > 0 && ln.Addr().Network() == "tcp" {
		ln = &sendTimeoutListener{Listener: ln, timeout: s.cfg.SendTimeout}
	}
	if ln.Addr().Network() == "tcp" {
		ln = &unsentListener{Listener: ln}
	}
	if s.limit != nil {
		ln = &limitListener{Listener: ln, limit: s.limit}
	}
	if s.metrics != nil || s.idle != nil {
		ln = &countListener{Listener: ln, m: s.metrics, idle: s.idle}
	}
	if ls.tls != nil && ls.netHTTP {
		ln = tls.NewListener(tlsbatch.Listener(ln), ls.tls)
	} else if ls.tls != nil {
		// gotwistd's engine: its event loops can then serve idle
		// HTTP/1.1 connections over TLS too. tlsbatch beneath lets h2
		// send a large write's records in one system call.
		ln = h1.NewTLSListener(tlsbatch.Listener(ln), ls.tls)
	}
	if err := ls.engine.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", l.Endpoint, err)
	}
	return nil
}

// errorLogWriter sends net/http's error log, which comes as lines of a
// *log.Logger, to a *slog.Logger: TLS handshake failures (scanners,
// clients that distrust the certificate) at debug level, everything else
// as warnings. Only net/http's Server needs it: gotwistd's engines log
// through a *slog.Logger, at their own levels.
type errorLogWriter struct{ l *slog.Logger }

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") {
		level = slog.LevelDebug
	}
	w.l.Log(context.Background(), level, msg)
	return len(p), nil
}

var _ io.Writer = errorLogWriter{}
