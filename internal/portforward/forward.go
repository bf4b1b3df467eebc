// Package portforward is twistd's `portforward` plugin (twisted.tap.portforward)
// for gotwistd's runner: a TCP forwarder. Every connection accepted on an
// endpoint (any stream endpoint, socket activation included) is joined to a
// new connection to a fixed destination, and bytes are copied both ways,
// half-closes passed on, until both directions are done.
//
//	gotwistd --nodaemon --pidfile= portforward --port systemd:domain=INET:index=0 --host 127.0.0.1 --dest_port 8080
//
// It is the second plugin of the runner, after web: it gets sd_notify,
// the watchdog, privileges, logging and systemd's sockets from the runner
// and only forwards. On Shutdown it stops accepting and lets the forwarded
// connections that are open finish until the runner's grace period ends.
package portforward

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/internal/service"
)

// Log systems, the "[system]" column of twistd's log lines.
const (
	systemMain    = "-"
	systemFactory = "gotwistd.portforward.ProxyFactory#info"
	systemError   = "gotwistd.portforward.ProxyFactory#error"
)

// copyBuffer is the size of each direction's copy buffer.
const copyBuffer = 32 << 10

// Forwarder is a running portforward service; New makes one.
type Forwarder struct {
	cfg       Config
	dest      string
	endpoints []*endpoint.Endpoint
	log       *slog.Logger
	facLog    *slog.Logger
	errLog    *slog.Logger
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)

	mu        sync.Mutex
	listeners []*endpoint.Listener
	conns     map[net.Conn]struct{}
	serving   bool
	stopping  chan struct{}
	stopped   chan struct{}
	active    sync.WaitGroup
	accepting sync.WaitGroup
}

// New returns a Forwarder for cfg. Endpoint strings are checked here, so a
// bad one is a usage error before anything is bound; datagram endpoints
// (quic:) are refused.
func New(cfg Config, env service.Env) (*Forwarder, error) {
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{DefaultPort}
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	f := &Forwarder{
		cfg:      cfg,
		dest:     net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.DestPort)),
		log:      logger.With("system", systemMain),
		facLog:   logger.With("system", systemFactory),
		errLog:   logger.With("system", systemError),
		conns:    make(map[net.Conn]struct{}),
		stopping: make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	d := net.Dialer{Timeout: cfg.ConnectTimeout}
	f.dial = d.DialContext
	for _, l := range cfg.Listen {
		ep, err := endpoint.Parse(l)
		if err != nil {
			return nil, &getopt.UsageError{Err: err, Hint: hint}
		}
		if ep.Type == endpoint.TypeQUIC {
			return nil, getopt.Usagef(hint, "--port %q: portforward forwards stream connections; give a tcp:, unix:, ssl: or systemd: endpoint", l)
		}
		f.endpoints = append(f.endpoints, ep)
	}
	return f, nil
}

// Listen binds every endpoint, logging "ProxyFactory starting on PORT" as
// twistd does. On error nothing stays bound.
func (f *Forwarder) Listen(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ep := range f.endpoints {
		l, err := ep.Listen(ctx)
		if err == nil && l.Stream == nil {
			l.Close()
			err = fmt.Errorf("endpoint %s is a datagram socket: portforward needs a stream socket (ListenStream= in the .socket unit)", ep)
		}
		if err != nil {
			for _, l := range f.listeners {
				l.Close()
			}
			f.listeners = nil
			return err
		}
		f.listeners = append(f.listeners, l)
		f.log.Info("ProxyFactory starting on " + l.Description())
		if i == 0 {
			f.facLog.Info("Starting factory " + f.factory())
		}
	}
	return nil
}

func (f *Forwarder) factory() string {
	return "<gotwistd.portforward.ProxyFactory " + strings.Join(f.cfg.Listen, ", ") + " -> " + f.dest + ">"
}

// Serve accepts on every listener until Shutdown, then returns nil once
// Shutdown is done. An accept error that is not temporary is returned.
func (f *Forwarder) Serve() error {
	f.mu.Lock()
	if f.serving {
		f.mu.Unlock()
		return errors.New("portforward: Serve called twice")
	}
	f.serving = true
	select {
	case <-f.stopping:
		f.mu.Unlock()
		<-f.stopped
		return nil
	default:
	}
	errs := make(chan error, len(f.listeners))
	for _, l := range f.listeners {
		f.accepting.Add(1)
		go func() {
			defer f.accepting.Done()
			errs <- f.acceptLoop(l)
		}()
	}
	n := len(f.listeners)
	f.mu.Unlock()
	for range n {
		if err := <-errs; err != nil {
			select {
			case <-f.stopping:
			default:
				return err
			}
		}
	}
	<-f.stopped
	return nil
}

