// Package getopt parses command lines by the rules of Python's getopt, which
// twistd (twisted.python.usage) uses, so gotwistd's runner and its plugins
// accept the same spellings twistd does:
//
//   - long options: --name=value or --name value; a unique prefix of a long
//     name is accepted (--li for --listen), an exact name always wins over
//     longer names it prefixes, and '_' may be written for '-'
//     (--mime_type is --mime-type);
//   - short options: -p 8080, -p8080, and bundled flags (-nl file);
//   - parsing stops at the first argument that is not an option, or after
//     "--"; a lone "-" is an argument.
//
// Errors carry Python's wording ("option --foo not recognized") and satisfy
// errors.Is(err, ErrUsage).
package getopt

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrUsage is matched (errors.Is) by every error that a bad command line
// causes, from this package or from a caller that wraps its own check in a
// UsageError. The runner prints such an error as one line plus its hint,
// without a stack trace.
var ErrUsage = errors.New("usage error")

// UsageError is a command-line mistake: what is wrong, and how to fix it.
type UsageError struct {
	// Err says what is wrong, e.g. "option --bogus not recognized".
	Err error
	// Hint says how to fix it, e.g. "gotwistd web --help"; may be empty.
	Hint string
}

// Error returns the text of Err.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *UsageError) Unwrap() error { return e.Err }

// Is reports whether target is ErrUsage.
func (e *UsageError) Is(target error) bool { return target == ErrUsage }

// Usagef returns a UsageError with the given hint and a message formatted as
// fmt.Errorf does (so %w wraps).
func Usagef(hint, format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...), Hint: hint}
}

// Hint returns the hint of the first UsageError in err's chain, or "".
func Hint(err error) string {
	var ue *UsageError
	if errors.As(err, &ue) {
		return ue.Hint
	}
	return ""
}

// Option describes one option a command accepts.
type Option struct {
	// Long is the long name without "--", e.g. "listen"; may be empty if
	// Short is set.
	Long string
	// Short is the one-letter name without "-", e.g. 'p'; 0 for none.
	Short byte
	// Arg is true if the option takes a value.
	Arg bool
	// Meta names the value in help text (e.g. "ENDPOINT"); help shows
	// "--listen=ENDPOINT", or "--listen=" when Meta is empty.
	Meta string
	// Help is the description shown by WriteHelp.
	Help string
	// Default, if not empty, is shown by WriteHelp as "[default: ...]".
	Default string
}

// Name returns the name a Result reports for the option: Long if set, else
// the short letter.
func (o *Option) Name() string {
	if o.Long != "" {
		return o.Long
	}
	return string(o.Short)
}

// Result is one option found on a command line.
type Result struct {
	// Name is the option's Long name (or its short letter if it has no
	// long name), whatever abbreviation was written.
	Name string
	// Value is the option's value; "" for a flag.
	Value string
	// Written is the option as written, e.g. "--li" or "-p", for messages.
	Written string
}

// Parser parses command lines for one command.
type Parser struct {
	// Options are the options the command accepts.
	Options []Option
	// Hint is attached to every UsageError Parse returns, e.g.
	// "gotwistd web --help".
	Hint string
}

// Parse parses args. It returns the options found, in order, and the
// arguments that follow them (starting with the first non-option argument,
// or after "--"). An error is a *UsageError.
func (p *Parser) Parse(args []string) ([]Result, []string, error) {
	var out []Result
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return out, args[1:], nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		args = args[1:]
		if strings.HasPrefix(a, "--") {
			r, rest, err := p.long(a[2:], args)
			if err != nil {
				return out, nil, err
			}
			out, args = append(out, r), rest
			continue
		}
		rs, rest, err := p.short(a[1:], args)
		if err != nil {
			return out, nil, err
		}
		out, args = append(out, rs...), rest
	}
	return out, args, nil
}

func (p *Parser) fail(format string, args ...any) error {
	return Usagef(p.Hint, format, args...)
}

func (p *Parser) long(s string, args []string) (Result, []string, error) {
	name, value, hasValue := strings.Cut(s, "=")
	name = strings.ReplaceAll(name, "_", "-")
	o, err := p.lookupLong(name)
	if err != nil {
		return Result{}, nil, err
	}
	r := Result{Name: o.Name(), Written: "--" + name}
	switch {
	case o.Arg && hasValue:
		r.Value = value
	case o.Arg:
		if len(args) == 0 {
			return Result{}, nil, p.fail("option --%s requires argument", o.Long)
		}
		r.Value, args = args[0], args[1:]
	case hasValue:
		return Result{}, nil, p.fail("option --%s must not have an argument", o.Long)
	}
	return r, args, nil
}

func (p *Parser) lookupLong(name string) (*Option, error) {
	var match *Option
	n := 0
	for i := range p.Options {
		o := &p.Options[i]
		if o.Long == "" {
			continue
		}
		if o.Long == name {
			return o, nil
		}
		if name != "" && strings.HasPrefix(o.Long, name) {
			match = o
			n++
		}
	}
	switch n {
	case 0:
		return nil, p.fail("option --%s not recognized", name)
	case 1:
		return match, nil
	default:
		return nil, p.fail("option --%s not a unique prefix", name)
	}
}

func (p *Parser) short(s string, args []string) ([]Result, []string, error) {
	var out []Result
	for len(s) > 0 {
		c := s[0]
		s = s[1:]
		o := p.lookupShort(c)
		if o == nil {
			return nil, nil, p.fail("option -%s not recognized", printable(c))
		}
		r := Result{Name: o.Name(), Written: "-" + string(c)}
		if o.Arg {
			if s == "" {
				if len(args) == 0 {
					return nil, nil, p.fail("option -%c requires argument", c)
				}
				s, args = args[0], args[1:]
			}
			r.Value, s = s, ""
		}
		out = append(out, r)
	}
	return out, args, nil
}

func printable(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return string(c)
	}
	return fmt.Sprintf("\\x%02x", c)
}

func (p *Parser) lookupShort(c byte) *Option {
	for i := range p.Options {
		if p.Options[i].Short == c && c != 0 {
			return &p.Options[i]
		}
	}
	return nil
}

// WriteHelp writes the options in twistd's help layout, one per entry, in
// the order given:
//
//	-i, --index=NAME      Add the name of a file used to check for
//	                      directory indexes.
func (p *Parser) WriteHelp(w io.Writer) error {
	const col, width = 28, 79
	var b strings.Builder
	for _, o := range p.Options {
		left := "  "
		if o.Short != 0 {
			left += "-" + string(o.Short)
			if o.Long != "" {
				left += ", "
			}
		} else {
			left += "    "
		}
		if o.Long != "" {
			left += "--" + o.Long
			if o.Arg {
				left += "=" + o.Meta
			}
		} else if o.Arg {
			left += " " + o.Meta
		}
		help := o.Help
		if o.Default != "" {
			help += " [default: " + o.Default + "]"
		}
		b.WriteString(left)
		pad := col - len(left)
		if pad < 2 {
			b.WriteString("\n")
			pad = col
		}
		lines := wrap(help, width-col)
		if len(lines) == 0 {
			b.WriteString("\n")
			continue
		}
		for i, l := range lines {
			if i > 0 {
				pad = col
			}
			b.WriteString(strings.Repeat(" ", pad))
			b.WriteString(l)
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
