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
	var h Help
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "Usage: ") {
		return h, ErrNoUsage
	}
	h.Usage = strings.TrimSpace(strings.TrimPrefix(lines[0], "Usage: "))
	var para []string
	flush := func(to *[]string) {
		if len(para) > 0 {
			*to = append(*to, strings.Join(para, " "))
			para = nil
		}
	}
	inPlugins := false
	var cur *Option
	finish := func() {
		if cur == nil {
			return
		}
		cur.Help = strings.TrimSpace(cur.Help)
		if m := defaultRe.FindStringSubmatchIndex(cur.Help); m != nil {
			cur.Default = cur.Help[m[2]:m[3]]
			cur.Help = cur.Help[:m[0]]
		}
		h.Options = append(h.Options, *cur)
		cur = nil
	}
	for i, line := range lines[1:] {
		switch m := optionLine.FindStringSubmatch(line); {
		case m != nil:
			finish()
			target := &h.Intro
			if len(h.Options) > 0 {
				target = &h.Outro
			}
			flush(target)
			cur = &Option{Short: m[1], Long: m[2], Meta: m[3], Help: m[4]}
			if strings.Contains(line, "--"+m[2]+"=") && m[3] == "" {
				cur.Meta = "VALUE"
			}
			continue
		case cur != nil && helpCont.MatchString(line):
			cur.Help += " " + strings.TrimSpace(line)
			continue
		}
		finish()
		trimmed := strings.TrimSpace(line)
		target := &h.Intro
		if len(h.Options) > 0 {
			target = &h.Outro
		}
		switch {
		case trimmed == "":
			flush(target)
			inPlugins = false
		case trimmed == "Options:":
			flush(target)
		case trimmed == "Plugins:":
			flush(target)
			inPlugins = true
		case inPlugins:
			pm := pluginLine.FindStringSubmatch(line)
			if pm == nil {
				return h, fmt.Errorf("help line %d: %q is not a plugin line (    NAME  SYNOPSIS)", i+2, line)
			}
			h.Plugins = append(h.Plugins, [2]string{pm[1], pm[2]})
		case strings.HasPrefix(line, "  -"):
			return h, fmt.Errorf("help line %d: %q looks like an option but is not in getopt's layout", i+2, line)
		default:
			para = append(para, trimmed)
		}
	}
	finish()
	if len(h.Options) > 0 {
		flush(&h.Outro)
	} else {
		flush(&h.Intro)
	}
	return h, nil
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
