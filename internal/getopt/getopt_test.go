package getopt

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

var testParser = &Parser{
	Hint: "cmd --help",
	Options: []Option{
		{Long: "listen", Arg: true, Meta: "ENDPOINT", Help: "Add a port."},
		{Long: "port", Short: 'p', Arg: true},
		{Long: "path", Arg: true},
		{Long: "mime-type", Short: 'm', Arg: true},
		{Long: "notracebacks", Short: 'n'},
		{Long: "foo"},
		{Long: "food"},
		{Short: 'x'},
		{Long: "logfile", Short: 'l', Arg: true},
	},
}

// format renders results as "name=value name ..." then "| rest...".
func format(rs []Result, rest []string) string {
	var parts []string
	for _, r := range rs {
		if r.Value != "" {
			parts = append(parts, r.Name+"="+r.Value)
		} else {
			parts = append(parts, r.Name)
		}
	}
	return strings.Join(parts, " ") + " |" + strings.Join(append([]string{""}, rest...), " ")
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		args string
		want string
		err  string
	}{
		{"empty", "", " |", ""},
		{"long equals", "--listen=tcp:80", "listen=tcp:80 |", ""},
		{"long separate", "--listen tcp:80", "listen=tcp:80 |", ""},
		{"long empty value", "--listen=", "listen |", ""},
		{"value starting with dash", "--listen -x", "listen=-x |", ""},
		{"unique prefix", "--li tcp:80", "listen=tcp:80 |", ""},
		{"prefix with equals", "--lis=tcp:80", "listen=tcp:80 |", ""},
		{"ambiguous prefix", "--p 80", "", "option --p not a unique prefix"},
		{"ambiguous prefix pa", "--pa x", "path=x |", ""},
		{"exact beats longer", "--foo", "foo |", ""},
		{"prefix of two", "--fo", "", "option --fo not a unique prefix"},
		{"underscore is dash", "--mime_type=text/plain", "mime-type=text/plain |", ""},
		{"underscore prefix", "--mime_t x", "mime-type=x |", ""},
		{"unknown long", "--bogus", "", "option --bogus not recognized"},
		{"missing value", "--listen", "", "option --listen requires argument"},
		{"missing value abbreviated", "--lis", "", "option --listen requires argument"},
		{"flag with value", "--notracebacks=1", "", "option --notracebacks must not have an argument"},
		{"short separate", "-p 8080", "port=8080 |", ""},
		{"short attached", "-p8080", "port=8080 |", ""},
		{"short bundle", "-nx", "notracebacks x |", ""},
		{"short bundle then value", "-nl log", "notracebacks logfile=log |", ""},
		{"short bundle attached value", "-nllog", "notracebacks logfile=log |", ""},
		{"short unknown", "-z", "", "option -z not recognized"},
		{"short missing value", "-p", "", "option -p requires argument"},
		{"stops at argument", "-n web --path x", "notracebacks | web --path x", ""},
		{"double dash", "-n -- -x", "notracebacks | -x", ""},
		{"lone dash is argument", "- -n", " | - -n", ""},
		{"repeated", "--listen a --listen=b", "listen=a listen=b |", ""},
		{"empty long name", "--=x", "", "option -- not recognized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, rest, err := testParser.Parse(strings.Fields(tt.args))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("Parse(%q) error = %v, want %q", tt.args, err, tt.err)
				}
				if !errors.Is(err, ErrUsage) {
					t.Errorf("error %v is not ErrUsage", err)
				}
				if Hint(err) != "cmd --help" {
					t.Errorf("Hint = %q", Hint(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.args, err)
			}
			if got := format(rs, rest); got != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

func TestWritten(t *testing.T) {
	rs, _, err := testParser.Parse([]string{"--li", "a", "-p1"})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Written != "--li" || rs[1].Written != "-p" {
		t.Errorf("Written = %q, %q", rs[0].Written, rs[1].Written)
	}
}

func TestUsagef(t *testing.T) {
	base := errors.New("root cause")
	err := Usagef("try this", "bad thing: %w", base)
	if !errors.Is(err, ErrUsage) || !errors.Is(err, base) {
		t.Errorf("Usagef error does not match ErrUsage and its cause")
	}
	if err.Error() != "bad thing: root cause" || Hint(fmt.Errorf("ctx: %w", err)) != "try this" {
		t.Errorf("got %q hint %q", err, Hint(err))
	}
	if Hint(base) != "" {
		t.Errorf("Hint of a plain error is not empty")
	}
}

func TestWriteHelp(t *testing.T) {
	p := &Parser{Options: []Option{
		{Long: "index", Short: 'i', Arg: true, Meta: "NAME", Help: "Add the name of a file used to check for directory indexes.", Default: "index, index.html"},
		{Long: "help", Help: "Display this help and exit."},
		{Long: "a-very-long-option-name-indeed", Arg: true, Help: "Short."},
	}}
	var b strings.Builder
	if err := p.WriteHelp(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"  -i, --index=NAME          Add the name of a file used to check for directory\n" +
		"                            indexes. [default: index, index.html]\n" +
		"      --help                Display this help and exit.\n" +
		"      --a-very-long-option-name-indeed=\n" +
		"                            Short.\n"
	if b.String() != want {
		t.Errorf("WriteHelp:\n%s\nwant:\n%s", b.String(), want)
	}
}

// FuzzParse checks that Parse never panics, that every error is a usage
// error, and that re-serializing the results parses back to the same results.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"--listen=tcp:80 -nl x", "-p8080 web", "--fo", "-- -x", "--mime_t=a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, " ")
		rs, rest, err := testParser.Parse(args)
		if err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("error %v is not ErrUsage", err)
			}
			return
		}
		var again []string
		for _, r := range rs {
			again = append(again, spelling(r.Name))
			for _, o := range testParser.Options {
				if o.Name() == r.Name && o.Arg {
					again = append(again, r.Value)
				}
			}
		}
		again = append(again, "--")
		again = append(again, rest...)
		rs2, rest2, err := testParser.Parse(again)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", again, err)
		}
		if format(rs, rest) != format(rs2, rest2) {
			t.Fatalf("re-parse of %q = %q, want %q", again, format(rs2, rest2), format(rs, rest))
		}
	})
}

// spelling returns the canonical way to write the option named name.
func spelling(name string) string {
	if len(name) == 1 {
		return "-" + name // a short-only option
	}
	return "--" + name
}
