// Package cli is gotwistd's runner, the part of Twisted's twistd that reads
// the global options and runs a plugin:
//
//	gotwistd [global options] PLUGIN [plugin options]
//
// Main is the only function that turns errors into exit statuses. The
// runner does, in order, what twistd does:
//
//  1. parse the global options (getopt rules: --nodae for --nodaemon,
//     -no, --pidfile=, --pidfile X) and pick the plugin;
//  2. check the pidfile: non-numeric -> "Pidfile X contains non-numeric
//     value", a live pid -> "Another gotwistd server is running, PID N"
//     (both exit 1), a dead pid -> "Removing stale pidfile X";
//  3. without --nodaemon, start itself again in a new session with stdio on
//     /dev/null and wait on a status pipe: exit 0 once the daemon serves,
//     or print "An error has occurred: ..." and exit 1 (Go cannot fork);
//  4. set the umask (0077 for a daemon unless --umask), open the log
//     (stderr in the foreground, gotwistd.log for a daemon, -l PATH, -l -
//     for stdout, --syslog), call Plugin.New and log "Log opened.", the
//     version and runtime lines and the plugin's own lines;
//  5. write the pidfile, chroot (--chroot), change to --rundir, call
//     Service.Listen, drop privileges (-u/-g: setgroups, setgid, setuid;
//     "set uid/gid U/G"), start Service.Serve, then tell the daemon's
//     parent and systemd (READY=1, STATUS=) that it is up; a start that
//     fails tells systemd why (STATUS=, and ERRNO= when the error has an
//     errno);
//  6. on SIGTERM/SIGINT: "Received SIGTERM, shutting down.", STOPPING=1,
//     Service.Shutdown with --shutdown-timeout (a second signal closes
//     everything at once), "Main loop terminated.", "Server Shut Down.",
//     exit status 0; on SIGHUP: RELOADING=1, reopen the log, Service.Reload,
//     READY=1; on SIGUSR1: rotate the log file (or reopen it after
//     logrotate moved it) and Service.ReopenLogs.
//
// A start whose New or Listen is still running after a second asks systemd
// for 3 s more (EXTEND_TIMEOUT_USEC, with STATUS= naming the step) every
// second, so a short TimeoutStartSec= does not kill it, for up to
// --start-timeout (default 90s) in all; past that the start fails with an
// error naming the step. Meanwhile SIGTERM/SIGINT end the start at once
// (exit status 0), and SIGHUP/SIGUSR1 wait for the main loop.
//
// Under systemd with WatchdogSec=, the runner sends WATCHDOG=1 every half
// interval while its main loop answers within a quarter of the interval
// (a reload that hangs, or a stuck loop, stops the pings) and, when the
// service has a method Healthy(context.Context) error, while that returns
// nil too.
//
// Where gotwistd differs from twistd 22.4 on purpose: a stop by SIGTERM
// exits 0 (twistd re-raises the signal: 143); SIGHUP reloads and SIGUSR1
// never kills (twistd dies on both when logging to stdout); usage errors
// exit 1 (twistd prints its usage and exits 0); a pidfile holding our own
// pid counts as stale (a restarted container reuses pids); the pidfile is
// written before --chroot, at the path given, and the umask applies before
// the log file is created; a start-up that takes longer than --start-timeout
// fails (twistd waits for ever).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/service"
	"github.com/gotwistd/gotwistd/systemd"
)

// Version is gotwistd's version, printed by --version and in the start-up
// line, and handed to plugins as service.Env.Version.
const Version = "0.1.0"

// Main runs gotwistd with args (the command line without the program name)
// and the plugins it offers, and returns the exit status: 0 after a clean
// shutdown or --help/--version, 1 for a usage error or a failed start.
func Main(args []string, plugins ...service.Plugin) int {
	// The signals are taken first of all, beside reading the options:
	// see takeSignals.
	r := &runner{stdout: os.Stdout, stderr: os.Stderr, plugins: plugins, signals: takeSignals()}
	return r.exitStatus(r.run(args))
}

type runner struct {
	stdout, stderr io.Writer
	plugins        []service.Plugin
	// signals: the runner's signals, being taken since Main began (nil:
	// serve takes them itself). Paths that do not serve give them back
	// (releaseSignals).
	signals *takenSignals
}

