package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/service"
)

// DefaultStartTimeout is the default of --start-timeout, systemd's
// DefaultTimeoutStartSec=.
const DefaultStartTimeout = 90 * time.Second

// options are twistd's global options, the ones before the plugin name.
type options struct {
	noDaemon        bool          // -n/--nodaemon
	pidFile         string        // --pidfile, absolute; "" = no pidfile
	logFile         string        // -l/--logfile; "" = default, "-" = stdout
	syslog          bool          // --syslog
	prefix          string        // --prefix, the syslog ident
	uid             string        // -u/--uid, a name or a number; "" = keep
	gid             string        // -g/--gid, a name or a number; "" = keep or the user's group
	euid            bool          // --euid
	umask           int           // --umask; -1 = not given
	chroot          string        // --chroot
	rundir          string        // -d/--rundir
	logFormat       string        // --log-format: text or json
	logMaxSize      int64         // --log-max-size; 0 = never rotate by size
	shutdownTimeout time.Duration // --shutdown-timeout
	startTimeout    time.Duration // --start-timeout; 0 = no limit, no extension
	spew            bool          // --spew: debug-level logging
	help            bool          // --help
	version         bool          // --version
	helpReactors    bool          // --help-reactors
	ignored         []string      // twistd options accepted and ignored, as given

	plugin     string   // the subcommand word
	pluginArgs []string // everything after it
}

func defaultOptions() options {
	return options{
		pidFile:         "gotwistd.pid",
		prefix:          "gotwistd",
		umask:           -1,
		rundir:          ".",
		logFormat:       "text",
		shutdownTimeout: 10 * time.Second,
		startTimeout:    DefaultStartTimeout,
	}
}

