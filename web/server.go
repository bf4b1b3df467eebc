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
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/handover"
	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/internal/logfile"
	"github.com/gotwistd/gotwistd/internal/stackgrow"
	"github.com/gotwistd/gotwistd/service"
	"github.com/gotwistd/gotwistd/systemd"
	"github.com/gotwistd/gotwistd/web/cgi"
	"github.com/gotwistd/gotwistd/web/h1"
	"github.com/gotwistd/gotwistd/web/h2"
	"github.com/gotwistd/gotwistd/web/static"
)

// Log systems, the "[system]" column of twistd's log lines.
const (
	systemMain   = "-"
	systemSite   = "gotwistd.web.Site#info"
	systemError  = "gotwistd.web.Site#error"
	systemAccess = "gotwistd.web.AccessLog#info"
	systemCGI    = "gotwistd.web.twcgi"
)

// altSvcMaxAge is how long clients may remember that HTTP/3 is offered.
const altSvcMaxAge = "86400"

// Server states.
const (
	stateNew = iota
	stateListening
	stateServing
	stateStopping
)

// Server is the web plugin's service.Service: it serves one handler (the
// static files of Config.Root, or the welcome page) on every endpoint of
// Config.Listen, HTTP/1.1 on plain streams, HTTP/2 and HTTP/1.1 on ssl
// endpoints, and HTTP/3 on quic endpoints.
type Server struct {
	cfg       Config
	version   string
	endpoints []*endpoint.Endpoint
	handler   http.Handler
	now       func() time.Time // clock of the access log; a seam for tests

	log     *slog.Logger // system "-"
	siteLog *slog.Logger
	errLog  *slog.Logger
	accLog  *slog.Logger
	limit   *connLimit

	proxyLog *proxyLog // of haproxy listeners' bad headers

	mu             sync.Mutex
	state          int
	access         *accessLog
	listeners      []*endpoint.Listener
	servers        []*http.Server      // parallel to listeners; nil for quic
	h1s            []*h1.Server        // parallel to listeners; the engine of plain streams, or nil
	h3             []*http3.Server     // parallel to listeners; nil for streams
	acceptOnceLeft int                 // accept-once connections still open
	handover       bool                // park connections on Shutdown
	plan           handoverPlan        // what decided handover, and the store's room
	adopted        [][]systemd.Socket  // parallel to listeners: connections to adopt
	trackers       []*handover.Tracker // parallel to listeners; nil unless parking
	acme           *acmeSite           // le: endpoints; nil without them
	stopping       chan struct{}       // closed when Shutdown starts
	stopped        chan struct{}       // closed when Shutdown is done
	shutdownErr    error

	// The operator's side (ops.go): --health, --metrics, --exit-idle-time.
	metrics    *metrics           // nil without --metrics/--metrics-listen
	metricsEP  *endpoint.Endpoint // --metrics-listen, or nil
	metricsLn  *endpoint.Listener // bound --metrics-listen
	metricsSrv *http.Server       // serves metricsLn
	idle       *idleTimer         // nil without --exit-idle-time
	draining   atomic.Bool        // Shutdown has begun: --health answers 503
}

var _ service.Service = (*Server)(nil)

