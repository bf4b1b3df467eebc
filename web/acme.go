package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/acme"
	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/systemd"
)

// acmeSite is what the server keeps for its le: and lets: endpoints.
type acmeSite struct {
	managers []*acme.Manager
	started  chan error // one result per manager: its first certificate
	port     string     // the first le: listener's port, for redirects; "" when 443 or unknown
	redirect bool       // plain listeners redirect to HTTPS
}

// isACMEType reports whether an endpoint gets its certificate by ACME.
func isACMEType(typ string) bool { return typ == endpoint.TypeLE || typ == endpoint.TypeLETS }

// fillACME gives le: endpoints the CA and contact of --acme-ca and
// --acme-email when their strings say none.
func fillACME(eps []*endpoint.Endpoint, cfg Config) {
	for _, ep := range eps {
		if !isACMEType(ep.Type) {
			continue
		}
		if ep.CA == "" {
			ep.CA = cfg.ACMECA
		}
		if ep.Email == "" {
			ep.Email = cfg.ACMEEmail
		}
	}
}

// hstsHeader is the Strict-Transport-Security header of --hsts.
func hstsHeader(d time.Duration) [2]string {
	return [2]string{"Strict-Transport-Security", "max-age=" + strconv.FormatInt(int64(d/time.Second), 10)}
}

// setupACME collects the certificate managers of the bound listeners and
// tells them whether a plain HTTP listener answers http-01. Called by
// Listen with s.mu held.
func (s *Server) setupACME() {
	a := &acmeSite{redirect: !s.cfg.NoHTTPSRedirect}
	plain := false
	seen := map[string]*acme.Manager{} // certificate file and names -> manager
	for _, l := range s.listeners {
		if l.ACME != nil {
			// Two le: endpoints for the same certificate (say tcp and
			// tcp6) share one manager: one order, one renewal.
			key := l.ACME.CertFile() + " " + strings.Join(l.ACME.Hosts(), ",")
			if m, ok := seen[key]; ok {
				l.ACME = m
				l.TLS.GetCertificate = m.GetCertificate
				continue
			}
			seen[key] = l.ACME
			if len(a.managers) == 0 {
				if p := l.Description(); p != "443" {
					if _, err := strconv.Atoi(p); err == nil {
						a.port = p
					}
				}
			}
			l.ACME.SetLogger(s.log)
			a.managers = append(a.managers, l.ACME)
		} else if l.TLS == nil && l.Stream != nil {
			plain = true
		}
	}
	if len(a.managers) == 0 {
		return
	}
	if plain {
		for _, m := range a.managers {
			m.EnableHTTP01()
		}
	}
	a.started = make(chan error, len(a.managers))
	s.acme = a
}

// plainACME is the handler of plain HTTP listeners next to le: ones: it
// answers http-01 challenges, and redirects everything else to HTTPS
// unless --no-https-redirect.
type plainACME struct {
	a    *acmeSite
	next http.Handler
}

func (h *plainACME) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, m := range h.a.managers {
		if m.ServeChallenge(w, r) {
			return
		}
	}
	if !h.a.redirect {
		h.next.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, acme.ChallengePath) {
		http.NotFound(w, r)
		return
	}
	// Redirect to a name the certificate covers: the one asked for, or
	// else the first host.
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	known := false
	for _, m := range h.a.managers {
		for _, n := range m.Hosts() {
			known = known || n == host
		}
	}
	if !known {
		host = h.a.managers[0].Hosts()[0]
	}
	if h.a.port != "" {
		host = net.JoinHostPort(host, h.a.port)
	}
	target := "https://" + host + r.URL.RequestURI()
	w.Header().Set("Location", target)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	code := http.StatusMovedPermanently
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		code = http.StatusPermanentRedirect
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, "<html><body>Moved to <a href=\"%s\">HTTPS</a>.</body></html>\n", strings.ReplaceAll(target, `"`, "%22"))
	}
}

// startACME gets the first certificate of every le: listener that has no
// valid one cached, then keeps each renewed, until Shutdown. WaitStarted
// hears how the first certificates went.
func (s *Server) startACME() {
	a := s.acme
	if a == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-s.stopping; cancel() }()
	for _, m := range a.managers {
		go func() {
			if m.HasValidCertificate() {
				s.log.Info(fmt.Sprintf("Serving the cached certificate of %s (valid until %s; renewal at %s).",
					strings.Join(m.Hosts(), ", "), m.Certificate().Leaf.NotAfter.UTC().Format(time.RFC3339), m.RenewAt().UTC().Format(time.RFC3339)))
			} else {
				s.log.Info(fmt.Sprintf("Getting a certificate for %s from %s.", strings.Join(m.Hosts(), ", "), m.CA()))
				if err := m.Obtain(ctx); err != nil {
					a.started <- err
					return
				}
				c := m.Certificate()
				s.log.Info(fmt.Sprintf("Got the certificate of %s: serial %x, valid until %s, stored in %s.",
					strings.Join(m.Hosts(), ", "), c.Leaf.SerialNumber, c.Leaf.NotAfter.UTC().Format(time.RFC3339), m.CertFile()))
			}
			a.started <- nil
			m.Renew(ctx, s.log, s.notifyStatus)
		}()
	}
}

// notifyStatus sends the service's status to systemd (STATUS=), after a
// renewal succeeded or failed.
func (s *Server) notifyStatus() {
	if _, err := systemd.Notify("STATUS=" + s.Status()); err != nil {
		s.log.Warn(fmt.Sprintf("sd_notify STATUS=: %v", err))
	}
}

// WaitStarted returns once every le: listener has its first certificate,
// or with the error of one that could not get it. The runner calls it
// after Serve has started and before it reports READY=1; without le:
// listeners it returns at once.
func (s *Server) WaitStarted(ctx context.Context) error {
	s.mu.Lock()
	a := s.acme
	s.mu.Unlock()
	if a == nil {
		return nil
	}
	for range a.managers {
		select {
		case err := <-a.started:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// acmeStatus is what Status adds about certificates: failed renewals.
func (s *Server) acmeStatus() string {
	if s.acme == nil {
		return ""
	}
	var probs []string
	for _, m := range s.acme.managers {
		if p := m.Problem(); p != "" {
			probs = append(probs, p)
		}
	}
	if len(probs) == 0 {
		return ""
	}
	return "; " + strings.Join(probs, "; ")
}
