package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/service"
)

// Daemon is the small plugin contract, the counterpart of twistd's
// IServiceMaker: a Daemon names itself, declares its options and serves in
// Run; the runner parses the options, binds the endpoints, and does
// everything else (see the package doc). Pass d.Plugin() to [Main].
//
// Every Daemon has a --listen=ENDPOINT option (repeatable; default Listen):
// endpoint strings as the [endpoint] package parses them (tcp:, tcp6:,
// unix:, ssl:, systemd:...). The runner binds them before dropping
// privileges and hands them to Run.
type Daemon struct {
	// Name is the plugin's word on the command line, e.g. "echo".
	Name string
	// Synopsis is the one line the runner's --help shows for it.
	Synopsis string
	// Factory names the daemon in the "Factory starting on PORT" line
	// logged for each endpoint (twistd logs its factory's class there;
	// default: Name) and, when set, in "Starting factory" and "Stopping
	// factory" lines as twistd writes them.
	Factory string
	// Description, when set, ends the plugin's --help.
	Description string
	// Listen holds the default endpoints, used when no --listen is given.
	// Empty: --listen is required.
	Listen []string
	// ListenOption renames the endpoint option (default "listen"), and
	// ListenShort gives it a short letter: twistd's portforward calls it
	// -p/--port.
	ListenOption string
	ListenShort  byte
	// Options are the plugin's own options, besides --listen and --help.
	Options []Option
	// Check, when set, validates the options before anything is bound;
	// an error is printed as a usage error (one line, exit status 1).
	Check func(o Values) error
	// Run serves on in.Listeners until ctx is done, then stops taking new
	// work, finishes what is in flight and returns. When ctx is done the
	// runner has already closed the listeners (so a blocked Accept returns
	// an error: check ctx.Err() then); in.Hard is done when the grace
	// period (--shutdown-timeout) is over: close what is left and return.
	// A non-nil error returned before ctx is done is fatal: the runner logs
	// it and exits 1 (and, with Restart=, systemd starts it again).
	Run func(ctx context.Context, in *Input) error
	// Reload, when set, is called on SIGHUP, after the listeners'
	// certificates were reloaded.
	Reload func() error
	// Healthy, when set, is called for systemd's watchdog (WatchdogSec=):
	// while it returns an error the runner stops pinging.
	Healthy func(ctx context.Context) error
	// Status, when set, says what the daemon does in one line for
	// sd_notify's STATUS=, from its options (Values.All of the endpoint
	// option lists the endpoints served). Default: "serving on " and the
	// endpoints.
	Status func(o Values) string
}

// Option declares one option of a Daemon, in twistd's getopt style: long
// options may be abbreviated to a unique prefix, '_' may be written for
// '-', and short options bundle.
type Option struct {
	// Long is the long name without "--", e.g. "greeting".
	Long string
	// Short is the one-letter name without "-", or 0 for none.
	Short byte
	// Flag is true for an option that takes no value; Values.Flag reports
	// whether it was given.
	Flag bool
	// Meta names the value in --help, e.g. "TEXT".
	Meta string
	// Help describes the option in --help.
	Help string
	// Default is the value when the option is not given.
	Default string
}

// Values are the options a command line gave a Daemon.
type Values struct {
	values map[string][]string
	opts   []Option
}

// Get returns the last value given for the option with this long name, or
// its Default.
func (v Values) Get(name string) string {
	if vs := v.values[name]; len(vs) > 0 {
		return vs[len(vs)-1]
	}
	for _, o := range v.opts {
		if o.Long == name {
			return o.Default
		}
	}
	return ""
}

// All returns every value given for the option, in order (nil when none:
// the default is not included).
func (v Values) All(name string) []string { return v.values[name] }

// Flag reports whether the flag with this long name was given.
func (v Values) Flag(name string) bool { return len(v.values[name]) > 0 }

// Input is what Run is handed.
type Input struct {
	// Listeners are the bound endpoints, in the order of --listen. Use
	// [Accepting] for a stream listener with TLS already applied.
	Listeners []*endpoint.Listener
	// Logger writes to the runner's log, with the plugin's name as the
	// "[system]" column.
	Logger *slog.Logger
	// Options are the daemon's option values.
	Options Values
	// Hard is done when the grace period after ctx is over.
	Hard context.Context
}

