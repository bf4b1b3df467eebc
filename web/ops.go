package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/internal/getopt"
)

// healthCacheFor is how long the health endpoint reuses the result of the
// server's self-check (Healthy), so a load balancer polling it often, or a
// client flooding it, costs one self-connection a second at most.
const healthCacheFor = time.Second

// ops answers the operator's paths, --health and --metrics, ahead of the
// site's files.
type ops struct {
	srv         *Server
	healthPath  string   // "" for none
	metricsPath string   // "" for none on this listener
	metrics     *metrics // nil unless metricsPath is set

	mu        sync.Mutex
	checkedAt time.Time // when Healthy last ran
	lastErr   error     // its result
}

// match reports whether path is one of the operator's paths.
func (o *ops) match(path string) bool {
	return (o.healthPath != "" && path == o.healthPath) || (o.metricsPath != "" && path == o.metricsPath)
}

// serve answers r if its path is an operator's path, and reports whether
// it did.
func (o *ops) serve(w http.ResponseWriter, r *http.Request) bool {
	switch p := r.URL.Path; {
	case o.healthPath != "" && p == o.healthPath:
		o.serveHealth(w, r)
	case o.metricsPath != "" && p == o.metricsPath:
		o.metrics.ServeHTTP(w, r)
	default:
		return false
	}
	return true
}

// Bodies of the health endpoint.
const (
	healthOK        = "ok\n"
	healthDraining  = "draining\n"
	healthUnhealthy = "unhealthy\n"
)

// serveHealth answers the health path: 200 "ok" while the server serves
// and its self-check (the one systemd's watchdog uses) passes, 503
// "draining" from the stop signal on, 503 "unhealthy" when the self-check
// fails (the reason goes to the log, not to the client).
func (o *ops) serveHealth(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	code, body := http.StatusOK, healthOK
	switch {
	case o.srv.draining.Load():
		code, body = http.StatusServiceUnavailable, healthDraining
	// Not the request's context: a prober that hangs up must not leave a
	// failed check behind for the next ones.
	case o.check(context.WithoutCancel(r.Context())) != nil:
		code, body = http.StatusServiceUnavailable, healthUnhealthy
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

// check runs the server's self-check at most once per healthCacheFor.
func (o *ops) check(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if now := time.Now(); o.checkedAt.IsZero() || now.Sub(o.checkedAt) >= healthCacheFor {
		o.lastErr = o.srv.Healthy(ctx)
		o.checkedAt = time.Now()
		if o.lastErr != nil {
			o.srv.log.Warn(fmt.Sprintf("--health: answering 503: %v", o.lastErr))
		}
	}
	return o.lastErr
}

// newOps returns the operator's paths of the site's listeners, or nil
// when there are none.
func (s *Server) newOps() *ops {
	o := &ops{srv: s, healthPath: s.cfg.HealthPath}
	if s.cfg.MetricsPath != "" && s.cfg.MetricsListen == "" {
		o.metricsPath, o.metrics = s.cfg.MetricsPath, s.metrics
	}
	if o.healthPath == "" && o.metricsPath == "" {
		return nil
	}
	return o
}

// listenMetrics binds --metrics-listen, if given.
func (s *Server) listenMetrics(ctx context.Context) error {
	if s.metricsEP == nil {
		return nil
	}
	l, err := s.metricsEP.Listen(ctx)
	if err != nil {
		return fmt.Errorf("--metrics-listen: %w", err)
	}
	if l.Stream == nil {
		l.Close()
		return fmt.Errorf("--metrics-listen %s: give a stream endpoint (tcp:, unix:, ssl: or systemd:), not quic:", s.cfg.MetricsListen)
	}
	path := s.cfg.MetricsPath
	if path == "" {
		path = DefaultMetricsPath
	}
	o := &ops{srv: s, healthPath: s.cfg.HealthPath, metricsPath: path, metrics: s.metrics}
	s.metricsLn = l
	s.metricsSrv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !o.serve(w, r) {
				http.NotFound(w, r)
			}
		}),
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
	}
	s.log.Info("Metrics on " + l.Description() + " at " + path)
	return nil
}

// serveMetricsListener serves --metrics-listen until Shutdown.
func (s *Server) serveMetricsListener() {
	if s.metricsSrv == nil {
		return
	}
	ln := s.metricsLn.Stream
	if cfg := s.metricsLn.TLS; cfg != nil {
		cfg = cfg.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		ln = tls.NewListener(ln, cfg)
	}
	if err := s.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.errLog.Error(fmt.Sprintf("--metrics-listen %s stopped: %v", s.cfg.MetricsListen, err))
	}
}

// shutdownMetricsListener stops --metrics-listen, at once: a scrape in
// flight is cut short, as the scraper will retry.
func (s *Server) shutdownMetricsListener() {
	if s.metricsSrv != nil {
		s.metricsSrv.Close()
	}
	if s.metricsLn != nil {
		s.metricsLn.Close()
	}
}