// New checks cfg and returns a Server for it, not yet listening. A bad
// endpoint string or header is a usage error (errors.Is(err,
// getopt.ErrUsage)) naming the problem. env.Logger may be nil (nothing is
// logged).
func New(cfg Config, env service.Env) (*Server, error) {
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	version := env.Version
	if version == "" {
		version = "dev"
	}
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{DefaultListen}
	}
	s := &Server{
		cfg:      cfg,
		version:  version,
		now:      time.Now,
		log:      logger.With("system", systemMain),
		siteLog:  logger.With("system", systemSite),
		errLog:   logger.With("system", systemError),
		accLog:   logger.With("system", systemAccess),
		stopping: make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	s.proxyLog = newProxyLog(s.log)
	for _, l := range cfg.Listen {
		ep, err := endpoint.Parse(l)
		if err != nil {
			return nil, &getopt.UsageError{Err: err, Hint: hint}
		}
		s.endpoints = append(s.endpoints, ep)
	}
	fillACME(s.endpoints, cfg)
	if cfg.HSTS > 0 {
		cfg.Headers = append(cfg.Headers, hstsHeader(cfg.HSTS))
		s.cfg.Headers = cfg.Headers
	}
	for _, h := range cfg.Headers {
		if _, err := parseHeader(h[0] + ":" + h[1]); err != nil {
			return nil, err
		}
	}
	if cfg.Root == "" {
		s.handler = newWelcome(version, cfg.Headers)
	} else {
		var scripts static.ScriptRunner
		if cfg.CGI {
			scripts = cgi.New(cgi.Config{Timeout: cfg.CGITimeout, MaxBody: cfg.CGIMaxBody, MaxProcs: cfg.CGIMaxProcs,
				ServerSoftware: "gotwistd/" + version, Log: logger.With("system", systemCGI)})
		}
		h, err := static.New(static.Config{
			Root:             cfg.Root,
			Indexes:          cfg.Indexes,
			DefaultType:      cfg.DefaultType,
			IgnoreExt:        cfg.IgnoreExt,
			AllowIgnoreExt:   cfg.AllowIgnoreExt,
			Headers:          cfg.Headers,
			ServeDotfiles:    cfg.ServeDotfiles,
			NoFollowSymlinks: cfg.NoFollowSymlinks,
			CacheControl:     cfg.CacheControl,
			CORS:             cfg.CORS,
			ErrorPages:       cfg.ErrorPages,
			SPAFallback:      cfg.SPAFallback,
			Listing:          cfg.Listing,
			NoCompress:       cfg.NoCompress,
			CompressMinSize:  cfg.CompressMinSize,
			ServerHeader:     "gotwistd/" + version,
			ErrorLog:         s.errLog,
			CGI:              scripts,
		})
		if err != nil {
			return nil, &getopt.UsageError{Err: fmt.Errorf("--path %s: %w", cfg.Root, err), Hint: hint}
		}
		s.handler = h
	}
	if err := s.newOpsConfig(); err != nil {
		return nil, err
	}
	if cfg.MaxConnections > 0 {
		s.limit = &connLimit{max: int64(cfg.MaxConnections), onLimit: func(n int64) {
			s.log.Warn(fmt.Sprintf("Refusing connections: %d open, the --max-connections limit (%d refused so far)", cfg.MaxConnections, n))
		}}
	}
	return s, nil
}

// Listen opens the access log and binds every endpoint, logging
// "Site starting on PORT" for each as twistd does. On error nothing stays
// bound.
func (s *Server) Listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return errors.New("web: Listen called twice, or after Shutdown")
	}
	var file *logfile.File
	if s.cfg.AccessLog != "" {
		f, err := logfile.Open(s.cfg.AccessLog, logfile.Options{})
		if err != nil {
			return fmt.Errorf("access log: %w", err)
		}
		file = f
	}
	s.access = newAccessLog(file, s.accLog, s.now)
	for i, ep := range s.endpoints {
		l, err := ep.Listen(ctx)
		if err != nil {
			for _, l := range s.listeners {
				l.Close()
			}
			s.listeners = nil
			s.access.close()
			return err
		}
		s.listeners = append(s.listeners, l)
		s.log.Info("Site starting on " + l.Description())
		if i == 0 {
			s.siteLog.Info("Starting factory " + s.factory())
		}
	}
	if err := s.listenMetrics(ctx); err != nil {
		for _, l := range s.listeners {
			l.Close()
		}
		s.listeners = nil
		s.access.close()
		return err
	}
	s.setupACME()
	s.build()
	s.adopted = make([][]systemd.Socket, len(s.listeners))
	s.trackers = make([]*handover.Tracker, len(s.listeners))
	s.plan = planHandover(s.cfg.Handover, getenv, queryFDStore)
	s.handover = s.plan.on
	if s.plan.note != "" {
		s.log.Info(s.plan.note)
	}
	s.adopt()
	s.state = stateListening
	return nil
}

// factory names the site in "Starting factory" lines, as twistd names its
// twisted.web.server.Site.
func (s *Server) factory() string {
	return "<gotwistd.web.Site on " + strings.Join(s.cfg.Listen, ", ") + ">"
}

