package endpoint

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gotwistd/gotwistd/acme"
)

// Endpoint types of automatic HTTPS by ACME (txacme's spellings).
const (
	// TypeLE gets its certificates from an ACME CA, Let's Encrypt's
	// production directory unless ca= (or the server's --acme-ca) says
	// otherwise.
	TypeLE = "le"
	// TypeLETS is TypeLE with Let's Encrypt's staging directory as its
	// default CA, as in txacme.
	TypeLETS = "lets"
)

// ACME directory URLs of Let's Encrypt.
const (
	// LetsEncryptURL is Let's Encrypt's production directory, the CA of
	// le: endpoints without ca=.
	LetsEncryptURL = "https://acme-v02.api.letsencrypt.org/directory"
	// LetsEncryptStagingURL is Let's Encrypt's staging directory (untrusted
	// certificates, generous rate limits), the CA of lets: endpoints
	// without ca=.
	LetsEncryptStagingURL = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// acmeSpec is the part of le and lets that stays on the outer endpoint.
var acmeSpec = &spec{
	positional: []param{{"directory", setCertDir}},
	keywords:   []param{{"hosts", setHosts}, {"ca", setCA}, {"email", setEmail}},
}

// acmeInner lists the endpoint types le and lets put TLS on.
var acmeInner = []string{TypeTCP, TypeTCP6, TypeUNIX, TypeSystemd}

func isACME(typ string) bool { return typ == TypeLE || typ == TypeLETS }

func setCertDir(e *Endpoint, v string) error {
	if v == "" {
		return errors.New("the certificate directory is empty: give one, as in le:/var/lib/gotwistd/certs:tcp:443")
	}
	e.CertDir = v
	return nil
}

func setHosts(e *Endpoint, v string) error {
	e.Hosts = nil
	seen := map[string]bool{}
	for _, h := range strings.Split(v, ",") {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if err := checkHost(h); err != nil {
			return err
		}
		if !seen[h] {
			seen[h] = true
			e.Hosts = append(e.Hosts, h)
		}
	}
	return nil
}

// checkHost accepts a DNS name an ACME CA can issue for by http-01 or
// tls-alpn-01: letters, digits and hyphens in dot-separated labels.
func checkHost(h string) error {
	if h == "" {
		return errors.New("hosts= holds an empty name: give names separated by commas, as in hosts=example.com,www.example.com")
	}
	if strings.HasPrefix(h, "*.") {
		return fmt.Errorf("host %q is a wildcard: wildcard certificates need the dns-01 challenge, which gotwistd does not answer; list the names", h)
	}
	if len(h) > 253 {
		return fmt.Errorf("host %q is longer than 253 characters", h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host %q is not a DNS name: labels of 1-63 letters, digits and hyphens, not starting or ending with a hyphen", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("host %q is not a DNS name: labels of 1-63 letters, digits and hyphens, not starting or ending with a hyphen", h)
			}
		}
	}
	if isNumber(strings.ReplaceAll(h, ".", "")) {
		return fmt.Errorf("host %q is an IP address: ACME certificates here are for DNS names", h)
	}
	return nil
}

func setCA(e *Endpoint, v string) error {
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		return fmt.Errorf("ca %q is not an http(s) URL: give the CA's ACME directory, as in ca=%s", v, escape(LetsEncryptStagingURL))
	}
	e.CA = v
	return nil
}

func setEmail(e *Endpoint, v string) error {
	if v != "" && (!strings.Contains(v, "@") || strings.ContainsAny(v, " ,<>")) {
		return fmt.Errorf("email %q is not an e-mail address", v)
	}
	e.Email = v
	return nil
}

