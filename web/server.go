package web

import (
	"context"
	"errors"
	"fmt"

	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/handover"
	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/internal/logfile"
	"github.com/gotwistd/gotwistd/internal/stackgrow"
	"github.com/gotwistd/gotwistd/service"
	"github.com/gotwistd/gotwistd/web/cgi"
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
	now       func() time.Time // clock of the access log, a seam for tests; nil: the real one, and the engine's readings of it

	log     *slog.Logger // system "-"
	siteLog *slog.Logger
	errLog  *slog.Logger
	accLog  *slog.Logger
	limit   *connLimit

	proxyLog *proxyLog // of haproxy listeners' bad headers

	mu             sync.Mutex
	state          int
	access         *accessLog
	listeners      []*endpoint.Listener // bound by Listen, in Config.Listen's order
	served         []*listenerState     // served[i]: what serves listeners[i] (listener.go)
	acceptOnceLeft int                  // accept-once connections still open
	handover       bool                 // park connections on Shutdown
	plan           handoverPlan         // what decided handover, and the store's room
	pending        *pendingPlan         // the plan, decided or awaiting systemd (handover_plan.go)
	adoptedN       int                  // connections adopted from the store at Listen
	queryStore     storeQuery           // tests: in place of queryFDStore
	acme           *acmeSite            // le: endpoints; nil without them
	stopping       chan struct{}        // closed when Shutdown starts
	stopped        chan struct{}        // closed when Shutdown is done
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
	h, err := s.newHandler(logger)
	if err != nil {
		return nil, err
	}
	s.handler = h
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

// newHandler is the site's handler: the static files of Config.Root (with
// CGI if asked), or the welcome page.
func (s *Server) newHandler(logger *slog.Logger) (http.Handler, error) {
	cfg := s.cfg
	if cfg.Root == "" {
		return newWelcome(s.version, cfg.Headers), nil
	}
	var scripts static.ScriptRunner
	if cfg.CGI {
		scripts = cgi.New(cgi.Config{Timeout: cfg.CGITimeout, MaxBody: cfg.CGIMaxBody, MaxProcs: cfg.CGIMaxProcs,
			ServerSoftware: "gotwistd/" + s.version, Log: logger.With("system", systemCGI)})
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
		ServerHeader:     "gotwistd/" + s.version,
		ErrorLog:         s.errLog,
		CGI:              scripts,
	})
	if err != nil {
		return nil, &getopt.UsageError{Err: fmt.Errorf("--path %s: %w", cfg.Root, err), Hint: hint}
	}
	return h, nil
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
	query := s.queryStore
	if query == nil {
		query = queryFDStore
	}
	// Systemd's answer, if needed, is awaited at Shutdown, not here.
	s.pending = startHandoverPlan(s.cfg.Handover, getenv, query, func(note string) { s.log.Info(note) })
	s.plan, _ = s.pending.get()
	s.handover = s.pending.maybe
	s.adopt()
	s.state = stateListening
	return nil
}

// factory names the site in "Starting factory" lines, as twistd names its
// twisted.web.server.Site.
func (s *Server) factory() string {
	return "<gotwistd.web.Site on " + strings.Join(s.cfg.Listen, ", ") + ">"
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
	s.settleHandover(ctx)
	var wg sync.WaitGroup
	errs := make([]error, len(s.listeners))
	for i := range s.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ls := s.served[i]
			if t := s.tracker(i); t != nil {
				if err := s.handOver(ctx, i); err != nil {
					ls.engine.Close()
					errs[i] = err
				}
			} else if ls.engine != nil {
				if err := ls.engine.Shutdown(ctx); err != nil {
					ls.engine.Close()
					errs[i] = err
				}
			}
			if ls.h3 != nil {
				errs[i] = ls.h3.Shutdown(ctx)
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
	return s.served[i].tracker
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