// build makes the server of each listener.
func (s *Server) build() {
	var altSvc []string
	var alts []string
	for _, l := range s.listeners {
		if l.Packet != nil {
			if a, ok := l.Packet.LocalAddr().(*net.UDPAddr); ok {
				alts = append(alts, `h3=":`+strconv.Itoa(a.Port)+`"; ma=`+altSvcMaxAge)
			}
		}
	}
	if len(alts) > 0 {
		altSvc = []string{strings.Join(alts, ", ")}
	}
	errorLog := log.New(errorLogWriter{s.errLog}, "", 0)
	s.servers = make([]*http.Server, len(s.listeners))
	s.h1s = make([]*h1.Server, len(s.listeners))
	s.h3 = make([]*http3.Server, len(s.listeners))
	sh, _ := s.handler.(*static.Handler)
	ops := s.newOps()
	for i, l := range s.listeners {
		h := &site{h: s.handler, errLog: s.errLog, ops: ops, metrics: s.metrics,
			server: []string{"gotwistd/" + s.version}}
		if sh != nil && sh.HasErrorPages() {
			h.pages = sh
		}
		if !s.cfg.NoAccessLog {
			h.access = s.access
		}
		if l.Packet != nil {
			var h3h http.Handler = h
			if s.idle != nil {
				h3h = idleHandler{h: h, idle: s.idle}
			}
			s.h3[i] = &http3.Server{
				Handler:        h3h,
				TLSConfig:      l.TLS,
				MaxHeaderBytes: s.cfg.MaxHeaderBytes,
				IdleTimeout:    s.cfg.IdleTimeout,
			}
			continue
		}
		h.unix = l.Stream.Addr().Network() == "unix" && l.Proxy == nil
		if l.Proxy != nil {
			l.Proxy.HeaderTimeout = s.cfg.ReadHeaderTimeout
			l.Proxy.OnError = s.proxyLog.onError
		}
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
			IdleTimeout:       s.cfg.IdleTimeout,
			WriteTimeout:      s.cfg.WriteTimeout,
			MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
			ErrorLog:          errorLog,
		}
		var h2s *h2.Server // gotwistd's HTTP/2 engine of an ssl listener, or nil
		if l.TLS != nil {
			h.altSvc = altSvc
			cfg := l.TLS.Clone()
			if len(cfg.NextProtos) == 0 {
				cfg.NextProtos = []string{"h2", "http/1.1"}
			}
			srv.TLSConfig = cfg
			if s.cfg.HTTP2Engine == EngineGotwistd {
				hs := &h2.Server{
					Handler:        h,
					IdleTimeout:    s.cfg.IdleTimeout,
					MaxHeaderBytes: s.cfg.MaxHeaderBytes,
					ErrorLog:       errorLog,
				}
				if sh != nil {
					h.static = sh
					hs.Fast = h
				}
				hs.ConfigureServer(srv)
				h2s = hs
			}
		}
		if l.AcceptOnce {
			s.acceptOnceLeft++
			srv.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateClosed || st == http.StateHijacked {
					s.acceptOnceDone()
				}
			}
		}
		s.servers[i] = srv
		// On ssl listeners, gotwistd's HTTP/1.1 engine makes the
		// handshakes and hands "h2" to gotwistd's HTTP/2 engine; with
		// --http2-engine=net/http, net/http serves both protocols there.
		if (l.TLS == nil || h2s != nil) && s.cfg.HTTP1Engine != EngineNetHTTP {
			h.static = sh
			hs := &h1.Server{
				Handler:           h,
				ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
				IdleTimeout:       s.cfg.IdleTimeout,
				WriteTimeout:      s.cfg.WriteTimeout,
				MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
				MaxTargetBytes:    maxRequestTarget,
				ErrorLog:          errorLog,
				ErrorPage:         h.enginePage,
				ServerHeader:      "gotwistd/" + s.version,
				Refused:           h.refused,
			}
			if sh != nil && h.altSvc == nil {
				// (The fast path's responses have no Alt-Svc.)
				hs.Fast = h
			}
			if h2s != nil {
				hs.NextProto = map[string]func(*tls.Conn){"h2": func(c *tls.Conn) { h2s.ServeConn(c) }}
				hs.OnShutdown = h2s.GoAway
			}
			s.h1s[i] = hs
		}
		if s.acme != nil && l.TLS == nil {
			// Next to an le: listener: ACME challenges and the redirect
			// to HTTPS come first, so no fast path.
			h.h, h.static = &plainACME{a: s.acme, next: s.handler}, nil
			if hs := s.h1s[i]; hs != nil {
				hs.Fast = nil
			}
		}
	}
}

