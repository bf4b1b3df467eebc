package cli

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/service"
)

func TestParseOptions(t *testing.T) {
	const cwd = "/start"
	tests := []struct {
		name string
		args string
		want func(o *options) // applied to the defaults
	}{
		{"defaults", "web", func(o *options) {
			o.pidFile = "/start/gotwistd.pid"
			o.plugin = "web"
		}},
		{"the seed's command line", "--nodaemon --pidfile= web --listen tcp:8080 --path .", func(o *options) {
			o.noDaemon, o.pidFile = true, ""
			o.plugin, o.pluginArgs = "web", []string{"--listen", "tcp:8080", "--path", "."}
		}},
		{"short flag", "-n web", func(o *options) {
			o.noDaemon, o.pidFile, o.plugin = true, "/start/gotwistd.pid", "web"
		}},
		{"pidfile separate value", "--pidfile x.pid web", func(o *options) {
			o.pidFile, o.plugin = "/start/x.pid", "web"
		}},
		{"pidfile equals, absolute", "--pidfile=/run/x.pid web", func(o *options) {
			o.pidFile, o.plugin = "/run/x.pid", "web"
		}},
		{"pidfile empty as a separate word", "--pidfile  web", func(o *options) {
			o.pidFile, o.plugin = "", "web"
		}},
		{"abbreviations", "--nodae --pid= --logf=x.log --rund=/srv --shut=3s web", func(o *options) {
			o.noDaemon, o.pidFile, o.logFile, o.rundir, o.shutdownTimeout = true, "", "x.log", "/srv", 3*time.Second
			o.plugin = "web"
		}},
		{"start timeout", "--start-timeout=5m web", func(o *options) {
			o.startTimeout, o.pidFile, o.plugin = 5*time.Minute, "/start/gotwistd.pid", "web"
		}},
		{"start timeout off", "--start-timeout 0 web", func(o *options) {
			o.startTimeout, o.pidFile, o.plugin = 0, "/start/gotwistd.pid", "web"
		}},
		{"exact name beats a longer one", "--profile=x --profiler=y web", func(o *options) {
			o.pidFile, o.plugin = "/start/gotwistd.pid", "web"
			o.ignored = []string{"--profile=x", "--profiler=y"}
		}},
		{"clustered short flags", "-no web", func(o *options) {
			o.noDaemon, o.pidFile, o.plugin = true, "/start/gotwistd.pid", "web"
			o.ignored = []string{"--no_save"}
		}},
		{"clustered with a value attached", "-nlx.log web", func(o *options) {
			o.noDaemon, o.logFile, o.pidFile, o.plugin = true, "x.log", "/start/gotwistd.pid", "web"
		}},
		{"clustered with a value following", "-nl x.log web", func(o *options) {
			o.noDaemon, o.logFile, o.pidFile, o.plugin = true, "x.log", "/start/gotwistd.pid", "web"
		}},
		{"logfile stdout", "-n -l - web", func(o *options) {
			o.noDaemon, o.logFile, o.pidFile, o.plugin = true, "-", "/start/gotwistd.pid", "web"
		}},
		{"privileges", "-u nobody --gid=nogroup --euid --umask=022 --chroot=/jail -d /srv web", func(o *options) {
			o.uid, o.gid, o.euid, o.umask, o.chroot, o.rundir = "nobody", "nogroup", true, 0o22, "/jail", "/srv"
			o.pidFile, o.plugin = "/start/gotwistd.pid", "web"
		}},
		{"syslog", "--syslog --prefix=www web", func(o *options) {
			o.syslog, o.prefix, o.pidFile, o.plugin = true, "www", "/start/gotwistd.pid", "web"
		}},
		{"ours", "--log-format=json --log-max-size=10M --spew web", func(o *options) {
			o.logFormat, o.logMaxSize, o.spew = "json", 10<<20, true
			o.pidFile, o.plugin = "/start/gotwistd.pid", "web"
		}},
		{"twistd options that mean nothing here", "-r epoll --savestats --originalname --logger=x.y -b web", func(o *options) {
			o.noDaemon = true // --debug implies --nodaemon
			o.pidFile, o.plugin = "/start/gotwistd.pid", "web"
			o.ignored = []string{"--reactor=epoll", "--savestats", "--originalname", "--logger=x.y", "--debug"}
		}},
		{"options stop at the plugin name", "web -n --pidfile=x", func(o *options) {
			o.pidFile, o.plugin, o.pluginArgs = "/start/gotwistd.pid", "web", []string{"-n", "--pidfile=x"}
		}},
		{"double dash", "-n -- web", func(o *options) {
			o.noDaemon, o.pidFile, o.plugin = true, "/start/gotwistd.pid", "web"
		}},
		{"no plugin", "-n", func(o *options) {
			o.noDaemon, o.pidFile = true, "/start/gotwistd.pid"
		}},
		{"help", "--help", func(o *options) {
			o.help, o.pidFile = true, "/start/gotwistd.pid"
		}},
		{"version abbreviated", "--vers", func(o *options) {
			o.version, o.pidFile = true, "/start/gotwistd.pid"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOptions(strings.Split(tt.args, " "), cwd)
			if err != nil {
				t.Fatalf("parse %q: %v", tt.args, err)
			}
			want := defaultOptions()
			tt.want(&want)
			if len(got.pluginArgs) == 0 {
				got.pluginArgs = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parse %q:\n got %+v\nwant %+v", tt.args, got, want)
			}
		})
	}
}