// buildACME parses le:DIR:INNER..., such as
// le:/var/lib/gotwistd/certs:tcp:443:hosts=example.com. Its keywords
// (directory, hosts, ca, email) go to the outer endpoint, everything after
// the directory to the inner one.
func buildACME(typ string, fields []field) (*Endpoint, error) {
	example := typ + ":/var/lib/gotwistd/certs:tcp:443:hosts=example.com"
	var outerFields, innerFields []field
	innerAt := -1 // index in innerFields of the inner type
	dirGiven := false
	for _, f := range fields {
		if p, ok := acmeSpec.lookup(f.key); ok && f.isKV && p.name == "directory" {
			dirGiven = true
		}
	}
	dirKeyword := dirGiven
	for _, f := range fields {
		if f.isKV {
			if _, ok := acmeSpec.lookup(f.key); ok {
				outerFields = append(outerFields, f)
				continue
			}
			innerFields = append(innerFields, f)
			continue
		}
		if !dirKeyword && !dirGiven {
			// The first positional field is the directory.
			dirGiven = true
			outerFields = append(outerFields, f)
			continue
		}
		if innerAt < 0 {
			innerAt = len(innerFields)
		}
		innerFields = append(innerFields, f)
	}
	if !dirGiven {
		return nil, fmt.Errorf("no certificate directory: give one, as in %s", example)
	}
	if innerAt < 0 {
		return nil, fmt.Errorf("no endpoint after the certificate directory: give one, as in %s", example)
	}
	word := strings.ToLower(innerFields[innerAt].value)
	ok := false
	for _, w := range acmeInner {
		ok = ok || w == word
	}
	if !ok {
		if _, known := specs[word]; known {
			return nil, fmt.Errorf("%s cannot wrap a %s endpoint: it wraps %s", typ, word, strings.Join(acmeInner, ", "))
		}
		return nil, fmt.Errorf("%q after the certificate directory is not an endpoint type: give one of %s, as in %s", innerFields[innerAt].value, strings.Join(acmeInner, ", "), example)
	}
	inner, err := build(word, append(innerFields[:innerAt:innerAt], innerFields[innerAt+1:]...))
	if err != nil {
		return nil, err
	}
	e := &Endpoint{Type: typ, Inner: inner}
	if err := apply(e, typ, acmeSpec, outerFields); err != nil {
		return nil, err
	}
	if len(e.Hosts) == 0 {
		return nil, fmt.Errorf("no hosts=: give the names to get certificates for, separated by commas, as in %s,www.example.com", example)
	}
	return e, nil
}

// acmeString is the canonical string of an le or lets endpoint.
func (e *Endpoint) acmeString(b *strings.Builder) {
	b.WriteString(":" + escape(e.CertDir))
	if e.Inner != nil {
		b.WriteString(":" + e.Inner.String())
	}
	b.WriteString(":hosts=" + escape(strings.Join(e.Hosts, ",")))
	if e.CA != "" {
		b.WriteString(":ca=" + escape(e.CA))
	}
	if e.Email != "" {
		b.WriteString(":email=" + escape(e.Email))
	}
}

// DefaultCA is the ACME directory an le or lets endpoint uses when CA is
// empty: LetsEncryptURL for le, LetsEncryptStagingURL for lets.
func (e *Endpoint) DefaultCA() string {
	if e.Type == TypeLETS {
		return LetsEncryptStagingURL
	}
	return LetsEncryptURL
}

// loadACME makes the certificate manager of an le or lets endpoint and the
// TLS configuration serving its certificates; ALPN adds acme-tls/1 for the
// tls-alpn-01 challenge.
func (l *Listener) loadACME(e *Endpoint) error {
	ca := e.CA
	if ca == "" {
		ca = e.DefaultCA()
	}
	m, err := acme.New(acme.Config{Dir: e.CertDir, Hosts: e.Hosts, CA: ca, Email: e.Email})
	if err != nil {
		return err
	}
	l.ACME = m
	l.TLS = tlsConfig(m.GetCertificate, false)
	l.TLS.NextProtos = append(l.TLS.NextProtos, acme.ALPNProto)
	return nil
}