// Accepting returns l's stream listener, wrapped in TLS for ssl: endpoints;
// nil for datagram endpoints (quic:).
func Accepting(l *endpoint.Listener) net.Listener {
	if l.Stream == nil {
		return nil
	}
	if l.TLS != nil {
		return tls.NewListener(l.Stream, l.TLS)
	}
	return l.Stream
}

// Plugin returns d as a [service.Plugin], for [Main]:
//
//	os.Exit(runner.Main(os.Args[1:], echo.Plugin()))
func (d *Daemon) Plugin() service.Plugin { return daemonPlugin{d} }

// daemonPlugin is a Daemon seen as a service.Plugin.
type daemonPlugin struct{ d *Daemon }

func (p daemonPlugin) Name() string     { return p.d.Name }
func (p daemonPlugin) Synopsis() string { return p.d.Synopsis }
func (p daemonPlugin) New(args []string, env service.Env) (service.Service, error) {
	return p.d.newService(args, env)
}

func (d *Daemon) hint() string { return "gotwistd " + d.Name + " --help" }

func (d *Daemon) listenOption() string {
	if d.ListenOption != "" {
		return d.ListenOption
	}
	return "listen"
}

func (d *Daemon) parser() *getopt.Parser {
	p := &getopt.Parser{Hint: d.hint()}
	def := strings.Join(d.Listen, ", ")
	p.Options = append(p.Options, getopt.Option{Long: d.listenOption(), Short: d.ListenShort, Arg: true, Meta: "ENDPOINT",
		Help: "Add an endpoint to serve on, such as tcp:7000, unix:/run/x.sock or systemd:domain=INET:index=0. Repeatable.", Default: def})
	for _, o := range d.Options {
		p.Options = append(p.Options, getopt.Option{Long: o.Long, Short: o.Short, Arg: !o.Flag, Meta: o.Meta, Help: o.Help, Default: o.Default})
	}
	p.Options = append(p.Options, getopt.Option{Long: "help", Help: "Display this help and exit."})
	return p
}

// writeHelp prints the daemon's --help.
func (d *Daemon) writeHelp(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "Usage: gotwistd [options] %s [options]\nOptions:\n", d.Name); err != nil {
		return err
	}
	if err := d.parser().WriteHelp(w); err != nil {
		return err
	}
	if d.Description != "" {
		if _, err := fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(d.Description)); err != nil {
			return err
		}
	}
	return nil
}

// newService parses args and returns the service the runner serves.
func (d *Daemon) newService(args []string, env service.Env) (service.Service, error) {
	if d.Run == nil {
		return nil, fmt.Errorf("plugin %s has no Run function", d.Name)
	}
	results, rest, err := d.parser().Parse(args)
	if err != nil {
		return nil, err
	}
	vals := Values{values: map[string][]string{}, opts: d.Options}
	for _, r := range results {
		if r.Name == "help" {
			if env.Stdout != nil {
				if err := d.writeHelp(env.Stdout); err != nil {
					return nil, err
				}
			}
			return nil, flag.ErrHelp
		}
		vals.values[r.Name] = append(vals.values[r.Name], r.Value)
	}
	if len(rest) > 0 {
		return nil, getopt.Usagef(d.hint(), "unexpected argument %q: %s takes only options", rest[0], d.Name)
	}
	listen := vals.All(d.listenOption())
	if len(listen) == 0 {
		listen = d.Listen
	}
	if len(listen) == 0 {
		return nil, getopt.Usagef(d.hint(), "no endpoint to serve on: give --%s ENDPOINT, such as --%[1]s tcp:7000", d.listenOption())
	}
	vals.values[d.listenOption()] = listen
	s := &daemonService{d: d, vals: vals, listen: listen, stopped: make(chan struct{})}
	for _, l := range listen {
		ep, err := endpoint.Parse(l)
		if err != nil {
			return nil, &getopt.UsageError{Err: err, Hint: d.hint()}
		}
		s.endpoints = append(s.endpoints, ep)
	}
	if d.Check != nil {
		if err := d.Check(vals); err != nil {
			if getopt.Hint(err) == "" {
				err = &getopt.UsageError{Err: err, Hint: d.hint()}
			}
			return nil, err
		}
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s.log = logger.With("system", "-")
	s.pluginLog = logger.With("system", d.Name)
	s.factoryLog = logger.With("system", "gotwistd."+d.Name+"."+d.factory()+"#info")
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hard, s.cancelHard = context.WithCancel(context.Background())
	return s, nil
}

// daemonService runs a Daemon as a service.Service.
type daemonService struct {
	d          *Daemon
	vals       Values
	listen     []string
	endpoints  []*endpoint.Endpoint
	log        *slog.Logger
	pluginLog  *slog.Logger
	factoryLog *slog.Logger

	ctx, hard          context.Context
	cancel, cancelHard context.CancelFunc

	mu        sync.Mutex
	listeners []*endpoint.Listener
	serving   bool
	runErr    error
	stopped   chan struct{} // closed when Run has returned (or will never run)
	closeOnce sync.Once
}

// Listen binds every endpoint, logging "<name> starting on PORT" as twistd
// logs a factory's start. On error nothing stays bound.
func (s *daemonService) Listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ep := range s.endpoints {
		l, err := ep.Listen(ctx)
		if err != nil {
			for _, l := range s.listeners {
				l.Close()
			}
			s.listeners = nil
			return err
		}
		s.listeners = append(s.listeners, l)
		s.log.Info(s.d.factory() + " starting on " + l.Description())
	}
	if s.d.Factory != "" {
		s.factoryLog.Info("Starting factory " + s.factoryName())
	}
	return nil
}

