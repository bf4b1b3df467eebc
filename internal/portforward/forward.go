// Package portforward is twistd's `portforward` plugin (twisted.tap.portforward):
// a TCP forwarder, and the proof that the public [runner.Daemon] contract
// carries a real service. Every connection accepted on an endpoint (any
// stream endpoint, socket activation included) is joined to a new
// connection to a fixed destination, and bytes are copied both ways,
// half-closes passed on, until both directions are done.
//
//	gotwistd --nodaemon --pidfile= portforward --port systemd:domain=INET:index=0 --host 127.0.0.1 --dest_port 8080
//
// The runner binds the endpoints, drops privileges, speaks sd_notify and
// pings the watchdog; this package only forwards. On stop it takes no new
// connection and lets the open ones finish until the grace period
// (--shutdown-timeout) ends, then closes the rest.
package portforward

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/runner"
	"github.com/gotwistd/gotwistd/service"
)

// Defaults of twistd's portforward options.
const (
	// DefaultPort is the endpoint forwarded from (twistd: 6666).
	DefaultPort = "tcp:6666"
	// DefaultHost is the host forwarded to (twistd: localhost).
	DefaultHost = "localhost"
	// DefaultDestPort is the port forwarded to (twistd: 6665).
	DefaultDestPort = 6665
	// DefaultConnectTimeout bounds the connection to the destination;
	// twistd has no such option and waits for the kernel's timeout.
	DefaultConnectTimeout = 10 * time.Second
)

// copyBuffer is the size of each direction's copy buffer.
const copyBuffer = 32 << 10

// NewPlugin returns twistd's `portforward` plugin for the runner.
func NewPlugin() service.Plugin {
	d := &runner.Daemon{
		Name:         "portforward",
		Synopsis:     "A simple port-forwarder.",
		Factory:      "ProxyFactory",
		ListenOption: "port",
		ListenShort:  'p',
		Listen:       []string{DefaultPort},
		Options: []runner.Option{
			{Long: "host", Short: 'h', Meta: "HOST", Help: "Set the host connections are forwarded to.", Default: DefaultHost},
			{Long: "dest-port", Short: 'd', Meta: "PORT", Help: "Set the destination port.", Default: strconv.Itoa(DefaultDestPort)},
			{Long: "connect-timeout", Meta: "DURATION", Help: "Give up connecting to the destination after this long; the client's connection is then closed.", Default: DefaultConnectTimeout.String()},
		},
		Description: "Port Forwarder: every connection accepted on --port is joined to a new\n" +
			"connection to --host:--dest_port, bytes copied both ways until both sides\n" +
			"have closed. On SIGTERM it stops accepting and lets open connections\n" +
			"finish within --shutdown-timeout.",
		Check: func(o runner.Values) error { _, err := parse(o); return err },
		Status: func(o runner.Values) string {
			c, _ := parse(o)
			return "forwarding " + strings.Join(o.All("port"), ", ") + " to " + c.dest
		},
		Run: run,
	}
	return d.Plugin()
}

// config is the forwarder's destination, from its options.
type config struct {
	dest    string
	timeout time.Duration
}

func parse(o runner.Values) (config, error) {
	host := o.Get("host")
	if host == "" || strings.ContainsAny(host, " /") {
		return config{}, fmt.Errorf("--host %q: give a host name or an IP address, such as localhost", host)
	}
	n, err := strconv.Atoi(o.Get("dest-port"))
	if err != nil || n < 1 || n > 65535 {
		return config{}, fmt.Errorf("--dest_port %q: give a port number from 1 to 65535", o.Get("dest-port"))
	}
	d, err := time.ParseDuration(o.Get("connect-timeout"))
	if err != nil || d <= 0 {
		return config{}, fmt.Errorf("--connect-timeout %q: give a duration such as 10s", o.Get("connect-timeout"))
	}
	return config{dest: net.JoinHostPort(host, strconv.Itoa(n)), timeout: d}, nil
}

// forwarder holds the connections of one run.
type forwarder struct {
	cfg    config
	log    *slog.Logger
	dialer net.Dialer

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	active sync.WaitGroup
}

func run(ctx context.Context, in *runner.Input) error {
	cfg, err := parse(in.Options)
	if err != nil {
		return err
	}
	f := &forwarder{cfg: cfg, log: in.Logger, dialer: net.Dialer{Timeout: cfg.timeout}, conns: map[net.Conn]struct{}{}}
	errs := make(chan error, len(in.Listeners))
	for _, l := range in.Listeners {
		ln := runner.Accepting(l)
		if ln == nil {
			return fmt.Errorf("endpoint %s is a datagram socket: portforward needs a stream socket (ListenStream= in the .socket unit)", l.Endpoint)
		}
		go func() { errs <- f.acceptLoop(ctx, l, ln) }()
	}
	var fatal error
	for range in.Listeners {
		if err := <-errs; err != nil && fatal == nil {
			fatal = err
		}
	}
	if fatal != nil && ctx.Err() == nil {
		f.closeAll()
		f.active.Wait()
		return fatal
	}
	done := make(chan struct{})
	go func() { f.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-in.Hard.Done():
		n := f.closeAll()
		<-done
		f.log.Info(fmt.Sprintf("closed %d forwarded sockets still open after the grace period", n))
	}
	return nil
}

// acceptLoop accepts on ln until ctx is done (the runner then closes the
// listener). Temporary errors (EMFILE and the like) back off as net/http
// does, from 5 ms to 1 s, so a full fd table does not spin a core.
func (f *forwarder) acceptLoop(ctx context.Context, l *endpoint.Listener, ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if ne, ok := err.(interface{ Temporary() bool }); ok && ne.Temporary() {
				delay = max(5*time.Millisecond, min(2*delay, time.Second))
				f.log.Warn(fmt.Sprintf("accept on %s: %v; retrying in %v", l.Endpoint, err, delay))
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return nil
				}
				continue
			}
			return fmt.Errorf("accept on %s: %w", l.Endpoint, err)
		}
		delay = 0
		f.track(c)
		f.active.Add(1)
		go f.forward(c)
		if l.AcceptOnce {
			return nil
		}
	}
}

func (f *forwarder) track(cs ...net.Conn) {
	f.mu.Lock()
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	f.mu.Unlock()
}

func (f *forwarder) untrack(cs ...net.Conn) {
	f.mu.Lock()
	for _, c := range cs {
		delete(f.conns, c)
	}
	f.mu.Unlock()
}

// closeAll closes every open socket and returns how many there were.
func (f *forwarder) closeAll() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
	return len(f.conns)
}

// forward joins client to a new connection to the destination.
func (f *forwarder) forward(client net.Conn) {
	defer f.active.Done()
	server, err := f.dialer.Dial("tcp", f.cfg.dest)
	if err != nil {
		f.log.Warn(fmt.Sprintf("Unable to connect to peer %s for %s: %v", f.cfg.dest, client.RemoteAddr(), err))
		f.untrack(client)
		client.Close()
		return
	}
	f.track(server)
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
	if _, err := io.CopyBuffer(dst, src, buf); err != nil {
		dst.Close()
		src.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		return
	}
	dst.Close()
}
