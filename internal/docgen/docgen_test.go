package docgen

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestParseHelp(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want Help
		err  string
	}{
		{name: "flag and option with default, wrapped",
			text: "Usage: x [options]\nDoes x.\n\nOptions:\n" +
				"  -n, --nodaemon            don't daemonize\n" +
				"      --pidfile=PATH        name of the pidfile; empty: none [default:\n" +
				"                            x.pid]\n" +
				"\nLong options may be abbreviated.\n",
			want: Help{Usage: "x [options]", Intro: []string{"Does x."},
				Options: []Option{
					{Short: "n", Long: "nodaemon", Help: "don't daemonize"},
					{Long: "pidfile", Meta: "PATH", Help: "name of the pidfile; empty: none", Default: "x.pid"},
				},
				Outro: []string{"Long options may be abbreviated."}}},
		{name: "long option alone on its line",
			text: "Usage: x\n      --shutdown-timeout=DURATION\n                            wait this long [default: 10s]\n",
			want: Help{Usage: "x", Options: []Option{{Long: "shutdown-timeout", Meta: "DURATION", Help: "wait this long", Default: "10s"}}}},
		{name: "choices",
			text: "Usage: x\n      --handover=auto|on|off  park connections [default: auto]\n",
			want: Help{Usage: "x", Options: []Option{{Long: "handover", Meta: "auto|on|off", Help: "park connections", Default: "auto"}}}},
		{name: "plugins",
			text: "Usage: x PLUGIN\n\nPlugins:\n    web              A web server.\n    units            Unit files.\n\nRun 'x PLUGIN --help'.\n",
			want: Help{Usage: "x PLUGIN", Plugins: [][2]string{{"web", "A web server."}, {"units", "Unit files."}}, Intro: []string{"Run 'x PLUGIN --help'."}}},
		{name: "not a help text", text: "gotwistd 0.1.0\n", err: ErrNoUsage.Error()},
		{name: "bad plugin line", text: "Usage: x\nPlugins:\nweb\n", err: `help line 3: "web" is not a plugin line`},
		{name: "option out of layout", text: "Usage: x\n  -nodaemon\n", err: `help line 2: "  -nodaemon" looks like an option`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHelp(tc.text)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseHelp = %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseHelp\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// testdataPage reads the page from the help texts in testdata.
func testdataPage(t *testing.T) Page {
	t.Helper()
	files := map[string]string{"--version": "version.txt", "--help": "help.txt", "web --help": "web-help.txt", "units --help": "units-help.txt"}
	p, err := Read(func(args ...string) (string, error) {
		b, err := os.ReadFile(filepath.Join("testdata", files[strings.Join(args, " ")]))
		return string(b), err
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Date = "2026-12-06"
	return p
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test ./internal/docgen -update rewrites it):\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	p := testdataPage(t)
	if p.Name != "gotwistd" || len(p.Plugins) != 2 {
		t.Fatalf("page %q with %d plugins, want gotwistd with web and units", p.Name, len(p.Plugins))
	}
	golden(t, "gotwistd.1.golden", Man(p))
	golden(t, "gotwistd.bash.golden", Bash(p))
}

// TestEveryOptionParsed checks against the help texts that every line
// starting an option became an Option.
func TestEveryOptionParsed(t *testing.T) {
	p := testdataPage(t)
	for _, s := range append([]NamedHelp{{Name: "gotwistd", Help: p.Runner}}, p.Plugins...) {
		name := map[string]string{"gotwistd": "help.txt", "web": "web-help.txt", "units": "units-help.txt"}[s.Name]
		text, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(string(text), "\n") {
			if optionLine.MatchString(line) {
				n++
			}
		}
		if n == 0 || len(s.Help.Options) != n {
			t.Errorf("%s: %d options parsed, %d option lines", s.Name, len(s.Help.Options), n)
		}
	}
}

// TestManRenders renders the page with man-db and groff and wants no
// warning (-ww), and the options in the text.
func TestManRenders(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man not installed (Debian man-db)")
	}
	path := filepath.Join(t.TempDir(), "gotwistd.1")
	if err := os.WriteFile(path, Man(testdataPage(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("man", "--warnings=w", "-l", path)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "MANWIDTH=80", "MAN_KEEP_FORMATTING=0", "MANPAGER=cat", "PAGER=cat")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("man -l: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("man --warnings: %s", stderr.String())
	}
	// Drop the overstrikes (bold, underline) and the justification's
	// extra spaces, as col -b and a reader's eye do.
	text := regexp.MustCompile(`.\x08`).ReplaceAllString(stdout.String(), "")
	text = regexp.MustCompile(` +`).ReplaceAllString(text, " ")
	for _, want := range []string{"NAME", "gotwistd - run a web server", "WEB OPTIONS", "UNITS OPTIONS",
		"--listen=ENDPOINT", "--handover=auto|on|off", "-n, --nodaemon", "[default: tcp:8080]"} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
}

// TestBashCompletes sources the completion script in a real bash and
// completes command lines as bash would.
func TestBashCompletes(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "gotwistd.bash")
	if err := os.WriteFile(script, Bash(testdataPage(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "site.pem"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		words []string // the last is the word being completed
		want  string
	}{
		{"a global option", []string{"gotwistd", "--nod"}, "--nodaemon"},
		{"a plugin", []string{"gotwistd", "-n", "w"}, "web"},
		{"every plugin", []string{"gotwistd", ""}, "web units"},
		{"a web option", []string{"gotwistd", "-n", "web", "--hand"}, "--handover"},
		{"choices", []string{"gotwistd", "web", "--handover", ""}, "auto on off"},
		{"choices after =", []string{"gotwistd", "web", "--handover", "=", "o"}, "on off"},
		{"a plugin name as an option's value", []string{"gotwistd", "--pidfile", "web", "--no"}, "--no-save --nodaemon"},
		{"directories for DIR", []string{"gotwistd", "web", "--path", "sit"}, "site"},
		{"files for FILE", []string{"gotwistd", "web", "-c", "site."}, "site.pem"},
		{"nothing for an endpoint", []string{"gotwistd", "web", "--listen", ""}, ""},
		{"nothing for a URL path", []string{"gotwistd", "web", "--health", ""}, ""},
		{"units options", []string{"gotwistd", "units", "--no"}, "--no-socket --notify-reload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var quoted []string
			for _, w := range tc.words {
				quoted = append(quoted, "'"+w+"'")
			}
			prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
				itoa(len(tc.words)-1) + "\n_gotwistd\necho \"${COMPREPLY[*]}\"\n"
			cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("completing %q = %q, want %q", tc.words, got, tc.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// FuzzParseHelp: any text parses or fails with an error, never a panic,
// and what parses renders.
func FuzzParseHelp(f *testing.F) {
	for _, name := range []string{"help.txt", "web-help.txt", "units-help.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("Usage: x\n  -a, --b=C  d [default: e]\n")
	f.Fuzz(func(t *testing.T, text string) {
		h, err := ParseHelp(text)
		if err != nil {
			return
		}
		for _, o := range h.Options {
			if o.Long == "" || strings.Contains(o.Help, "\n") {
				t.Fatalf("option %+v from %q", o, text)
			}
		}
		p := Page{Name: "x", Version: "1", Date: "d", Runner: h}
		Man(p)
		Bash(p)
	})
}
