package web

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/service"
)

func TestParseArgs(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	def.Listen = []string{"tcp:8080"}
	with := func(f func(c *Config)) Config {
		c := def
		f(&c)
		return c
	}
	tests := []struct {
		name string
		args []string
		want Config
	}{
		{"no options: tcp:8080, welcome page", nil, def},
		{"listen", []string{"--listen", "tcp:9090"}, with(func(c *Config) { c.Listen = []string{"tcp:9090"} })},
		{"listen equals", []string{"--listen=unix:/tmp/s"}, with(func(c *Config) { c.Listen = []string{"unix:/tmp/s"} })},
		{"listen repeated, in order", []string{"--listen", "tcp:1", "--listen", "ssl:2"}, with(func(c *Config) { c.Listen = []string{"tcp:1", "ssl:2"} })},
		// "--li" and "--list" are ambiguous since --listing: the shortest prefix is "--liste".
		{"listen abbreviated", []string{"--liste", "tcp:1", "--listen=tcp:2"}, with(func(c *Config) { c.Listen = []string{"tcp:1", "tcp:2"} })},
		{"port bare number", []string{"--port", "8080"}, with(func(c *Config) { c.Listen = []string{"8080"} })},
		{"port short", []string{"-p", "tcp:81"}, with(func(c *Config) { c.Listen = []string{"tcp:81"} })},
		{"port short attached", []string{"-p82"}, with(func(c *Config) { c.Listen = []string{"82"} })},
		{"last port wins, after listens", []string{"-p", "1", "--listen", "tcp:3", "--port", "2"}, with(func(c *Config) { c.Listen = []string{"tcp:3", "2"} })},
		{"https with default files", []string{"--https", "8443"}, with(func(c *Config) {
			c.Listen = []string{"ssl:port=8443:privateKey=server.pem:certKey=server.pem"}
		})},
		{"https with certificate and key, escaped", []string{"--https=443", "-c", "c:1.pem", "--privkey", `k\.pem`, "--port", "80"}, with(func(c *Config) {
			c.Listen = []string{"80", `ssl:port=443:privateKey=k\\.pem:certKey=c\:1.pem`}
		})},
		{"path made absolute", []string{"--path", "www"}, with(func(c *Config) { c.Root = filepath.Join(cwd, "www") })},
		{"path dot", []string{"--path", "."}, with(func(c *Config) { c.Root = cwd })},
		{"index repeated", []string{"-i", "a.html", "--index=b.html"}, with(func(c *Config) { c.Indexes = []string{"a.html", "b.html"} })},
		{"mime-type after path", []string{"--path", "/srv", "-m", "text/plain"}, with(func(c *Config) { c.Root, c.DefaultType = "/srv", "text/plain" })},
		{"mime_type spelled as twistd 22 does", []string{"--path", "/srv", "--mime_type=text/plain"}, with(func(c *Config) { c.Root, c.DefaultType = "/srv", "text/plain" })},
		{"ignore-ext and allow-ignore-ext", []string{"--path=/srv", "--ignore-ext", ".html", "--ignore-ext=.htm", "--allow-ignore-ext"}, with(func(c *Config) {
			c.Root, c.IgnoreExt, c.AllowIgnoreExt = "/srv", []string{".html", ".htm"}, true
		})},
		{"add-header split at first colon and trimmed", []string{"--add-header", " X-A :  b: c ", "--add-header=Cache-Control:no-cache"}, with(func(c *Config) {
			c.Headers = [][2]string{{"X-A", "b: c"}, {"Cache-Control", "no-cache"}}
		})},
		{"logfile made absolute", []string{"-l", "access.log"}, with(func(c *Config) { c.AccessLog = filepath.Join(cwd, "access.log") })},
		{"logfile long", []string{"--logfile=/var/log/a.log"}, with(func(c *Config) { c.AccessLog = "/var/log/a.log" })},
		{"no access log", []string{"--no-access-log"}, with(func(c *Config) { c.NoAccessLog = true })},
		{"dotfiles and symlinks", []string{"--serve-dotfiles", "--no-follow-symlinks"}, with(func(c *Config) { c.ServeDotfiles, c.NoFollowSymlinks = true, true })},
		{"timeouts", []string{"--read-header-timeout=5s", "--idle-timeout", "90", "--write-timeout=1m30s"}, with(func(c *Config) {
			c.ReadHeaderTimeout, c.IdleTimeout, c.WriteTimeout = 5*time.Second, 90*time.Second, 90*time.Second
		})},
		{"timeouts off and fractional", []string{"--read-header-timeout=0", "--idle-timeout=0.5"}, with(func(c *Config) {
			c.ReadHeaderTimeout, c.IdleTimeout = 0, 500*time.Millisecond
		})},
		{"send timeout", []string{"--send-timeout=30s"}, with(func(c *Config) { c.SendTimeout = 30 * time.Second })},
		{"send timeout off", []string{"--send-timeout", "0"}, with(func(c *Config) { c.SendTimeout = 0 })},
		{"limits", []string{"--max-header-bytes=8192", "--max-connections", "100"}, with(func(c *Config) { c.MaxHeaderBytes, c.MaxConnections = 8192, 100 })},
		{"tracebacks accepted", []string{"--display-tracebacks", "-n", "--notracebacks"}, with(func(c *Config) { c.DisplayTracebacks = true })},
		{"seed command line", []string{"--port", "8080", "--path", "/srv/www/www.example.com/static"}, with(func(c *Config) {
			c.Listen, c.Root = []string{"8080"}, "/srv/www/www.example.com/static"
		})},
		{"seed socket activation", []string{"--port", "systemd:domain=INET:index=0", "--path", "."}, with(func(c *Config) {
			c.Listen, c.Root = []string{"systemd:domain=INET:index=0"}, cwd
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.args)
			if err != nil {
				t.Fatalf("ParseArgs(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseArgs(%q)\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown option", []string{"--bogus"}, "option --bogus not recognized"},
		{"ambiguous prefix", []string{"--p", "80"}, "option --p not a unique prefix"},
		{"missing value", []string{"--listen"}, "option --listen requires argument"},
		{"flag with value", []string{"--allow-ignore-ext=1"}, "option --allow-ignore-ext must not have an argument"},
		{"positional argument", []string{"--path", ".", "extra"}, `unexpected argument "extra": web takes only options`},
		{"mime-type before path", []string{"-m", "text/plain", "--path", "."}, "You can only use --mime-type after --path."},
		{"mime_type before path", []string{"--mime_type=x"}, "You can only use --mime-type after --path."},
		{"ignore-ext before path", []string{"--ignore-ext", ".html"}, "You can only use --ignore-ext after --path."},
		{"allow-ignore-ext before path", []string{"--allow-ignore-ext"}, "You can only use --allow-ignore-ext after --path."},
		{"add-header without colon", []string{"--add-header", "X-Foo"}, `bad --add-header "X-Foo": write it as "Name: Value"`},
		{"add-header without name", []string{"--add-header", ": v"}, `bad --add-header ": v": write it as "Name: Value"`},
		{"add-header bad name", []string{"--add-header", "X Foo: v"}, `bad --add-header "X Foo: v": the name "X Foo" may hold only letters, digits and !#$%&'*+-.^_` + "`|~"},
		{"add-header control character", []string{"--add-header", "X: a\x01b"}, `bad --add-header "X: a\x01b": the value holds a control character`},
		{"no access log and logfile", []string{"--no-access-log", "-l", "x"}, "--no-access-log and --logfile contradict each other: give one of them"},
		{"empty path", []string{"--path="}, "--path is empty: give a directory, such as --path ."},
		{"empty logfile", []string{"-l", ""}, "--logfile is empty: give a file name, or leave the option out to log to the main log"},
		{"bad timeout", []string{"--idle-timeout", "soon"}, `--idle-timeout "soon": give a duration such as 30s, 1m30s or 90 (seconds), or 0 for none`},
		{"negative timeout", []string{"--write-timeout", "-1s"}, `--write-timeout "-1s": give a duration such as 30s, 1m30s or 90 (seconds), or 0 for none`},
		{"huge timeout", []string{"--read-header-timeout", "99999999999999"}, `--read-header-timeout "99999999999999": give a duration such as 30s, 1m30s or 90 (seconds), or 0 for none`},
		{"small max-header-bytes", []string{"--max-header-bytes", "10"}, `--max-header-bytes "10": give a number of bytes of at least 1024, such as 65536`},
		{"bad max-connections", []string{"--max-connections", "-1"}, `--max-connections "-1": give a number of connections, or 0 for no limit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseArgs(tt.args)
			if err == nil {
				t.Fatalf("ParseArgs(%q) succeeded, want error %q", tt.args, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseArgs(%q) error\n got %q\nwant %q", tt.args, err, tt.want)
			}
			if !errors.Is(err, getopt.ErrUsage) || getopt.Hint(err) != "gotwistd web --help" {
				t.Errorf("error %q is not a usage error with the help hint", err)
			}
		})
	}
}

// TestNewErrors checks the errors the plugin's New reports for endpoint
// strings: package endpoint's ParseError text, as a usage error.
func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad port", []string{"--listen", "tcp:abc"}, `bad endpoint "tcp:abc": port "abc" is not a number`},
		{"unknown type", []string{"--listen", "bogus-type:nothing"}, `bad endpoint "bogus-type:nothing": unknown endpoint type 'bogus-type'`},
		{"bad --port", []string{"-p", "tcp:"}, `bad endpoint "tcp:"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlugin().New(tt.args, service.Env{})
			if err == nil {
				t.Fatalf("New(%q) succeeded", tt.args)
			}
			if !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("New(%q) error = %q, want one line starting %q", tt.args, err, tt.want)
			}
			if !errors.Is(err, getopt.ErrUsage) {
				t.Errorf("error %q is not a usage error", err)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := NewPlugin().New([]string{"--path", ".", "--hel"}, service.Env{Stdout: &out}) // --he: --health too
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("New(--hel) error = %v, want flag.ErrHelp", err)
	}
	help := out.String()
	if !strings.HasPrefix(help, "Usage: gotwistd [options] web [web options]\n") {
		t.Errorf("help starts %q", help[:min(len(help), 60)])
	}
	for _, o := range options.Options {
		if !strings.Contains(help, "--"+o.Long) {
			t.Errorf("help does not list --%s", o.Long)
		}
	}
}

func TestPluginNames(t *testing.T) {
	p := NewPlugin()
	if p.Name() != "web" || p.Synopsis() == "" {
		t.Errorf("Name, Synopsis = %q, %q", p.Name(), p.Synopsis())
	}
}

// FuzzParseArgs checks that no command line makes ParseArgs panic, and
// that every error is a one-line usage error.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{
		"--listen tcp:8080 --path . -m text/plain",
		"--add-header X:1 --https 443 -c a -k b",
		"--idle-timeout 1.5 --max-connections 3",
		"-m x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseArgs(strings.Split(s, " "))
		if err == nil || errors.Is(err, flag.ErrHelp) {
			return
		}
		if !errors.Is(err, getopt.ErrUsage) {
			t.Fatalf("error %q is not a usage error", err)
		}
	})
}

// TestHTTPSEndpoint checks that --https, -c and -k make the ssl endpoint
// twistd makes, with file names that hold ':' and '\' intact.
func TestHTTPSEndpoint(t *testing.T) {
	svc, err := NewPlugin().New([]string{"--https", "8443", "-c", "c:1.pem", "-k", `k\x.pem`}, service.Env{})
	if err != nil {
		t.Fatal(err)
	}
	e := svc.(*Server).endpoints[0]
	if e.Type != "ssl" || e.Port != 8443 || e.CertKey != "c:1.pem" || e.PrivateKey != `k\x.pem` {
		t.Errorf("--https endpoint = %+v", *e)
	}
}