// takenSignals are the signals the runner handles, taken on a goroutine of
// their own: from then on SIGTERM, SIGINT and SIGHUP queue up instead of
// killing the process, and SIGPIPE on a closed stdout fails the write
// instead. (Notify, not Ignore: ignored signals would stay ignored in
// processes the plugin starts.) Each signal taken is a round trip to the
// runtime's signal thread, 0.3-0.5 ms for the five at a cold start (exec
// to first byte), so they are taken beside the steps before serving
// (reading the options, Plugin.New), from the start of Main; serve waits
// for them (done) before it writes the pidfile or binds anything, which a
// signal must not leave behind. The log lines before that go out through
// descriptors of the runner's own (openLog), which a closed reader cannot
// kill the process through, SIGPIPE taken or not.
type takenSignals struct {
	sigs    chan os.Signal // SIGTERM, SIGINT, SIGHUP, sigReopenLogs
	sigpipe chan os.Signal
	done    chan struct{} // closed once all are taken
}

// takeSignals starts taking the runner's signals.
func takeSignals() *takenSignals {
	t := &takenSignals{sigs: make(chan os.Signal, 8), sigpipe: make(chan os.Signal, 1), done: make(chan struct{})}
	go func() {
		signal.Notify(t.sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, sigReopenLogs)
		signal.Notify(t.sigpipe, syscall.SIGPIPE)
		close(t.done)
	}()
	return t
}

// stop gives the signals back: their default actions again.
func (t *takenSignals) stop() {
	<-t.done
	signal.Stop(t.sigs)
	signal.Stop(t.sigpipe)
}

// releaseSignals gives back the signals Main took, for a path that does
// not serve (--help, a command plugin, a daemon's parent, an error): a
// Ctrl-C must still stop what it runs.
func (r *runner) releaseSignals() {
	if r.signals != nil {
		r.signals.stop()
		r.signals = nil
	}
}

// loggedError is a failure already written to the log; it is printed on
// stderr too unless the log is stderr.
type loggedError struct {
	err      error
	toStderr bool
}

func (e *loggedError) Error() string { return e.err.Error() }
func (e *loggedError) Unwrap() error { return e.err }

// errHelp stops the runner after a plugin printed its --help: exit 0.
var errHelp = errors.New("help printed")

func (r *runner) exitStatus(err error) int {
	var (
		plain  *plainError
		daemon *daemonError
		logged *loggedError
	)
	switch {
	case err == nil, errors.Is(err, errHelp), errors.Is(err, errStartInterrupted):
		return 0
	case errors.As(err, &plain):
		fmt.Fprintln(r.stderr, plain.msg)
	case errors.As(err, &daemon):
		fmt.Fprintln(r.stderr, daemon.Error())
	case errors.As(err, &logged):
		if !logged.toStderr {
			fmt.Fprintf(r.stderr, "gotwistd: error: %v\n", err)
		}
	case errors.Is(err, getopt.ErrUsage):
		hint := getopt.Hint(err)
		if hint == "" {
			hint = "gotwistd --help"
		}
		fmt.Fprintf(r.stderr, "gotwistd: error: %v\nTry: %s\n", err, hint)
	default:
		fmt.Fprintf(r.stderr, "gotwistd: error: %v\n", err)
	}
	return 1
}

// run runs the command line; in a daemon child it also reports the outcome
// of the start on the status pipe, and to systemd when the start failed.
func (r *runner) run(args []string) error {
	pipe := takeStatusPipe()
	err := r.start(args, pipe)
	r.releaseSignals()
	if err != nil && !errors.Is(err, errHelp) {
		msg := err.Error()
		var d *daemonError
		if errors.As(err, &d) {
			msg = d.msg
		}
		_, _ = systemd.Errno(err, firstLine(msg))
	}
	pipe.report(err)
	return err
}

func (r *runner) start(args []string, pipe *statusPipe) error {
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("find the current directory: %w", err)
	}
	o, err := parseOptions(args, cwd)
	if err != nil {
		return err
	}
	switch {
	case o.help:
		writeHelp(r.stdout, r.plugins)
		return nil
	case o.version:
		fmt.Fprintf(r.stdout, "gotwistd %s\n%s %s/%s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case o.helpReactors:
		fmt.Fprintln(r.stdout, "gotwistd has no reactors to choose from: Go's runtime is its event loop.")
		return nil
	}
	if o.plugin == "" {
		return usageErrorf("no plugin given: name one of %s, e.g. gotwistd --nodaemon %s", r.pluginNames(), r.firstPluginName())
	}
	p := r.plugin(o.plugin)
	if p == nil {
		return usageErrorf("unknown plugin %q: choose one of %s", o.plugin, r.pluginNames())
	}
	if c, ok := p.(service.Command); ok {
		r.releaseSignals()
		return c.Run(o.pluginArgs, service.Env{Stdout: r.stdout, Version: Version})
	}
	if err := o.checkCombination(); err != nil {
		return err
	}
	cr, err := resolveCreds(o.uid, o.gid)
	if err != nil {
		return err
	}
	daemon := !o.noDaemon
	if daemon && pipe == nil {
		r.releaseSignals()
		return r.startDaemon(args, &o, p)
	}
	return r.serve(&o, p, cr, daemon, pipe)
}