// drain is the first step of Shutdown: from here on --health answers 503,
// and with --drain-time the server goes on serving that long (or until
// ctx is done) so load balancers see the 503 and take it out before it
// stops accepting. Only the first call waits.
func (s *Server) drain(ctx context.Context) {
	if s.draining.Swap(true) {
		return
	}
	s.mu.Lock()
	serving := s.state == stateServing
	s.mu.Unlock()
	d := s.cfg.DrainTime
	if d <= 0 || !serving {
		return
	}
	s.log.Info(fmt.Sprintf("Draining for %s (--drain-time): --health answers 503, requests are still served.", d))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// countListener counts the connections it accepts and their closing, for
// the metrics and for --exit-idle-time.
type countListener struct {
	net.Listener
	m    *metrics   // or nil
	idle *idleTimer // or nil
}

// Accept returns the next connection, counted.
func (l *countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.m != nil {
		l.m.accepted.Add(1)
		l.m.open.Add(1)
	}
	if l.idle != nil {
		l.idle.begin()
	}
	return &countConn{Conn: c, l: l}, nil
}

// countConn uncounts itself when closed.
type countConn struct {
	net.Conn
	l      *countListener
	closed atomic.Bool
}

// Close closes the connection and uncounts it once.
func (c *countConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		if c.l.m != nil {
			c.l.m.open.Add(-1)
		}
		if c.l.idle != nil {
			c.l.idle.end()
		}
	}
	return c.Conn.Close()
}

// ReadFrom lets net/http use sendfile through the wrapper.
func (c *countConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// CloseWrite half-closes the connection.
func (c *countConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Unwrap returns the underlying connection.
func (c *countConn) Unwrap() net.Conn { return c.Conn }

// TransparentIO tells gotwistd's HTTP/1.1 engine that reads and writes
// pass through unchanged (h1.Transparent).
func (c *countConn) TransparentIO() {}

// idleTimer calls fire once nothing has been busy (no connection open, no
// HTTP/3 request in flight) for d: --exit-idle-time.
type idleTimer struct {
	d    time.Duration
	fire func()

	mu       sync.Mutex
	busy     int64
	deadline time.Time // when fire is due while busy == 0
	timer    *time.Timer
	fired    bool
}

// start arms the timer: the service is idle from now until the first
// connection.
func (t *idleTimer) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		return
	}
	t.deadline = time.Now().Add(t.d)
	t.timer = time.AfterFunc(t.d, t.expired)
	if t.busy > 0 {
		t.timer.Stop()
	}
}

// stop disarms the timer for good.
func (t *idleTimer) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fired = true
	if t.timer != nil {
		t.timer.Stop()
	}
}

// begin marks one more thing busy.
func (t *idleTimer) begin() {
	t.mu.Lock()
	t.busy++
	if t.busy == 1 && t.timer != nil {
		t.timer.Stop()
	}
	t.mu.Unlock()
}

// end marks one thing done; the last one starts the idle time.
func (t *idleTimer) end() {
	t.mu.Lock()
	t.busy--
	if t.busy == 0 && t.timer != nil && !t.fired {
		t.deadline = time.Now().Add(t.d)
		t.timer.Reset(t.d)
	}
	t.mu.Unlock()
}

// expired runs when the timer goes off; a callback that lost a race with
// begin or end (it was already running) finds the service busy or the
// deadline moved, and re-arms or does nothing.
func (t *idleTimer) expired() {
	t.mu.Lock()
	if t.fired || t.busy > 0 {
		t.mu.Unlock()
		return
	}
	if left := time.Until(t.deadline); left > 0 {
		t.timer.Reset(left)
		t.mu.Unlock()
		return
	}
	t.fired = true
	t.mu.Unlock()
	t.fire()
}

// idleHandler marks an HTTP/3 request busy while it is served: QUIC
// connections are not counted by countListener.
type idleHandler struct {
	h    http.Handler
	idle *idleTimer
}

func (h idleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.idle.begin()
	defer h.idle.end()
	h.h.ServeHTTP(w, r)
}

// fromSystemd reports whether ep's socket comes from systemd (systemd:,
// or ssl:/quic: over systemd:).
func fromSystemd(ep *endpoint.Endpoint) bool {
	for e := ep; e != nil; e = e.Inner {
		if e.Type == endpoint.TypeSystemd {
			return true
		}
	}
	return false
}

// idleExit is --exit-idle-time's end: the service stops as on SIGTERM,
// but without --drain-time (no load balancer is told anything by an idle
// server), and Serve returns so the runner exits 0.
func (s *Server) idleExit() {
	s.log.Info(fmt.Sprintf("No connection for %s (--exit-idle-time): exiting; systemd starts gotwistd again on the next connection.", s.cfg.ExitIdleTime))
	s.draining.Store(true)
	go s.Shutdown(context.Background())
}

// newOpsConfig checks and sets up what --metrics, --metrics-listen and
// --exit-idle-time ask for, in New.
func (s *Server) newOpsConfig() error {
	cfg := s.cfg
	if cfg.MetricsPath != "" || cfg.MetricsListen != "" {
		s.metrics = &metrics{start: time.Now(), version: s.version}
	}
	if cfg.MetricsListen != "" {
		ep, err := endpoint.Parse(cfg.MetricsListen)
		if err != nil {
			return &getopt.UsageError{Err: fmt.Errorf("--metrics-listen: %w", err), Hint: hint}
		}
		s.metricsEP = ep
	}
	if cfg.ExitIdleTime <= 0 {
		return nil
	}
	eps := s.endpoints
	if s.metricsEP != nil {
		eps = append(eps[:len(eps):len(eps)], s.metricsEP)
	}
	for _, ep := range eps {
		if !fromSystemd(ep) {
			return getopt.Usagef(hint, "--exit-idle-time needs every socket from systemd, but %s is bound by gotwistd itself: after an idle exit nothing would start it again; use a .socket unit and --listen systemd:domain=INET:name=NAME", ep)
		}
	}
	s.idle = &idleTimer{d: cfg.ExitIdleTime, fire: s.idleExit}
	return nil
}
