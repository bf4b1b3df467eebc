package getopt

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// settings is what testSpecs fill.
type settings struct {
	listen  []string
	verbose bool
	count   int
	log     []string // every setter call, as "name:written=value"
}

var errStop = errors.New("stop")

func logged(c *settings, r Result) { c.log = append(c.log, r.Name+":"+r.Written+"="+r.Value) }

var testSpecs = Specs[settings]{
	{Option: Option{Long: "listen", Short: 'l', Arg: true, Meta: "ENDPOINT", Help: "Add an endpoint.", Default: "tcp:8080"},
		Set: func(c *settings, r Result) error { logged(c, r); c.listen = append(c.listen, r.Value); return nil }},
	{Option: Option{Long: "verbose", Short: 'v', Help: "Say more."},
		Set: func(c *settings, r Result) error { logged(c, r); c.verbose = true; return nil }},
	{Option: Option{Long: "count", Arg: true, Meta: "N", Help: "How many."},
		Set: func(c *settings, r Result) error {
			logged(c, r)
			n, err := strconv.Atoi(r.Value)
			if err != nil {
				return Usagef("cmd --help", "%s %q is not a number", r.Written, r.Value)
			}
			c.count = n
			return nil
		}},
	{Option: Option{Short: 'x', Help: "Stop here."},
		Set: func(c *settings, r Result) error { logged(c, r); return errStop }},
}

func TestSpecsApply(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string // the setter calls, then the settings
		wantErr string
	}{
		{"none", nil, "| [] false 0", ""},
		{"in order, repeated", []string{"--listen", "a", "-v", "-lb", "--count=3"},
			"listen:--listen=a verbose:-v= listen:-l=b count:--count=3 | [a b] true 3", ""},
		{"abbreviation written, long name given", []string{"--li=a", "--verb", "--cou", "2"},
			"listen:--li=a verbose:--verb= count:--cou=2 | [a] true 2", ""},
		{"a short-only option is named by its letter", []string{"-v", "-x"}, "verbose:-v= x:-x= | [] true 0", "stop"},
		{"the first error stops", []string{"--co", "many", "-v", "-x"}, "count:--co=many | [] false 0", `--co "many" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, rest, err := testSpecs.Parser("cmd --help").Parse(tt.args)
			if err != nil || len(rest) != 0 {
				t.Fatalf("Parse: %v, rest %q", err, rest)
			}
			var c settings
			err = testSpecs.Apply(&c, results)
			got := strings.Join(append(c.log, "|"), " ") + fmt.Sprintf(" %v %v %d", c.listen, c.verbose, c.count)
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if errText(err) != tt.wantErr {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSpecsParser checks that the Parser built from specs is the one their
// Options make: same matching, same hint, same help.
func TestSpecsParser(t *testing.T) {
	p := testSpecs.Parser("cmd --help")
	plain := &Parser{Hint: "cmd --help"}
	for _, s := range testSpecs {
		plain.Options = append(plain.Options, s.Option)
	}
	var got, want bytes.Buffer
	if err := p.WriteHelp(&got); err != nil {
		t.Fatal(err)
	}
	if err := plain.WriteHelp(&want); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() || !strings.Contains(got.String(), "-l, --listen=ENDPOINT") {
		t.Errorf("help:\n%s\nwant:\n%s", got.String(), want.String())
	}
	_, _, err := p.Parse([]string{"--bogus"})
	if Hint(err) != "cmd --help" || !errors.Is(err, ErrUsage) {
		t.Errorf("Parse(--bogus) = %v, hint %q; want a usage error with the hint", err, Hint(err))
	}
}

func TestSpecsApplyUnknownPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Apply of a result naming no spec did not panic")
		}
	}()
	var c settings
	_ = testSpecs.Apply(&c, []Result{{Name: "other"}})
}