func TestParseOptionsErrors(t *testing.T) {
	tests := []struct {
		name, args, err string
	}{
		{"unknown long", "--bogus web", "option --bogus not recognized"},
		{"unknown short", "-Z web", "option -Z not recognized"},
		{"ambiguous prefix", "--p web", "option --p not a unique prefix: --pidfile, --prefix, --profile, --profiler, --python"},
		{"ambiguous like twistd", "--no web", "option --no not a unique prefix: --nodaemon, --no-save"},
		{"flag with a value", "--nodaemon=1 web", "option --nodaemon must not have an argument"},
		{"missing value", "--pidfile", "option --pidfile requires argument"},
		{"missing short value", "-n -l", "option -l requires argument"},
		{"bad umask", "--umask=999 web", `--umask "999" is not an octal file mode such as 022 or 0077`},
		{"bad log format", "--log-format=xml web", `--log-format "xml" is not text or json`},
		{"bad duration", "--shutdown-timeout=10 web", `--shutdown-timeout "10" is not a duration such as 10s or 1m30s`},
		{"bad start timeout", "--start-timeout=-1s web", `--start-timeout "-1s" is not a duration such as 90s or 5m, or 0`},
		{"bad size", "--log-max-size=lots web", `--log-max-size "lots" is not a size in bytes such as 1000000, 512K or 10M`},
		{"python application", "-y app.tac", "option --python loads a Python application, which gotwistd cannot run; name a plugin instead, e.g. web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseOptions(strings.Split(tt.args, " "), "/start")
			if err == nil {
				t.Fatalf("parse %q succeeded", tt.args)
			}
			if err.Error() != tt.err {
				t.Errorf("parse %q:\n got error %q\nwant error %q", tt.args, err, tt.err)
			}
			if !errors.Is(err, getopt.ErrUsage) || getopt.Hint(err) != "gotwistd --help" {
				t.Errorf("parse %q: %v is not a usage error with the --help hint", tt.args, err)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1000000": 1000000, "512K": 512 << 10, "10M": 10 << 20, "10MB": 10 << 20,
		"10MiB": 10 << 20, "1g": 1 << 30,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1", "1.5M", "1T", "99999999999999999999"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

// TestUsageOutput runs the runner in this process for command lines that
// end before anything is started, and checks all it prints and its status.
func TestUsageOutput(t *testing.T) {
	tests := []struct {
		name           string
		args           string
		code           int
		stdout, stderr string // "" = must be empty; "~x" = must contain x
	}{
		{"unknown option", "--bogus web", 1, "",
			"gotwistd: error: option --bogus not recognized\nTry: gotwistd --help\n"},
		{"unknown plugin", "-n bogus", 1, "",
			"gotwistd: error: unknown plugin \"bogus\": choose one of fake, other\nTry: gotwistd --help\n"},
		{"no plugin", "-n", 1, "",
			"gotwistd: error: no plugin given: name one of fake, other, e.g. gotwistd --nodaemon fake\nTry: gotwistd --help\n"},
		{"plugin usage error", "-n fake --bogus", 1, "",
			"gotwistd: error: flag provided but not defined: -bogus\nTry: gotwistd fake --help\n"},
		{"plugin help", "-n fake --help", 0, "Usage: gotwistd [options] fake [--addr=ADDR] [--fail-listen=TEXT] [--fail-serve=TEXT] [--hang-reload] [--listen-wait=PATH] [--unhealthy=PATH]\n", ""},
		{"plugin help in daemon mode", "fake -h", 0, "~Usage: gotwistd [options] fake", ""},
		{"unknown user", "-n -u no-such-user-here fake", 1, "",
			"gotwistd: error: --uid \"no-such-user-here\": no such user\nTry: gotwistd --help\n"},
		{"unknown group", "-n -g no-such-group-here fake", 1, "",
			"gotwistd: error: --gid \"no-such-group-here\": no such group\nTry: gotwistd --help\n"},
		{"uid without passwd entry needs a gid", "-n -u 4242424 fake", 1, "",
			"gotwistd: error: --uid 4242424 has no passwd entry, so it has no default group: give --gid too\nTry: gotwistd --help\n"},
		{"version", "--version", 0, "~gotwistd 0.1.0\ngo1.", ""},
		{"help reactors", "--help-reactors", 0, "~Go's runtime is its event loop", ""},
		{"help", "--help", 0, "~Usage: gotwistd [options] PLUGIN [plugin options]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			r := &runner{stdout: &stdout, stderr: &stderr, plugins: []service.Plugin{fakePlugin{}, otherPlugin{}}}
			code := r.exitStatus(r.run(strings.Split(tt.args, " ")))
			if code != tt.code {
				t.Errorf("exit status %d, want %d", code, tt.code)
			}
			check := func(what, got, want string) {
				if c, ok := strings.CutPrefix(want, "~"); ok {
					if !strings.Contains(got, c) {
						t.Errorf("%s %q does not contain %q", what, got, c)
					}
				} else if got != want {
					t.Errorf("%s:\n%q\nwant\n%q", what, got, want)
				}
			}
			check("stdout", stdout.String(), tt.stdout)
			check("stderr", stderr.String(), tt.stderr)
		})
	}
}

func TestHelpListsOptionsAndPlugins(t *testing.T) {
	var b bytes.Buffer
	writeHelp(&b, []service.Plugin{fakePlugin{}, otherPlugin{}})
	help := b.String()
	for _, s := range specs {
		if s.Help != "" && !strings.Contains(help, "--"+s.Long) {
			t.Errorf("--help does not list --%s", s.Long)
		}
	}
	for _, want := range []string{
		"  -n, --nodaemon", "--pidfile=PATH", "gotwistd.pid]", "--shutdown-timeout=DURATION", "--start-timeout=DURATION",
		"    fake             A test server.\n", "    other            Another plugin.\n",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
	// Refused options are not advertised.
	if strings.Contains(help, "--python") {
		t.Errorf("--help lists --python")
	}
}

type otherPlugin struct{ fakePlugin }

func (otherPlugin) Name() string     { return "other" }
func (otherPlugin) Synopsis() string { return "Another plugin." }

// FuzzParseOptions checks that no command line panics the parser, and that
// every failure is a usage error with a hint.
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"--nodaemon --pidfile= web", "-nlx web", "--p", "--pid", "-u", "--umask=0777 web", "--log-max-size=1G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Fields(s)
		o, err := parseOptions(args, "/start")
		if err != nil {
			if !errors.Is(err, getopt.ErrUsage) || getopt.Hint(err) == "" {
				t.Fatalf("parse %q: %v is not a usage error with a hint", args, err)
			}
			return
		}
		if o.pidFile != "" && !strings.HasPrefix(o.pidFile, "/") {
			t.Fatalf("parse %q: relative pidfile %q", args, o.pidFile)
		}
		if o.plugin == "" && len(o.pluginArgs) > 0 {
			t.Fatalf("parse %q: plugin arguments without a plugin", args)
		}
	})
}