// specs lists every global option: twistd's own (so that any twistd command
// line parses, and any abbreviation that is unique for twistd stays unique),
// then gotwistd's additions, named so they add no ambiguity to a prefix that
// twistd accepts.
var specs = getopt.Specs[options]{
	{Option: getopt.Option{Long: "nodaemon", Short: 'n', Help: "don't daemonize, don't use default umask of 0077"},
		Set: func(o *options, _ getopt.Result) error { o.noDaemon = true; return nil }},
	{Option: getopt.Option{Long: "pidfile", Arg: true, Meta: "PATH", Help: "name of the pidfile; empty: none", Default: "gotwistd.pid"},
		Set: func(o *options, r getopt.Result) error { o.pidFile = r.Value; return nil }},
	{Option: getopt.Option{Long: "logfile", Short: 'l', Arg: true, Meta: "PATH", Help: "log to a file, - for stdout", Default: "stderr; gotwistd.log for a daemon"},
		Set: func(o *options, r getopt.Result) error { o.logFile = r.Value; return nil }},
	{Option: getopt.Option{Long: "syslog", Help: "log to syslog, not to a file"},
		Set: func(o *options, _ getopt.Result) error { o.syslog = true; return nil }},
	{Option: getopt.Option{Long: "prefix", Arg: true, Meta: "IDENT", Help: "use the given prefix when syslogging", Default: "gotwistd"},
		Set: func(o *options, r getopt.Result) error { o.prefix = r.Value; return nil }},
	{Option: getopt.Option{Long: "uid", Short: 'u', Arg: true, Meta: "USER", Help: "the user (name or number) to run as, after binding ports"},
		Set: func(o *options, r getopt.Result) error { o.uid = r.Value; return nil }},
	{Option: getopt.Option{Long: "gid", Short: 'g', Arg: true, Meta: "GROUP", Help: "the group (name or number) to run as", Default: "the --uid user's group"},
		Set: func(o *options, r getopt.Result) error { o.gid = r.Value; return nil }},
	{Option: getopt.Option{Long: "euid", Help: "set only the effective uid/gid, keeping the real ones (root can regain privileges; use with caution)"},
		Set: func(o *options, _ getopt.Result) error { o.euid = true; return nil }},
	{Option: getopt.Option{Long: "umask", Arg: true, Meta: "OCTAL", Help: "the file creation mask to apply", Default: "0077 for a daemon, else unchanged"},
		Set: parseUmask},
	{Option: getopt.Option{Long: "chroot", Arg: true, Meta: "DIR", Help: "chroot to a directory before binding ports"},
		Set: func(o *options, r getopt.Result) error { o.chroot = r.Value; return nil }},
	{Option: getopt.Option{Long: "rundir", Short: 'd', Arg: true, Meta: "DIR", Help: "change to a directory before running", Default: "."},
		Set: func(o *options, r getopt.Result) error { o.rundir = r.Value; return nil }},
	{Option: getopt.Option{Long: "version", Help: "print version information and exit"},
		Set: func(o *options, _ getopt.Result) error { o.version = true; return nil }},
	{Option: getopt.Option{Long: "help", Help: "display this help and exit"},
		Set: func(o *options, _ getopt.Result) error { o.help = true; return nil }},
	{Option: getopt.Option{Long: "help-reactors", Help: "twistd's reactor list; gotwistd has one event loop, Go's runtime"},
		Set: func(o *options, _ getopt.Result) error { o.helpReactors = true; return nil }},

	// gotwistd's own.
	{Option: getopt.Option{Long: "log-format", Arg: true, Meta: "FORMAT", Help: "text (twistd's line format) or json", Default: "text"},
		Set: setLogFormat},
	{Option: getopt.Option{Long: "log-max-size", Arg: true, Meta: "BYTES", Help: "rotate the log file at this size, e.g. 1000000 as twistd does, or 10M", Default: "0, never"},
		Set: setLogMaxSize},
	{Option: getopt.Option{Long: "shutdown-timeout", Arg: true, Meta: "DURATION", Help: "on SIGTERM/SIGINT, wait this long for requests in flight", Default: "10s"},
		Set: setShutdownTimeout},
	{Option: getopt.Option{Long: "start-timeout", Arg: true, Meta: "DURATION", Help: "give up a start-up (plugin New and Listen) that takes longer; " +
		"under systemd, ask for more time (EXTEND_TIMEOUT_USEC) meanwhile, so TimeoutStartSec= can stay short; " +
		"0: no limit, and TimeoutStartSec= alone applies", Default: "90s"},
		Set: setStartTimeout},
	{Option: getopt.Option{Long: "spew", Help: "log at debug level (twistd: trace every call)"},
		Set: func(o *options, _ getopt.Result) error { o.spew = true; return nil }},

	// twistd's options that make no sense for Go: accepted, logged as
	// ignored, so twistd command lines keep working.
	{Option: getopt.Option{Long: "no-save", Short: 'o', Help: "ignored (twistd: do not save state on shutdown)"}, Set: ignore("--no_save")},
	{Option: getopt.Option{Long: "savestats", Help: "ignored (twistd: profiler statistics)"}, Set: ignore("--savestats")},
	{Option: getopt.Option{Long: "profile", Short: 'p', Arg: true, Meta: "FILE", Help: "ignored (twistd: run under a Python profiler)"}, Set: ignore("--profile")},
	{Option: getopt.Option{Long: "profiler", Arg: true, Meta: "NAME", Help: "ignored (twistd: which Python profiler)"}, Set: ignore("--profiler")},
	{Option: getopt.Option{Long: "reactor", Short: 'r', Arg: true, Meta: "NAME", Help: "ignored (twistd: which reactor)"}, Set: ignore("--reactor")},
	{Option: getopt.Option{Long: "debug", Short: 'b', Help: "ignored, but implies --nodaemon (twistd: run under the Python debugger)"},
		Set: func(o *options, r getopt.Result) error { o.noDaemon = true; return ignore("--debug")(o, r) }},
	{Option: getopt.Option{Long: "originalname", Help: "ignored (twistd: don't change the process name)"}, Set: ignore("--originalname")},
	{Option: getopt.Option{Long: "logger", Arg: true, Meta: "NAME", Help: "ignored (twistd: a Python log observer factory)"}, Set: ignore("--logger")},
	{Option: getopt.Option{Long: "encrypted", Short: 'e', Help: "ignored (twistd: the .tap file is encrypted)"}, Set: ignore("--encrypted")},

	// twistd's ways of loading a Python application: refused.
	{Option: getopt.Option{Long: "file", Short: 'f', Arg: true, Meta: "FILE"}, Set: refuse("--file")},
	{Option: getopt.Option{Long: "python", Short: 'y', Arg: true, Meta: "FILE"}, Set: refuse("--python")},
	{Option: getopt.Option{Long: "source", Short: 's', Arg: true, Meta: "FILE"}, Set: refuse("--source")},
}

func ignore(name string) func(*options, getopt.Result) error {
	return func(o *options, r getopt.Result) error {
		given := name
		if r.Value != "" {
			given += "=" + r.Value
		}
		o.ignored = append(o.ignored, given)
		return nil
	}
}

func refuse(name string) func(*options, getopt.Result) error {
	return func(*options, getopt.Result) error {
		return usageErrorf("option %s loads a Python application, which gotwistd cannot run; name a plugin instead, e.g. web", name)
	}
}

func parseUmask(o *options, r getopt.Result) error {
	v := r.Value
	m, err := strconv.ParseUint(v, 8, 32)
	if err != nil || m > 0o777 {
		return usageErrorf("--umask %q is not an octal file mode such as 022 or 0077", v)
	}
	o.umask = int(m)
	return nil
}

func setLogFormat(o *options, r getopt.Result) error {
	v := r.Value
	switch v {
	case "text", "json":
		o.logFormat = v
		return nil
	}
	return usageErrorf("--log-format %q is not text or json", v)
}