// streamServer is what serves a stream listener: net/http's Server or
// gotwistd's engine.
type streamServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// stream returns the server of stream listener i.
func (s *Server) stream(i int) streamServer {
	if hs := s.h1s[i]; hs != nil {
		return hs
	}
	return s.servers[i]
}

// acceptOnceDone ends the service once the connections of every
// accept-once listener (systemd's Accept=yes) are finished, if there is
// nothing else to serve.
func (s *Server) acceptOnceDone() {
	s.mu.Lock()
	s.acceptOnceLeft--
	last := s.acceptOnceLeft == 0
	others := false
	for _, l := range s.listeners {
		if !l.AcceptOnce {
			others = true
		}
	}
	s.mu.Unlock()
	if last && !others {
		go s.Shutdown(context.Background())
	}
}

// Serve serves every listener until Shutdown, then returns nil once
// Shutdown is done. When the service was started for one systemd
// Accept=yes connection, Serve also returns nil, on its own, once that
// connection is finished.
func (s *Server) Serve() error {
	s.mu.Lock()
	switch s.state {
	case stateListening:
		s.state = stateServing
	case stateStopping:
		s.mu.Unlock()
		<-s.stopped
		return nil
	default:
		s.mu.Unlock()
		return errors.New("web: Serve called before Listen, or twice")
	}
	if s.cfg.Root != "" {
		if p := rootProblem(s.cfg.Root); p != "" {
			s.log.Warn(p) // after -u/-g: the user that serves
		}
	}
	errs := make(chan error, len(s.listeners))
	for i := range s.listeners {
		go func() {
			stackgrow.To4K() // (internal/stackgrow)
			errs <- s.serveOne(i)
		}()
	}
	s.startACME()
	go s.serveMetricsListener()
	if s.idle != nil {
		s.idle.start()
	}
	s.mu.Unlock()
	for range s.listeners {
		err := <-errs
		select {
		case <-s.stopping:
			continue
		default:
		}
		if err != nil {
			return err
		}
	}
	<-s.stopped
	return nil
}

func (s *Server) serveOne(i int) error {
	l := s.listeners[i]
	if srv := s.h3[i]; srv != nil {
		if err := srv.Serve(l.Packet); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve HTTP/3 on %s: %w", l.Endpoint, err)
		}
		return nil
	}
	srv := s.servers[i]
	ln := l.Stream
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
	ln = s.wrapPlain(i, ln, srv)
	s.mu.Unlock()
	ln = newAcceptRetryListener(ln, l.Endpoint.String(), s.log)
	if s.cfg.SendTimeout > 0 && ln.Addr().Network() == "tcp" {
		ln = &sendTimeoutListener{Listener: ln, timeout: s.cfg.SendTimeout}
	}
	if s.limit != nil {
		ln = &limitListener{Listener: ln, limit: s.limit}
	}
	if s.metrics != nil || s.idle != nil {
		ln = &countListener{Listener: ln, m: s.metrics, idle: s.idle}
	}
	if srv.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	var ss streamServer = srv
	if hs := s.h1s[i]; hs != nil {
		s.mu.Lock()
		hs.ConnState = srv.ConnState // set by build and wrapPlain
		s.mu.Unlock()
		ss = hs
	}
	if err := ss.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", l.Endpoint, err)
	}
	return nil
}