func (r *runner) plugin(name string) service.Plugin {
	for _, p := range r.plugins {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

func (r *runner) pluginNames() string {
	names := make([]string, len(r.plugins))
	for i, p := range r.plugins {
		names[i] = p.Name()
	}
	if len(names) == 0 {
		return "(none: this gotwistd was built without plugins)"
	}
	return strings.Join(names, ", ")
}

func (r *runner) firstPluginName() string {
	if len(r.plugins) == 0 {
		return "PLUGIN"
	}
	return r.plugins[0].Name()
}

// newService calls Plugin.New and classifies its error.
func (r *runner) newService(o *options, p service.Plugin, logger *slog.Logger, stdout io.Writer) (service.Service, error) {
	svc, err := p.New(o.pluginArgs, service.Env{Logger: logger, Stdout: stdout, Version: Version})
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil, errHelp
	case err != nil && getopt.Hint(err) == "":
		return nil, getopt.Usagef("gotwistd "+p.Name()+" --help", "%w", err)
	case err != nil:
		return nil, err
	case svc == nil:
		return nil, fmt.Errorf("plugin %s returned no service", p.Name())
	}
	return svc, nil
}

// startDaemon is the parent's side of daemonizing: the checks twistd makes
// before forking, so that their errors show on the terminal, then the
// child.
func (r *runner) startDaemon(args []string, o *options, p service.Plugin) error {
	stale, err := checkPIDFile(o.pidFile)
	if err != nil {
		return err
	}
	if stale {
		fmt.Fprintf(r.stderr, "Removing stale pidfile %s\n", o.pidFile)
	}
	// Validate the plugin's options here; the child builds its own service.
	if _, err := r.newService(o, p, slog.New(slog.DiscardHandler), r.stdout); err != nil {
		return err
	}
	return spawnDaemon(args)
}

// serve runs the plugin in this process: the foreground, or the daemon
// child. Its steps: take the signals, set the umask, check the pidfile and
// open the log (here), call Plugin.New (newLogged), write the pidfile,
// change root and directory, Listen and drop privileges (setUp), start
// Serve and report the start (here), then run the main loop (runLoop).
func (r *runner) serve(o *options, p service.Plugin, cr *creds, daemon bool, pipe *statusPipe) error {
	begin := time.Now()
	// The signals: taken since Main began, or from here (takenSignals).
	ts := r.signals
	if ts == nil {
		ts = takeSignals()
	}
	r.signals = nil
	defer ts.stop()
	sigs, taken := ts.sigs, ts.done

	if o.umask >= 0 {
		setUmask(o.umask)
	} else if daemon {
		setUmask(0o077)
	}
	stale, err := checkPIDFile(o.pidFile)
	if err != nil {
		return err
	}
	lo, err := openLog(o, daemon, r.stdout, r.stderr)
	if err != nil {
		return err
	}
	defer lo.close()
	logger := slog.New(lo.handler)
	fail := func(err error) error {
		logger.Error(err.Error())
		return &loggedError{err: err, toStderr: lo.toStderr}
	}
	// New and Listen may be slow (a docroot on a slow disk, an access log
	// on a FIFO whose reader starts late): sw extends systemd's start
	// timeout meanwhile and handles the signals.
	sw := &startWatch{begin: begin, limit: o.startTimeout, sigs: sigs, logger: logger}
	svc, err := r.newLogged(o, p, lo.handler, sw, stale, fail, taken)
	if err != nil {
		return err
	}
	<-taken
	removePID, err := setUp(o, p, svc, cr, sw, logger, fail)
	if err != nil {
		return err
	}

	serveDone := make(chan error, 1)
	go func() { serveDone <- svc.Serve() }()
	if err := waitStarted(sw, p, svc, serveDone, o.shutdownTimeout); err != nil {
		removePID()
		if errors.Is(err, errStartInterrupted) {
			return err
		}
		return fail(err)
	}
	pipe.report(nil)
	notifyLogged(logger, "READY=1")(systemd.Ready(svc.Status()))

	l := &loop{
		o: o, svc: svc, logger: logger, log: lo,
		sigs: sigs, pending: sw.pending, serveDone: serveDone, pings: make(chan chan struct{}),
	}
	err = l.runLoop(removePID)
	if err != nil {
		return &loggedError{err: err, toStderr: lo.toStderr}
	}
	return nil
}

// newLogged calls Plugin.New as a step of sw, with the plugin's log lines
// held back until the runner's own opening lines are written: "Log
// opened.", the stale pidfile removed, the version and runtime lines, and
// the twistd options ignored. An error past the start timeout is logged
// (fail); other errors are returned as they are. New and the opening
// lines run while the signals are being taken: what New prints to stdout
// (its --help) waits until they are (taken closed).
func (r *runner) newLogged(o *options, p service.Plugin, h slog.Handler, sw *startWatch, stale bool, fail func(error) error, taken <-chan struct{}) (service.Service, error) {
	logger := sw.logger
	g := newGate(h)
	var svc service.Service
	stdout := &afterSignals{taken: taken, w: r.stdout}
	err := sw.step(p.Name()+": New (reading its options)", func() error {
		var err error
		svc, err = r.newService(o, p, slog.New(g), stdout)
		return err
	})
	if errors.Is(err, errStartTimeout) {
		return nil, fail(err)
	}
	if err != nil {
		return nil, err
	}
	g.openGate(func() {
		logger.Info("Log opened.")
		if stale {
			logger.Info("Removing stale pidfile " + o.pidFile)
		}
		logger.Info(fmt.Sprintf("gotwistd %s (%s %s) starting up.", Version, executable(), runtime.Version()))
		logger.Info(fmt.Sprintf("runtime: Go %s %s/%s, GOMAXPROCS=%d", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0)))
		for _, opt := range o.ignored {
			logger.Info(fmt.Sprintf("Ignoring twistd option %s: it has no meaning for gotwistd.", opt))
		}
	})
	return svc, nil
}