func setLogMaxSize(o *options, r getopt.Result) error {
	v := r.Value
	n, err := parseSize(v)
	if err != nil {
		return usageErrorf("--log-max-size %q is not a size in bytes such as 1000000, 512K or 10M", v)
	}
	o.logMaxSize = n
	return nil
}

// parseSize reads a byte count with an optional K, M or G suffix (powers of
// 1024, an optional trailing B or iB).
func parseSize(v string) (int64, error) {
	s := strings.ToUpper(v)
	s = strings.TrimSuffix(strings.TrimSuffix(s, "B"), "I")
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("bad size")
	}
	return n * mult, nil
}

func setShutdownTimeout(o *options, r getopt.Result) error {
	v := r.Value
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return usageErrorf("--shutdown-timeout %q is not a duration such as 10s or 1m30s", v)
	}
	o.shutdownTimeout = d
	return nil
}

func setStartTimeout(o *options, r getopt.Result) error {
	v := r.Value
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return usageErrorf("--start-timeout %q is not a duration such as 90s or 5m, or 0", v)
	}
	o.startTimeout = d
	return nil
}

// parser returns the getopt parser for the global options.
func parser() *getopt.Parser { return specs.Parser("gotwistd --help") }

// parseOptions reads the global options the way twistd's getopt does (see
// package getopt): long options as --name, --name=value or --name value,
// abbreviated to any unique prefix; short ones clustered (-no) with a value
// attached (-lfile) or following (-l file); parsing stops at "--" or at the
// first word that is not an option, which names the plugin. A relative
// --pidfile is made absolute against cwd, the starting directory.
func parseOptions(args []string, cwd string) (options, error) {
	o := defaultOptions()
	results, rest, err := parser().Parse(args)
	if err != nil {
		return o, withCandidates(err)
	}
	if err := specs.Apply(&o, results); err != nil {
		return o, err
	}
	if len(rest) > 0 {
		o.plugin, o.pluginArgs = rest[0], rest[1:]
	}
	if o.pidFile != "" && !filepath.IsAbs(o.pidFile) {
		o.pidFile = filepath.Join(cwd, o.pidFile)
	}
	return o, nil
}

// withCandidates adds the options an ambiguous abbreviation could mean to
// getopt's error ("option --p not a unique prefix: --pidfile, --prefix,
// ..."), so the user sees what to type.
func withCandidates(err error) error {
	// getopt's error for an ambiguous abbreviation, when it does not name
	// the candidates itself: "option --NAME not a unique prefix".
	abbrev, ok := strings.CutPrefix(err.Error(), "option --")
	if ok {
		abbrev, ok = strings.CutSuffix(abbrev, " not a unique prefix")
	}
	if !ok || abbrev == "" || strings.ContainsAny(abbrev, " \t\n\v\f\r") {
		return err
	}
	prefix := strings.ReplaceAll(abbrev, "_", "-")
	var names []string
	for _, s := range specs {
		if strings.HasPrefix(s.Long, prefix) {
			names = append(names, "--"+s.Long)
		}
	}
	return usageErrorf("option --%s not a unique prefix: %s", abbrev, strings.Join(names, ", "))
}

// checkCombination reports option combinations that cannot work.
func (o *options) checkCombination() error {
	if !o.noDaemon && o.logFile == "-" && !o.syslog {
		return usageErrorf("a daemon cannot log to stdout (--logfile=-): add --nodaemon, or log to a file or --syslog")
	}
	return nil
}

// writeHelp prints the --help text: every global option and every plugin.
func writeHelp(w io.Writer, plugins []service.Plugin) {
	fmt.Fprintf(w, "Usage: gotwistd [options] PLUGIN [plugin options]\n")
	fmt.Fprintf(w, "Runs a plugin (a server) the way Twisted's twistd does: in the background\n")
	fmt.Fprintf(w, "unless --nodaemon, with a pidfile, dropping privileges after binding ports.\n\n")
	fmt.Fprintf(w, "Options:\n")
	p := parser()
	var shown []getopt.Option
	for _, o := range p.Options {
		if o.Help != "" {
			shown = append(shown, o)
		}
	}
	p.Options = shown
	p.WriteHelp(w)
	fmt.Fprintf(w, "\nLong options may be abbreviated to any unique prefix (--nodae).\n")
	fmt.Fprintf(w, "Signals: SIGTERM/SIGINT stop gracefully (a second one: at once), SIGHUP\n")
	fmt.Fprintf(w, "reloads, SIGUSR1 rotates the log file (or reopens it after logrotate).\n\n")
	fmt.Fprintf(w, "Plugins:\n")
	for _, pl := range plugins {
		fmt.Fprintf(w, "    %-16s %s\n", pl.Name(), pl.Synopsis())
	}
	fmt.Fprintf(w, "\nRun 'gotwistd PLUGIN --help' for a plugin's options.\n")
}

func usageErrorf(format string, args ...any) error {
	return getopt.Usagef("gotwistd --help", format, args...)
}
