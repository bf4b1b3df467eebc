package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/acme"
	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/internal/getopt"
)

func TestParseArgsACME(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(c Config) bool
	}{
		{"defaults", nil, func(c Config) bool { return c.ACMECA == "" && c.ACMEEmail == "" && !c.NoHTTPSRedirect && c.HSTS == 0 }},
		{"acme-ca", []string{"--acme-ca", "https://127.0.0.1:14000/dir"}, func(c Config) bool { return c.ACMECA == "https://127.0.0.1:14000/dir" }},
		{"acme-email", []string{"--acme-email=ops@example.com"}, func(c Config) bool { return c.ACMEEmail == "ops@example.com" }},
		{"no-https-redirect", []string{"--no-https-redirect"}, func(c Config) bool { return c.NoHTTPSRedirect }},
		{"hsts duration", []string{"--hsts", "8760h"}, func(c Config) bool { return c.HSTS == 8760*time.Hour }},
		{"hsts seconds", []string{"--hsts", "300"}, func(c Config) bool { return c.HSTS == 300*time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseArgs(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("ParseArgs(%q) = %+v", tt.args, c)
			}
		})
	}
}

func TestParseArgsACMEErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ca not a URL", []string{"--acme-ca", "letsencrypt"}, `--acme-ca "letsencrypt": give the URL of the CA's ACME directory, such as https://acme-staging-v02.api.letsencrypt.org/directory`},
		{"email", []string{"--acme-email", "ops"}, `--acme-email "ops": give an e-mail address, such as --acme-email ops@example.com`},
		{"hsts", []string{"--hsts", "a year"}, `--hsts "a year": give a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseArgs(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) || getopt.Hint(err) == "" {
				t.Errorf("ParseArgs(%q) error %v, want a usage error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestFillACME: --acme-ca and --acme-email fill le: endpoints that name
// none; an endpoint's own ca= and email= win.
func TestFillACME(t *testing.T) {
	parse := func(s string) *endpoint.Endpoint {
		e, err := endpoint.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	eps := []*endpoint.Endpoint{
		parse("le:/d:tcp:443:hosts=a.example"),
		parse(`lets:/d:tcp:444:hosts=a.example:ca=https\://own/dir:email=own@a.example`),
		parse("tcp:80"),
	}
	fillACME(eps, Config{ACMECA: "https://flag/dir", ACMEEmail: "flag@a.example"})
	if eps[0].CA != "https://flag/dir" || eps[0].Email != "flag@a.example" {
		t.Errorf("le: without ca=/email=: %q %q", eps[0].CA, eps[0].Email)
	}
	if eps[1].CA != "https://own/dir" || eps[1].Email != "own@a.example" {
		t.Errorf("lets: with its own ca=/email=: %q %q", eps[1].CA, eps[1].Email)
	}
	if eps[2].CA != "" {
		t.Errorf("tcp endpoint got a CA")
	}
	if got := parse("lets:/d:tcp:1:hosts=a.example").DefaultCA(); got != endpoint.LetsEncryptStagingURL {
		t.Errorf("lets: default CA %s", got)
	}
	if got := parse("le:/d:tcp:1:hosts=a.example").DefaultCA(); got != endpoint.LetsEncryptURL {
		t.Errorf("le: default CA %s", got)
	}
}

func TestPlainACME(t *testing.T) {
	m, err := acme.New(acme.Config{Dir: t.TempDir(), Hosts: []string{"example.com", "www.example.com"}, CA: "https://127.0.0.1:1/dir"})
	if err != nil {
		t.Fatal(err)
	}
	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("the site")) })
	tests := []struct {
		name     string
		a        acmeSite
		method   string
		host     string
		target   string
		code     int
		location string
	}{
		{"redirect, host kept", acmeSite{redirect: true}, "GET", "www.example.com", "/a?b=c", 301, "https://www.example.com/a?b=c"},
		{"redirect, port of the le: listener", acmeSite{redirect: true, port: "8443"}, "GET", "example.com:8080", "/", 301, "https://example.com:8443/"},
		{"redirect, unknown host goes to the first", acmeSite{redirect: true}, "GET", "evil.example", "/x", 301, "https://example.com/x"},
		{"redirect, host case", acmeSite{redirect: true}, "HEAD", "WWW.Example.COM", "/", 301, "https://www.example.com/"},
		{"redirect POST keeps the method", acmeSite{redirect: true}, "POST", "example.com", "/form", 308, "https://example.com/form"},
		{"unknown challenge token", acmeSite{redirect: true}, "GET", "example.com", "/.well-known/acme-challenge/x", 404, ""},
		{"no redirect", acmeSite{}, "GET", "example.com", "/", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			a.managers = []*acme.Manager{m}
			h := &plainACME{a: &a, next: site}
			w := httptest.NewRecorder()
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.Host = tt.host
			h.ServeHTTP(w, r)
			if w.Code != tt.code || w.Header().Get("Location") != tt.location {
				t.Errorf("%s %s (Host %s): %d Location %q, want %d %q", tt.method, tt.target, tt.host, w.Code, w.Header().Get("Location"), tt.code, tt.location)
			}
			if tt.code == 200 && w.Body.String() != "the site" {
				t.Errorf("body %q", w.Body.String())
			}
		})
	}
}

func TestHSTSHeader(t *testing.T) {
	if h := hstsHeader(8760 * time.Hour); h != [2]string{"Strict-Transport-Security", "max-age=31536000"} {
		t.Errorf("hstsHeader = %q", h)
	}
}