// setUp writes the pidfile, changes root (--chroot) and directory
// (--rundir), calls Service.Listen as a step of sw and drops privileges.
// It returns the function that removes the pidfile again; on an error it
// has removed it already, and logged the error (fail) unless the start was
// interrupted by a signal.
func setUp(o *options, p service.Plugin, svc service.Service, cr *creds, sw *startWatch, logger *slog.Logger, fail func(error) error) (removePID func(), err error) {
	pid := os.Getpid()
	removePID = func() {}
	if o.pidFile != "" {
		if err := writePIDFile(o.pidFile, pid); err != nil {
			return nil, fail(err)
		}
		removePID = func() {
			if msg := removePIDFile(o.pidFile, pid); msg != "" {
				logger.Warn(msg)
			}
		}
	}
	rundir := o.rundir
	if o.chroot != "" {
		if err := chroot(o.chroot); err != nil {
			removePID()
			return nil, fail(err)
		}
		if rundir == "." {
			rundir = "/"
		}
	}
	if err := os.Chdir(rundir); err != nil {
		removePID()
		return nil, fail(fmt.Errorf("change to the run directory: %w", err))
	}
	err = sw.step(p.Name()+": Listen (binding the listeners)", func() error {
		return svc.Listen(context.Background())
	})
	if errors.Is(err, errStartInterrupted) {
		removePID()
		return nil, err
	}
	if err != nil {
		removePID()
		return nil, fail(err)
	}
	desc, err := cr.drop(o.euid)
	if err != nil {
		removePID()
		return nil, fail(err)
	}
	if desc != "" {
		logger.Info("set " + desc)
	}
	return removePID, nil
}

// notifyLogged returns a function that logs a failed sd_notify call.
func notifyLogged(logger *slog.Logger, what string) func(bool, error) {
	return func(_ bool, err error) {
		if err != nil {
			logger.Warn(fmt.Sprintf("sd_notify %s: %v", what, err))
		}
	}
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case sigReopenLogs:
		return "SIGUSR1"
	}
	return sig.String()
}

func executable() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// afterSignals is a writer that waits until the signals are taken (taken
// closed) before its first write: SIGPIPE on a closed stdout must fail the
// write, not kill the process.
type afterSignals struct {
	taken <-chan struct{}
	w     io.Writer
}

func (a *afterSignals) Write(p []byte) (int, error) {
	<-a.taken
	return a.w.Write(p)
}