// acceptLoop accepts on l until it is closed. Temporary errors (EMFILE and
// the like) back off as net/http does, from 5 ms to 1 s, so a full fd table
// does not spin a core.
func (f *Forwarder) acceptLoop(l *endpoint.Listener) error {
	ln := l.Stream
	if l.TLS != nil {
		ln = tls.NewListener(ln, l.TLS)
	}
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-f.stopping:
				return nil
			default:
			}
			if ne, ok := err.(interface{ Temporary() bool }); ok && ne.Temporary() {
				delay = max(5*time.Millisecond, min(2*delay, time.Second))
				f.errLog.Warn(fmt.Sprintf("accept on %s: %v; retrying in %v", l.Endpoint, err, delay))
				select {
				case <-time.After(delay):
				case <-f.stopping:
					return nil
				}
				continue
			}
			return fmt.Errorf("accept on %s: %w", l.Endpoint, err)
		}
		delay = 0
		if !f.track(c) {
			c.Close()
			return nil
		}
		go f.forward(c)
		if l.AcceptOnce {
			return nil
		}
	}
}

// track records an accepted connection; false once stopping.
func (f *Forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.stopping:
		return false
	default:
	}
	f.conns[c] = struct{}{}
	f.active.Add(1)
	return true
}

func (f *Forwarder) untrack(cs ...net.Conn) {
	f.mu.Lock()
	for _, c := range cs {
		delete(f.conns, c)
	}
	f.mu.Unlock()
}

// forward joins client to a new connection to the destination.
func (f *Forwarder) forward(client net.Conn) {
	defer f.active.Done()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-f.stopped:
		case <-ctx.Done():
		}
		cancel()
	}()
	server, err := f.dial(ctx, "tcp", f.dest)
	cancel()
	if err != nil {
		f.errLog.Warn(fmt.Sprintf("Unable to connect to peer %s for %s: %v", f.dest, client.RemoteAddr(), err))
		f.untrack(client)
		client.Close()
		return
	}
	f.mu.Lock()
	f.conns[server] = struct{}{}
	f.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pipe(server, client) }()
	go func() { defer wg.Done(); pipe(client, server) }()
	wg.Wait()
	f.untrack(client, server)
	client.Close()
	server.Close()
}

// pipe copies src to dst until src ends, then passes the end on: a
// half-close (shutdown(SHUT_WR)) where dst supports it, so protocols that
// send a request, close their side and then read the answer keep working.
// An error on either side closes both, which ends the other direction too.
func pipe(dst, src net.Conn) {
	buf := make([]byte, copyBuffer)
	_, err := io.CopyBuffer(dst, src, buf)
	if err != nil {
		dst.Close()
		src.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	dst.Close()
}

// Shutdown stops accepting, lets open forwarded connections finish until
// ctx is done, then closes the rest and the listeners, logging
// "(TCP Port 6666 Closed)" as twistd does.
func (f *Forwarder) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	select {
	case <-f.stopping:
		f.mu.Unlock()
		select {
		case <-f.stopped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	default:
	}
	close(f.stopping)
	listeners := f.listeners
	f.mu.Unlock()

	var errs []error
	for _, l := range listeners {
		// Closing our copy of an inherited socket leaves systemd's, and
		// the connections queued on it, to the next instance.
		if err := l.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	f.accepting.Wait()
	done := make(chan struct{})
	go func() { f.active.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		f.mu.Lock()
		n := len(f.conns)
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		<-done
		err = fmt.Errorf("shutdown: closed %d forwarded connections still open after the grace period", n)
	}
	for _, l := range listeners {
		f.log.Info("(" + portKind(l) + " Port " + l.Description() + " Closed)")
	}
	f.facLog.Info("Stopping factory " + f.factory())
	close(f.stopped)
	return errors.Join(append(errs, err)...)
}

func portKind(l *endpoint.Listener) string {
	if l.Stream != nil && l.Stream.Addr().Network() == "unix" {
		return "UNIX"
	}
	return "TCP"
}

// Reload reloads the certificates of ssl listeners; open connections keep
// theirs.
func (f *Forwarder) Reload() error {
	f.mu.Lock()
	listeners := f.listeners
	f.mu.Unlock()
	var errs []error
	for _, l := range listeners {
		if err := l.ReloadCertificates(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ReopenLogs does nothing: the forwarder has no log files of its own.
func (f *Forwarder) ReopenLogs() error { return nil }

// Status says what is forwarded, for sd_notify's STATUS=.
func (f *Forwarder) Status() string {
	f.mu.Lock()
	n := len(f.conns)
	f.mu.Unlock()
	return fmt.Sprintf("forwarding %s to %s (%d sockets open)", strings.Join(f.cfg.Listen, ", "), f.dest, n)
}
