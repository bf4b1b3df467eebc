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

// optSpec describes one global option. arg is the metavariable for options
// that take a value, "" for flags.
type optSpec struct {
	long, short, arg, help string
	def                    string // the default shown in --help
	set                    func(o *options, v string) error
}

// specs lists every global option: twistd's own (so that any twistd command
// line parses, and any abbreviation that is unique for twistd stays unique),
// then gotwistd's additions, named so they add no ambiguity to a prefix that
// twistd accepts.
var specs = []optSpec{
	{long: "nodaemon", short: "n", help: "don't daemonize, don't use default umask of 0077",
		set: func(o *options, _ string) error { o.noDaemon = true; return nil }},
	{long: "pidfile", arg: "PATH", help: "name of the pidfile; empty: none", def: "gotwistd.pid",
		set: func(o *options, v string) error { o.pidFile = v; return nil }},
	{long: "logfile", short: "l", arg: "PATH", help: "log to a file, - for stdout", def: "stderr; gotwistd.log for a daemon",
		set: func(o *options, v string) error { o.logFile = v; return nil }},
	{long: "syslog", help: "log to syslog, not to a file",
		set: func(o *options, _ string) error { o.syslog = true; return nil }},
	{long: "prefix", arg: "IDENT", help: "use the given prefix when syslogging", def: "gotwistd",
		set: func(o *options, v string) error { o.prefix = v; return nil }},
	{long: "uid", short: "u", arg: "USER", help: "the user (name or number) to run as, after binding ports",
		set: func(o *options, v string) error { o.uid = v; return nil }},
	{long: "gid", short: "g", arg: "GROUP", help: "the group (name or number) to run as", def: "the --uid user's group",
		set: func(o *options, v string) error { o.gid = v; return nil }},
	{long: "euid", help: "set only the effective uid/gid, keeping the real ones (root can regain privileges; use with caution)",
		set: func(o *options, _ string) error { o.euid = true; return nil }},
	{long: "umask", arg: "OCTAL", help: "the file creation mask to apply", def: "0077 for a daemon, else unchanged",
		set: parseUmask},
	{long: "chroot", arg: "DIR", help: "chroot to a directory before binding ports",
		set: func(o *options, v string) error { o.chroot = v; return nil }},
	{long: "rundir", short: "d", arg: "DIR", help: "change to a directory before running", def: ".",
		set: func(o *options, v string) error { o.rundir = v; return nil }},
	{long: "version", help: "print version information and exit",
		set: func(o *options, _ string) error { o.version = true; return nil }},
	{long: "help", help: "display this help and exit",
		set: func(o *options, _ string) error { o.help = true; return nil }},
	{long: "help-reactors", help: "twistd's reactor list; gotwistd has one event loop, Go's runtime",
		set: func(o *options, _ string) error { o.helpReactors = true; return nil }},

	// gotwistd's own.
	{long: "log-format", arg: "FORMAT", help: "text (twistd's line format) or json", def: "text",
		set: setLogFormat},
	{long: "log-max-size", arg: "BYTES", help: "rotate the log file at this size, e.g. 1000000 as twistd does, or 10M", def: "0, never",
		set: setLogMaxSize},
	{long: "shutdown-timeout", arg: "DURATION", help: "on SIGTERM/SIGINT, wait this long for requests in flight", def: "10s",
		set: setShutdownTimeout},
	{long: "start-timeout", arg: "DURATION", help: "give up a start-up (plugin New and Listen) that takes longer; " +
		"under systemd, ask for more time (EXTEND_TIMEOUT_USEC) meanwhile, so TimeoutStartSec= can stay short; " +
		"0: no limit, and TimeoutStartSec= alone applies", def: "90s",
		set: setStartTimeout},
	{long: "spew", help: "log at debug level (twistd: trace every call)",
		set: func(o *options, _ string) error { o.spew = true; return nil }},

	// twistd's options that make no sense for Go: accepted, logged as
	// ignored, so twistd command lines keep working.
	{long: "no-save", short: "o", help: "ignored (twistd: do not save state on shutdown)", set: ignore("--no_save")},
	{long: "savestats", help: "ignored (twistd: profiler statistics)", set: ignore("--savestats")},
	{long: "profile", short: "p", arg: "FILE", help: "ignored (twistd: run under a Python profiler)", set: ignore("--profile")},
	{long: "profiler", arg: "NAME", help: "ignored (twistd: which Python profiler)", set: ignore("--profiler")},
	{long: "reactor", short: "r", arg: "NAME", help: "ignored (twistd: which reactor)", set: ignore("--reactor")},
	{long: "debug", short: "b", help: "ignored, but implies --nodaemon (twistd: run under the Python debugger)",
		set: func(o *options, v string) error { o.noDaemon = true; return ignore("--debug")(o, v) }},
	{long: "originalname", help: "ignored (twistd: don't change the process name)", set: ignore("--originalname")},
	{long: "logger", arg: "NAME", help: "ignored (twistd: a Python log observer factory)", set: ignore("--logger")},
	{long: "encrypted", short: "e", help: "ignored (twistd: the .tap file is encrypted)", set: ignore("--encrypted")},

	// twistd's ways of loading a Python application: refused.
	{long: "file", short: "f", arg: "FILE", set: refuse("--file")},
	{long: "python", short: "y", arg: "FILE", set: refuse("--python")},
	{long: "source", short: "s", arg: "FILE", set: refuse("--source")},
}

func ignore(name string) func(*options, string) error {
	return func(o *options, v string) error {
		given := name
		if v != "" {
			given += "=" + v
		}
		o.ignored = append(o.ignored, given)
		return nil
	}
}

func refuse(name string) func(*options, string) error {
	return func(*options, string) error {
		return usageErrorf("option %s loads a Python application, which gotwistd cannot run; name a plugin instead, e.g. web", name)
	}
}

func parseUmask(o *options, v string) error {
	m, err := strconv.ParseUint(v, 8, 32)
	if err != nil || m > 0o777 {
		return usageErrorf("--umask %q is not an octal file mode such as 022 or 0077", v)
	}
	o.umask = int(m)
	return nil
}

func setLogFormat(o *options, v string) error {
	switch v {
	case "text", "json":
		o.logFormat = v
		return nil
	}
	return usageErrorf("--log-format %q is not text or json", v)
}

func setLogMaxSize(o *options, v string) error {
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

func setShutdownTimeout(o *options, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return usageErrorf("--shutdown-timeout %q is not a duration such as 10s or 1m30s", v)
	}
	o.shutdownTimeout = d
	return nil
}

func setStartTimeout(o *options, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return usageErrorf("--start-timeout %q is not a duration such as 90s or 5m, or 0", v)
	}
	o.startTimeout = d
	return nil
}

// parser returns the getopt parser for the global options.
func parser() *getopt.Parser {
	p := &getopt.Parser{Hint: "gotwistd --help"}
	for _, s := range specs {
		o := getopt.Option{Long: s.long, Arg: s.arg != "", Meta: s.arg, Help: s.help, Default: s.def}
		if s.short != "" {
			o.Short = s.short[0]
		}
		p.Options = append(p.Options, o)
	}
	return p
}

func specNamed(name string) *optSpec {
	for i := range specs {
		if specs[i].long == name || specs[i].short == name {
			return &specs[i]
		}
	}
	panic("cli: getopt returned an option not in specs: " + name)
}

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
	for _, r := range results {
		if err := specNamed(r.Name).set(&o, r.Value); err != nil {
			return o, err
		}
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
		if strings.HasPrefix(s.long, prefix) {
			names = append(names, "--"+s.long)
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
