// Package docgen turns gotwistd's --help texts into the documents a
// package ships: a man page (roff, man(7) macros) and a bash completion
// script. The help texts are the source, so the documents say what the
// binary says; ParseHelp reads the layout getopt.Parser.WriteHelp writes.
//
//	go run ./internal/docgen/gen --binary ./gotwistd --man gotwistd.1 --bash gotwistd.bash
package docgen

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Option is one option of a help text.
type Option struct {
	// Short is the one-letter name without "-", or "".
	Short string
	// Long is the long name without "--".
	Long string
	// Meta names the value ("ENDPOINT", "auto|on|off"); "" for a flag.
	Meta string
	// Help is the description, on one line, without the default.
	Help string
	// Default is the text of "[default: ...]", or "".
	Default string
}

// Help is one parsed --help text.
type Help struct {
	// Usage is the first line without "Usage: ".
	Usage string
	// Intro holds the lines between the usage line and the options
	// ("Options:" lines left out), joined into paragraphs.
	Intro []string
	// Options are the options in the order shown.
	Options []Option
	// Outro holds the paragraphs after the options, as Intro.
	Outro []string
	// Plugins maps the plugin names of the runner's help (its "Plugins:"
	// list) to their synopsis, in order.
	Plugins [][2]string
}

// The columns of getopt.Parser.WriteHelp: options start at column 2, the
// help text at column 28.
var (
	optionLine = regexp.MustCompile(`^  (?:-([A-Za-z0-9]), |    )--([A-Za-z0-9][A-Za-z0-9_-]*)(?:=(\S*))?(?:\s{2,}(\S.*))?$`)
	helpCont   = regexp.MustCompile(`^ {28}(\S.*)$`)
	pluginLine = regexp.MustCompile(`^ {4}([a-z][a-z0-9-]*)\s{2,}(\S.*)$`)
	defaultRe  = regexp.MustCompile(`\s*\[default: ([^\]]*)\]$`)
)

// ErrNoUsage is returned for a text that does not start with "Usage: ".
var ErrNoUsage = errors.New(`help text does not start with "Usage: "`)

// ParseHelp parses a --help text.
func ParseHelp(text string) (Help, error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "Usage: ") {
		return Help{}, ErrNoUsage
	}
	p := helpParser{h: Help{Usage: strings.TrimSpace(strings.TrimPrefix(lines[0], "Usage: "))}}
	for i, line := range lines[1:] {
		if err := p.line(line); err != nil {
			return p.h, fmt.Errorf("help line %d: %w", i+2, err)
		}
	}
	p.finish()
	if len(p.h.Options) > 0 {
		p.flush(&p.h.Outro)
	} else {
		p.flush(&p.h.Intro)
	}
	return p.h, nil
}

// helpParser is ParseHelp's state between lines.
type helpParser struct {
	h         Help
	para      []string // the lines of the paragraph being read
	inPlugins bool     // in the list after "Plugins:"
	cur       *Option  // the option whose help is being read
}

// flush ends the paragraph being read, appending it to to.
func (p *helpParser) flush(to *[]string) {
	if len(p.para) > 0 {
		*to = append(*to, strings.Join(p.para, " "))
		p.para = nil
	}
}

// text is where a paragraph goes: the intro before the first option, the
// outro after it.
func (p *helpParser) text() *[]string {
	if len(p.h.Options) > 0 {
		return &p.h.Outro
	}
	return &p.h.Intro
}

// finish ends the option being read, splitting its "(default: X)" off.
func (p *helpParser) finish() {
	if p.cur == nil {
		return
	}
	o := p.cur
	o.Help = strings.TrimSpace(o.Help)
	if m := defaultRe.FindStringSubmatchIndex(o.Help); m != nil {
		o.Default = o.Help[m[2]:m[3]]
		o.Help = o.Help[:m[0]]
	}
	p.h.Options = append(p.h.Options, *o)
	p.cur = nil
}

// line reads one line after the usage line.
func (p *helpParser) line(line string) error {
	switch m := optionLine.FindStringSubmatch(line); {
	case m != nil:
		p.finish()
		p.flush(p.text())
		p.cur = &Option{Short: m[1], Long: m[2], Meta: m[3], Help: m[4]}
		if strings.Contains(line, "--"+m[2]+"=") && m[3] == "" {
			p.cur.Meta = "VALUE"
		}
		return nil
	case p.cur != nil && helpCont.MatchString(line):
		p.cur.Help += " " + strings.TrimSpace(line)
		return nil
	}
	p.finish()
	trimmed := strings.TrimSpace(line)
	switch {
	case trimmed == "":
		p.flush(p.text())
		p.inPlugins = false
	case trimmed == "Options:":
		p.flush(p.text())
	case trimmed == "Plugins:":
		p.flush(p.text())
		p.inPlugins = true
	case p.inPlugins:
		pm := pluginLine.FindStringSubmatch(line)
		if pm == nil {
			return fmt.Errorf("%q is not a plugin line (    NAME  SYNOPSIS)", line)
		}
		p.h.Plugins = append(p.h.Plugins, [2]string{pm[1], pm[2]})
	case strings.HasPrefix(line, "  -"):
		return fmt.Errorf("%q looks like an option but is not in getopt's layout", line)
	default:
		p.para = append(p.para, trimmed)
	}
	return nil
}

// Choices returns the words of a Meta like "auto|on|off", or nil.
func (o Option) Choices() []string {
	if !strings.Contains(o.Meta, "|") {
		return nil
	}
	return strings.Split(o.Meta, "|")
}

// valueKind says how a shell completes an option's value: "file", "dir",
// "words" (Choices), or "" (nothing to offer).
func (o Option) valueKind() string {
	switch {
	case o.Meta == "":
		return ""
	case o.Choices() != nil:
		return "words"
	case o.Meta == "DIR":
		return "dir"
	case o.Meta == "PATH", o.Meta == "FILE": // "/PATH" is a URL path

		return "file"
	}
	return ""
}

// Read builds a Page from a gotwistd binary: help runs it with the given
// arguments and returns its standard output. It reads --version, --help
// and PLUGIN --help for every plugin --help lists.
func Read(help func(args ...string) (string, error)) (Page, error) {
	var p Page
	version, err := help("--version")
	if err != nil {
		return p, err
	}
	name, rest, _ := strings.Cut(strings.SplitN(version, "\n", 2)[0], " ")
	if name == "" || rest == "" {
		return p, fmt.Errorf("--version printed %q, not NAME VERSION", version)
	}
	p.Name, p.Version = name, rest
	text, err := help("--help")
	if err != nil {
		return p, err
	}
	if p.Runner, err = ParseHelp(text); err != nil {
		return p, fmt.Errorf("%s --help: %w", name, err)
	}
	for _, pl := range p.Runner.Plugins {
		text, err := help(pl[0], "--help")
		if err != nil {
			return p, err
		}
		h, err := ParseHelp(text)
		if err != nil {
			return p, fmt.Errorf("%s %s --help: %w", name, pl[0], err)
		}
		p.Plugins = append(p.Plugins, NamedHelp{Name: pl[0], Help: h})
	}
	return p, nil
}
