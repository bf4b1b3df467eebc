package getopt

// Spec is one option of a command together with what it does: the Option
// the Parser matches and --help shows, and Set, which applies one
// occurrence of it to the command's settings, a *T. A command declares its
// options as a Specs table, so an option's name, help and meaning sit on
// one line, and the command's parse function is a loop, not a switch on
// names.
type Spec[T any] struct {
	Option
	// Set applies one occurrence of the option: r.Value is its value
	// ("" for a flag), r.Written how it was written (an abbreviation
	// such as "--watch"), for messages. Its error stops Apply.
	Set func(c *T, r Result) error
}

// Specs are the options of one command, in the order --help shows them.
type Specs[T any] []Spec[T]

// Parser returns a Parser for the options, whose errors carry hint.
func (s Specs[T]) Parser(hint string) *Parser {
	p := &Parser{Hint: hint, Options: make([]Option, len(s))}
	for i := range s {
		p.Options[i] = s[i].Option
	}
	return p
}

// Apply calls, in order, the Set of the option each result names, and
// returns the first error. A result naming no option of s (a Parser built
// from other options) panics: it is a programming error.
func (s Specs[T]) Apply(c *T, results []Result) error {
	for _, r := range results {
		sp := s.named(r.Name)
		if sp == nil {
			panic("getopt: Apply: option " + r.Name + " is not in the specs")
		}
		if err := sp.Set(c, r); err != nil {
			return err
		}
	}
	return nil
}

// named returns the spec whose Option.Name is name, or nil.
func (s Specs[T]) named(name string) *Spec[T] {
	for i := range s {
		if s[i].Name() == name {
			return &s[i]
		}
	}
	return nil
}