// Shutdown stops accepting on every listener, lets in-flight requests
// finish until ctx is done (then closes what is left), closes the
// listeners (logging "(TCP Port 8080 Closed)" as twistd does), and closes
// the access log. Calling it again waits for the first call and returns its
// result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.drain(ctx)
	s.mu.Lock()
	select {
	case <-s.stopping:
		s.mu.Unlock()
		select {
		case <-s.stopped:
			return s.shutdownErr
		case <-ctx.Done():
			return ctx.Err()
		}
	default:
	}
	close(s.stopping)
	wasListening := s.state != stateNew
	s.state = stateStopping
	s.mu.Unlock()

	if s.idle != nil {
		s.idle.stop()
	}
	if !wasListening {
		close(s.stopped)
		return nil
	}
	s.shutdownMetricsListener()
	var wg sync.WaitGroup
	errs := make([]error, len(s.listeners))
	for i := range s.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if t := s.tracker(i); t != nil {
				if err := s.handOver(ctx, i); err != nil {
					s.stream(i).Close()
					errs[i] = err
				}
			} else if s.servers[i] != nil {
				srv := s.stream(i)
				if err := srv.Shutdown(ctx); err != nil {
					srv.Close()
					errs[i] = err
				}
			}
			if srv := s.h3[i]; srv != nil {
				errs[i] = srv.Shutdown(ctx)
			}
		}()
	}
	wg.Wait()
	for i, l := range s.listeners {
		if err := l.Close(); err != nil {
			errs[i] = errors.Join(errs[i], err)
		}
		s.log.Info("(" + l.Kind() + " Port " + l.Description() + " Closed)")
	}
	s.siteLog.Info("Stopping factory " + s.factory())
	err := errors.Join(errs...)
	if cerr := s.access.close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("access log: %w", cerr))
	}
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("shutdown: gave up waiting for in-flight requests: %w", err)
	}
	s.shutdownErr = err
	close(s.stopped)
	return err
}

// tracker returns listener i's handover tracker, or nil.
func (s *Server) tracker(i int) *handover.Tracker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trackers[i]
}

// Reload reloads the certificates of every ssl and quic listener (new
// handshakes use the new ones; on error the old ones keep serving) and
// reopens the access log.
func (s *Server) Reload() error {
	s.mu.Lock()
	listeners := s.listeners
	s.mu.Unlock()
	var errs []error
	for _, l := range listeners {
		if err := l.ReloadCertificates(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.ReopenLogs(); err != nil {
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	if m := s.metrics; m != nil {
		if err != nil {
			m.reloadFailures.Add(1)
		} else {
			m.reloads.Add(1)
		}
	}
	return err
}

// ReopenLogs writes out buffered access lines and reopens the access log
// file, for logrotate (`mv access.log access.log.1`, then SIGUSR1).
func (s *Server) ReopenLogs() error {
	s.mu.Lock()
	a := s.access
	s.mu.Unlock()
	if a == nil {
		return nil
	}
	if err := a.reopen(); err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}

// Status says what is served where, e.g.
// "serving /srv/www (static) on tcp:8080, ssl:8443".
func (s *Server) Status() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	what := "the welcome page"
	if s.cfg.Root != "" {
		what = s.cfg.Root + " (static)"
		if s.cfg.CGI {
			what = s.cfg.Root + " (static, CGI)"
		}
	}
	var eps []string
	for i, ep := range s.endpoints {
		var l *endpoint.Listener
		if i < len(s.listeners) {
			l = s.listeners[i]
		}
		eps = append(eps, shortEndpoint(ep, l))
	}
	switch s.state {
	case stateNew:
		return "starting: " + what + " on " + strings.Join(eps, ", ")
	case stateStopping:
		return "stopping"
	}
	return "serving " + what + " on " + strings.Join(eps, ", ") + s.acmeStatus()
}

// shortEndpoint is an endpoint string without TLS file names, with the
// real port when port 0 was asked for.
func shortEndpoint(ep *endpoint.Endpoint, l *endpoint.Listener) string {
	e := *ep
	e.PrivateKey, e.CertKey = endpoint.DefaultPrivateKey, endpoint.DefaultPrivateKey
	e.ExtraCertChain, e.DHParameters, e.SSLMethod = "", "", ""
	if e.Port == 0 && e.Inner == nil && l != nil {
		if p, err := strconv.Atoi(l.Description()); err == nil {
			e.Port = p
		}
	}
	return e.String()
}

// errorLogWriter sends net/http's error log to the main log: TLS handshake
// failures (scanners, clients that distrust the certificate) at debug
// level, everything else as warnings.
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