func (d *Daemon) factory() string {
	if d.Factory != "" {
		return d.Factory
	}
	return d.Name
}

// factoryName names the daemon in "Starting factory" lines, as twistd
// names a factory by its class: <gotwistd.portforward.ProxyFactory on tcp:6666>.
func (s *daemonService) factoryName() string {
	return "<gotwistd." + s.d.Name + "." + s.d.factory() + " on " + strings.Join(s.listen, ", ") + ">"
}

// Serve calls Run and returns its error, or nil once a stop was asked for.
func (s *daemonService) Serve() error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New(s.d.Name + ": Serve called twice")
	}
	s.serving = true
	in := &Input{Listeners: s.listeners, Logger: s.pluginLog, Options: s.vals, Hard: s.hard}
	s.mu.Unlock()
	if s.ctx.Err() != nil {
		s.finish(nil)
		return nil
	}
	err := s.d.Run(s.ctx, in)
	if s.ctx.Err() != nil {
		err = nil
	} else if err == nil {
		err = fmt.Errorf("%s: Run returned before the service was stopped", s.d.Name)
	}
	s.finish(err)
	return err
}

func (s *daemonService) finish(err error) {
	s.mu.Lock()
	s.runErr = err
	s.mu.Unlock()
	s.closeListeners()
	s.closeOnce.Do(func() { close(s.stopped) })
}

// closeListeners closes every listener once, logging twistd's
// "(TCP Port 7000 Closed)". For a socket from systemd it closes this
// process's copy only: the connections queued on it wait for the next
// instance.
func (s *daemonService) closeListeners() {
	s.mu.Lock()
	ls := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	if len(ls) > 0 && s.d.Factory != "" {
		defer s.factoryLog.Info("Stopping factory " + s.factoryName())
	}
	for _, l := range ls {
		l.Close()
		s.log.Info("(" + l.Kind() + " Port " + l.Description() + " Closed)")
	}
}

// Shutdown ends Run's context and closes the listeners, and waits for Run
// to return until ctx is done; then it ends in.Hard and returns ctx's
// error (the runner logs that the grace period is over).
func (s *daemonService) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	serving := s.serving
	s.mu.Unlock()
	s.cancel()
	s.closeListeners()
	if !serving {
		s.closeOnce.Do(func() { close(s.stopped) })
	}
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
	}
	// Run has in.Hard to close what is left; Serve returns once it has.
	s.cancelHard()
	return ctx.Err()
}

// Reload reloads the listeners' TLS certificates, then calls Daemon.Reload.
func (s *daemonService) Reload() error {
	s.mu.Lock()
	ls := s.listeners
	s.mu.Unlock()
	var errs []error
	for _, l := range ls {
		if err := l.ReloadCertificates(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.d.Reload != nil {
		if err := s.d.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ReopenLogs does nothing: a Daemon logs through the runner, which reopens
// its own log.
func (s *daemonService) ReopenLogs() error { return nil }

// Status is Daemon.Status, or "serving on" and the endpoints.
func (s *daemonService) Status() string {
	if s.d.Status != nil {
		return s.d.Status(s.vals)
	}
	return "serving on " + strings.Join(s.listen, ", ")
}

// Healthy is Daemon.Healthy; nil without one.
func (s *daemonService) Healthy(ctx context.Context) error {
	if s.d.Healthy == nil {
		return nil
	}
	return s.d.Healthy(ctx)
}
