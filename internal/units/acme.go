package units

import (
	"path/filepath"
	"strings"

	"github.com/gotwistd/gotwistd/endpoint"
)

// stateRoot is where systemd's StateDirectory= directories live.
const stateRoot = "/var/lib/"

// planACME plans an le: or lets: endpoint: systemd binds its tcp or tcp6
// socket, the service wraps the inherited socket, and its certificate
// directory becomes a StateDirectory= (so a DynamicUser= service owns it
// and it survives restarts).
func planACME(s string, i int, e *endpoint.Endpoint) (listener, error) {
	in := e.Inner
	if in.Type != endpoint.TypeTCP && in.Type != endpoint.TypeTCP6 {
		return listener{}, optErr("--listen %q: the units bind %s's socket only for tcp or tcp6 inside, as in %s:%s%s/acme:tcp:443:hosts=www.example.com", s, e.Type, e.Type, stateRoot, "NAME")
	}
	dir := filepath.Clean(e.CertDir)
	rel, ok := strings.CutPrefix(dir, stateRoot)
	if !filepath.IsAbs(e.CertDir) || !ok || rel == "" {
		return listener{}, optErr("--listen %q: the certificate directory must be under %s (a StateDirectory= the service owns), as in %s:%sNAME/acme:tcp:443:hosts=...", s, stateRoot, e.Type, stateRoot)
	}
	// Plan the inner endpoint as if it were given alone, then wrap its
	// systemd endpoint.
	inner, err := plan(in.String(), i)
	if err != nil {
		return listener{}, err
	}
	sys, err := endpoint.Parse(inner.service)
	if err != nil {
		return listener{}, optErr("--listen %q: %v", s, err)
	}
	svc := *e
	svc.CertDir = dir
	svc.Inner = sys
	inner.own = s
	inner.service = svc.String()
	inner.state = rel
	inner.network = true
	return inner, nil
}
