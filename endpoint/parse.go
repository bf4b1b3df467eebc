package endpoint

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// field is one ':'-separated part of an endpoint string, unescaped.
type field struct {
	key   string // "" for a positional field
	value string
	isKV  bool
}

// split tokenizes s: ':' separates fields, '\' makes the next character
// literal, and the first unescaped '=' in a field splits key from value.
func split(s string) ([]field, error) {
	var fields []field
	var cur strings.Builder
	var f field
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 == len(s) {
				return nil, errors.New(`it ends in a lone backslash: write \\ for a literal backslash`)
			}
			i++
			cur.WriteByte(s[i])
		case c == ':':
			f.value = cur.String()
			fields = append(fields, f)
			f = field{}
			cur.Reset()
		case c == '=' && !f.isKV:
			f.isKV = true
			f.key = cur.String()
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	f.value = cur.String()
	fields = append(fields, f)
	return fields, nil
}

// escape makes v a literal field value.
func escape(v string) string {
	if !strings.ContainsAny(v, `:=\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == ':' || c == '=' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// param is one argument of an endpoint type.
type param struct {
	name string // canonical keyword, e.g. "privateKey"
	set  func(e *Endpoint, v string) error
}

// spec describes one endpoint type's arguments.
type spec struct {
	positional []param // Twisted's positional order
	keywords   []param // accepted only as key=value
}

func (s *spec) lookup(key string) (param, bool) {
	for _, p := range s.positional {
		if strings.EqualFold(p.name, key) {
			return p, true
		}
	}
	for _, p := range s.keywords {
		if strings.EqualFold(p.name, key) {
			return p, true
		}
	}
	return param{}, false
}

func (s *spec) names() string {
	var n []string
	for _, p := range s.positional {
		n = append(n, p.name)
	}
	for _, p := range s.keywords {
		n = append(n, p.name)
	}
	return strings.Join(n, ", ")
}

func setPort(e *Endpoint, v string) error {
	if v == "" {
		return errors.New("port is empty: give a number, as in tcp:8080")
	}
	if !isNumber(v) {
		return fmt.Errorf("port %q is not a number", v)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n > 65535 {
		return fmt.Errorf("port %s is out of range 0-65535", v)
	}
	e.Port = n
	return nil
}

func setInterface(e *Endpoint, v string) error {
	if v != "" {
		if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")); err != nil {
			return fmt.Errorf(`interface %q must be an IP address of this machine, such as 127.0.0.1 or \:\:1 (colons escaped), or left out for every address`, v)
		}
	}
	e.Interface = v
	return nil
}

const maxBacklog = 1 << 20

func setBacklog(e *Endpoint, v string) error {
	if !isNumber(v) {
		return fmt.Errorf("backlog %q is not a number", v)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxBacklog {
		return fmt.Errorf("backlog %s is out of range 1-%d", v, maxBacklog)
	}
	e.Backlog = n
	return nil
}

var setPath = nonEmpty(func(e *Endpoint) *string { return &e.Path }, "the socket path is empty: give one, as in unix:/run/www.sock")

func setMode(e *Endpoint, v string) error {
	n, err := strconv.ParseUint(strings.TrimPrefix(v, "0o"), 8, 32)
	if err != nil || v == "" {
		return fmt.Errorf("mode %q is not an octal number such as 660", v)
	}
	if n > 0o777 {
		return fmt.Errorf("mode %q has bits beyond 0777", v)
	}
	e.Mode = os.FileMode(n)
	return nil
}

func setLockfile(e *Endpoint, v string) error {
	switch strings.ToLower(v) {
	case "true", "yes", "on":
		e.Lockfile = true
		return nil
	case "false", "no", "off":
		e.Lockfile = false
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("lockfile %q is not 0 or 1", v)
	}
	e.Lockfile = n != 0
	return nil
}

func setDomain(e *Endpoint, v string) error {
	switch d := strings.ToUpper(v); d {
	case DomainINET, DomainINET6, DomainUNIX:
		e.Domain = d
		return nil
	}
	return fmt.Errorf("domain %q is not INET, INET6 or UNIX", v)
}

func setIndex(e *Endpoint, v string) error {
	if !isNumber(v) {
		return fmt.Errorf("index %q is not a number 0, 1, 2, ...", v)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n > 1<<20 {
		return fmt.Errorf("index %s is out of range", v)
	}
	e.Index = n
	return nil
}

var setName = nonEmpty(func(e *Endpoint) *string { return &e.Name }, "name is empty: give the socket's FileDescriptorName=")

// setString sets a file name parameter, what, that must not be empty.
func setString(dst func(e *Endpoint) *string, what string) func(*Endpoint, string) error {
	return nonEmpty(dst, what+" is empty: give a file name")
}

// nonEmpty sets a string parameter that must not be empty; ifEmpty is
// the error when it is.
func nonEmpty(dst func(e *Endpoint) *string, ifEmpty string) func(*Endpoint, string) error {
	err := errors.New(ifEmpty)
	return func(e *Endpoint, v string) error {
		if v == "" {
			return err
		}
		*dst(e) = v
		return nil
	}
}

var (
	pPort           = param{"port", setPort}
	pInterface      = param{"interface", setInterface}
	pBacklog        = param{"backlog", setBacklog}
	pPrivateKey     = param{"privateKey", setString(func(e *Endpoint) *string { return &e.PrivateKey }, "privateKey")}
	pCertKey        = param{"certKey", setString(func(e *Endpoint) *string { return &e.CertKey }, "certKey")}
	pExtraCertChain = param{"extraCertChain", setString(func(e *Endpoint) *string { return &e.ExtraCertChain }, "extraCertChain")}
	pDHParameters   = param{"dhParameters", func(e *Endpoint, v string) error { e.DHParameters = v; return nil }}
	pSSLMethod      = param{"sslmethod", func(e *Endpoint, v string) error { e.SSLMethod = v; return nil }}
)

var specs = map[string]*spec{
	TypeTCP:  {positional: []param{pPort, pInterface, pBacklog}},
	TypeTCP6: {positional: []param{pPort, pBacklog, pInterface}},
	TypeUNIX: {positional: []param{{"address", setPath}, {"mode", setMode}, pBacklog, {"lockfile", setLockfile}}},
	TypeSSL: {positional: []param{pPort, pPrivateKey, pCertKey, pSSLMethod, pInterface, pBacklog,
		pExtraCertChain, pDHParameters}},
	TypeQUIC:    {positional: []param{pPort, pPrivateKey, pCertKey, pInterface, pExtraCertChain}},
	TypeSystemd: {positional: []param{{"domain", setDomain}, {"index", setIndex}, {"name", setName}}},
	TypeLE:      acmeSpec,
	TypeLETS:    acmeSpec,
	TypeHAProxy: {},
}

// tlsSpec is the part of ssl and quic that stays on the outer endpoint of
// a wrapped form such as ssl:systemd:...
var tlsSpec = map[string]*spec{
	TypeSSL:  {keywords: []param{pPrivateKey, pCertKey, pExtraCertChain, pDHParameters, pSSLMethod}},
	TypeQUIC: {keywords: []param{pPrivateKey, pCertKey, pExtraCertChain}},
	// haproxy has no arguments of its own.
	TypeHAProxy: {},
}

// wrappable lists the inner types each wrapping type accepts.
var wrappable = map[string][]string{
	TypeSSL:     {TypeTCP, TypeTCP6, TypeUNIX, TypeSystemd, TypeHAProxy},
	TypeQUIC:    {TypeSystemd},
	TypeHAProxy: {TypeTCP, TypeTCP6, TypeUNIX, TypeSystemd},
}

// Parse parses a Twisted server endpoint string, such as "tcp:8080",
// "8080" (the same), "unix:/run/x.sock:mode=660",
// "ssl:443:privateKey=key.pem:certKey=cert.pem",
// "systemd:domain=INET:index=0", "systemd:domain=INET:name=my-web-port",
// "ssl:systemd:domain=INET6:name=https:privateKey=k.pem" or
// "quic:443:privateKey=k.pem". The package documentation describes the
// grammar. Errors are *ParseError.
func Parse(s string) (*Endpoint, error) {
	e, reason, err := parse(s)
	if err != nil {
		return nil, &ParseError{Input: s, Reason: reason, Err: err}
	}
	return e, nil
}

func parse(s string) (*Endpoint, string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, "it is empty: give one such as tcp:8080", ErrSyntax
	}
	fields, err := split(s)
	if err != nil {
		return nil, err.Error(), ErrSyntax
	}
	head := fields[0]
	if head.isKV {
		return nil, fmt.Sprintf("it starts with %q, not an endpoint type: begin with tcp:, unix:, ssl:, systemd: ...", head.key+"="), ErrSyntax
	}
	typ := strings.ToLower(head.value)
	if typ == "" {
		return nil, "the type is missing: begin with tcp:, unix:, ssl:, systemd: ...", ErrSyntax
	}
	if isNumber(head.value) {
		// A bare port number means tcp:PORT.
		typ = TypeTCP
	} else {
		fields = fields[1:]
	}
	if _, ok := specs[typ]; !ok {
		if strings.ContainsFunc(typ, func(r rune) bool { return !unicode.IsPrint(r) || r == '\'' }) {
			return nil, fmt.Sprintf("unknown endpoint type %q", typ), ErrUnknownType
		}
		return nil, fmt.Sprintf("unknown endpoint type '%s'", typ), ErrUnknownType
	}
	e, err := build(typ, fields)
	if err != nil {
		return nil, err.Error(), ErrSyntax
	}
	return e, "", nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// build makes an endpoint of type typ from its fields (the type removed).
func build(typ string, fields []field) (*Endpoint, error) {
	if isACME(typ) {
		return buildACME(typ, fields)
	}
	if inner, ok := wrappable[typ]; ok {
		if i := firstPositional(fields); i >= 0 {
			word := strings.ToLower(fields[i].value)
			if _, known := specs[word]; known {
				for _, w := range inner {
					if w == word {
						return buildWrapped(typ, word, fields, i)
					}
				}
				if typ == TypeHAProxy && word == TypeSSL {
					return nil, errors.New("haproxy cannot wrap ssl: a load balancer sends the PROXY header before the TLS handshake, so TLS goes outside: write ssl:haproxy:... (as in ssl:haproxy:tcp:443:privateKey=key.pem)")
				}
				return nil, fmt.Errorf("%s cannot wrap a %s endpoint: it wraps %s", typ, word, strings.Join(inner, ", "))
			}
		}
	}
	if typ == TypeHAProxy {
		// haproxy:8080 is haproxy:tcp:8080, as a bare 8080 is tcp:8080.
		if i := firstPositional(fields); i >= 0 && isNumber(fields[i].value) {
			return buildWrapped(typ, TypeTCP, append(fields[:i:i], append([]field{{value: TypeTCP}}, fields[i:]...)...), i)
		}
		return nil, errors.New("haproxy wraps a stream endpoint: give one, as in haproxy:tcp:8080, haproxy:unix:/run/www.sock or haproxy:systemd:domain=INET:name=lb")
	}
	e := defaults(typ)
	if err := apply(e, typ, specs[typ], fields); err != nil {
		return nil, err
	}
	if err := finish(e, fields); err != nil {
		return nil, err
	}
	return e, nil
}

// buildWrapped parses forms like ssl:systemd:domain=INET:name=https:
// certKey=c.pem, where fields[at] names the inner type. TLS keywords go to
// the outer endpoint, everything else to the inner one.
func buildWrapped(typ, innerType string, fields []field, at int) (*Endpoint, error) {
	outerSpec := tlsSpec[typ]
	var outerFields, innerFields []field
	for i, f := range fields {
		switch {
		case i == at:
		case i < at:
			// Only keywords can precede the first positional field.
			if _, ok := outerSpec.lookup(f.key); ok {
				outerFields = append(outerFields, f)
			} else {
				innerFields = append(innerFields, f)
			}
		case f.isKV:
			if _, ok := outerSpec.lookup(f.key); ok {
				outerFields = append(outerFields, f)
				continue
			}
			innerFields = append(innerFields, f)
		default:
			innerFields = append(innerFields, f)
		}
	}
	inner, err := build(innerType, innerFields)
	if err != nil {
		return nil, err
	}
	if typ == TypeHAProxy {
		return &Endpoint{Type: typ, Inner: inner}, nil
	}
	e := &Endpoint{Type: typ, PrivateKey: DefaultPrivateKey, Inner: inner}
	if err := apply(e, typ, outerSpec, outerFields); err != nil {
		return nil, err
	}
	if e.CertKey == "" {
		e.CertKey = e.PrivateKey
	}
	return e, nil
}

func firstPositional(fields []field) int {
	for i, f := range fields {
		if !f.isKV {
			return i
		}
	}
	return -1
}

func defaults(typ string) *Endpoint {
	e := &Endpoint{Type: typ}
	switch typ {
	case TypeTCP, TypeTCP6:
		e.Backlog = DefaultBacklog
	case TypeUNIX:
		e.Backlog, e.Mode, e.Lockfile = DefaultBacklog, DefaultMode, true
	case TypeSSL:
		e.Backlog, e.PrivateKey = DefaultBacklog, DefaultPrivateKey
	case TypeQUIC:
		e.PrivateKey = DefaultPrivateKey
	}
	return e
}

// apply assigns fields to e's parameters: positional fields in order,
// keywords by name (case-insensitive); a repeated keyword: the last wins.
func apply(e *Endpoint, typ string, sp *spec, fields []field) error {
	given := map[string]string{} // canonical name -> how it was given
	pos := 0
	for _, f := range fields {
		var p param
		var how string
		if f.isKV {
			var ok bool
			if p, ok = sp.lookup(f.key); !ok {
				if f.key == "" {
					return fmt.Errorf("field %q has no keyword before '='", "="+f.value)
				}
				return fmt.Errorf("unknown keyword %q for %s: it takes %s", f.key, typ, sp.names())
			}
			how = "keyword"
		} else {
			if pos >= len(sp.positional) {
				if len(sp.positional) == 0 {
					return fmt.Errorf("unexpected field %q: give %s as key=value", f.value, sp.names())
				}
				return fmt.Errorf("unexpected field %q: %s takes at most %d positional fields (%s); use key=value", f.value, typ, len(sp.positional), sp.names())
			}
			p = sp.positional[pos]
			pos++
			how = "positional"
		}
		if prev, ok := given[p.name]; ok && (prev == "positional" || how == "positional") {
			return fmt.Errorf("%s is given twice: as a positional field and as %s=", p.name, p.name)
		}
		given[p.name] = how
		if err := p.set(e, f.value); err != nil {
			return err
		}
	}
	return nil
}

// finish checks required fields and fills dependent defaults.
func finish(e *Endpoint, fields []field) error {
	has := func(name string) bool {
		sp := specs[e.Type]
		pos := 0
		for _, f := range fields {
			if f.isKV {
				if p, ok := sp.lookup(f.key); ok && p.name == name {
					return true
				}
				continue
			}
			if pos < len(sp.positional) && sp.positional[pos].name == name {
				return true
			}
			pos++
		}
		return false
	}
	switch e.Type {
	case TypeTCP, TypeTCP6, TypeSSL, TypeQUIC:
		if !has("port") {
			return fmt.Errorf("no port: give one, as in %s:8080", e.Type)
		}
	case TypeUNIX:
		if !has("address") {
			return errors.New("no socket path: give one, as in unix:/run/www.sock")
		}
	case TypeSystemd:
		if !has("domain") {
			return errors.New("no domain: give domain=INET, INET6 or UNIX, as in systemd:domain=INET:index=0")
		}
		hasIndex, hasName := has("index"), has("name")
		switch {
		case hasIndex && hasName:
			return errors.New("both index= and name= are given: give exactly one")
		case !hasIndex && !hasName:
			return errors.New("neither index= nor name= is given: give exactly one, as in systemd:domain=INET:index=0")
		}
	}
	if (e.Type == TypeSSL || e.Type == TypeQUIC) && e.CertKey == "" {
		e.CertKey = e.PrivateKey
	}
	return nil
}
