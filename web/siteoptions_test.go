package web

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/web/static"
)

// siteTree writes a served directory. Its files are cached in memory (and
// answered by the engines' fast paths) once out of the static handler's
// racy window, 2 s after their last change (ctime, which a test cannot set
// back): see waitCacheable.
func siteTree(t *testing.T) string {
	t.Helper()
	www := filepath.Join(t.TempDir(), "www")
	files := map[string]string{
		"style.css": "body{}", "page.html": "<p>page</p>", "a.txt": "A", "404.html": "<p>custom 404</p>",
		"414.html": "<p>custom 414</p>", "index.html": "<p>app</p>", "sub/x.txt": "x",
	}
	old := time.Now().Add(-time.Hour)
	for name, body := range files {
		p := filepath.Join(www, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	return www
}

// waitCacheable waits until files written now are out of the static
// handler's racy window: the time itself is the condition.
func waitCacheable() { time.Sleep(2100 * time.Millisecond) }

// TestSiteOptionsEngines serves the same site through every engine
// (gotwistd's and net/http's HTTP/1.1, gotwistd's and net/http's HTTP/2
// over TLS) and checks that cache rules, CORS headers and error pages
// are the same on each, for the first request of a file (the handler) and
// the next ones (the fast paths, where the engine has one).
func TestSiteOptionsEngines(t *testing.T) {
	const app = "https://app.example"
	dir := t.TempDir()
	roots := writeCert(t, dir, 1)
	www := siteTree(t)
	waitCacheable()
	site := []string{"--path", www, "--cache-control", "*.css=max-age=31536000,immutable", "--cache-control", "*.html=no-cache",
		"--add-header", "X-Site: 1", "--error-page", "404=/404.html", "--error-page", "414=/414.html", "--spa-fallback", "/index.html"}
	engines := []struct {
		name  string
		args  []string
		tls   bool
		proto string
	}{
		{"h1 gotwistd", []string{"--listen", "tcp:0:interface=127.0.0.1"}, false, "HTTP/1.1"},
		{"h1 net/http", []string{"--listen", "tcp:0:interface=127.0.0.1", "--http1-engine=net/http"}, false, "HTTP/1.1"},
		{"h2 gotwistd", []string{"--listen", sslEndpoint("ssl", dir)}, true, "HTTP/2.0"},
		{"h2 net/http", []string{"--listen", sslEndpoint("ssl", dir), "--http2-engine=net/http"}, true, "HTTP/2.0"},
	}
	for _, cors := range []string{"*", app} {
		for _, e := range engines {
			t.Run(fmt.Sprintf("cors %s, %s", cors, e.name), func(t *testing.T) {
				ts := startServer(t, append(append(append([]string{}, e.args...), site...), "--cors", cors))
				c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots},
					ForceAttemptHTTP2: true, DisableCompression: true}}
				base := "http://" + ts.addr(0)
				if e.tls {
					base = "https://" + ts.addr(0)
				}
				check := func(name, path string, hdr http.Header, code int, body string, want map[string]string) {
					t.Helper()
					resp, got := get(t, c, "GET", base+path, hdr)
					if resp.Proto != e.proto {
						t.Fatalf("%s: %s, want %s", name, resp.Proto, e.proto)
					}
					if resp.StatusCode != code || got != body {
						t.Errorf("%s: %d %q, want %d %q", name, resp.StatusCode, got, code, body)
					}
					for k, v := range want {
						if g := strings.Join(resp.Header.Values(k), ", "); g != v {
							t.Errorf("%s: %s %q, want %q", name, k, g, v)
						}
					}
				}
				acao, vary := "*", ""
				if cors != "*" {
					acao, vary = "", "Origin"
				}
				origin := http.Header{"Origin": {app}}
				for i := 0; i < 3; i++ { // the first fills the cache, the next are the fast paths'
					round := fmt.Sprintf("round %d", i)
					check(round+" css", "/style.css", nil, 200, "body{}", map[string]string{
						"Cache-Control": "max-age=31536000,immutable", "X-Site": "1", "Access-Control-Allow-Origin": acao, "Vary": vary})
					check(round+" html", "/page.html", nil, 200, "<p>page</p>", map[string]string{"Cache-Control": "no-cache"})
					check(round+" no rule", "/a.txt", nil, 200, "A", map[string]string{"Cache-Control": ""})
					// With a list, a request with an Origin must be answered
					// with it named, fast path or not.
					check(round+" css from the app", "/style.css", origin, 200, "body{}", map[string]string{
						"Access-Control-Allow-Origin": map[string]string{"*": "*", app: app}[cors], "Vary": vary})
					check(round+" 404 page", "/nope.txt", nil, 404, "<p>custom 404</p>", map[string]string{
						"Content-Type": "text/html", "Cache-Control": "", "Access-Control-Allow-Origin": acao})
					check(round+" app route", "/users/42", nil, 200, "<p>app</p>", map[string]string{"Cache-Control": "no-cache"})
				}
				check("414 page", "/"+strings.Repeat("a", maxRequestTarget+10), nil, 414, "<p>custom 414</p>",
					map[string]string{"Content-Type": "text/html"})
				if ts.static() == nil {
					t.Fatal("no static handler")
				}
				if _, _, ok := ts.static().Cached("/style.css", false); !ok {
					t.Error("/style.css is not in the fast path's cache: the rounds above did not test it")
				}
				// The preflight.
				req, _ := http.NewRequest("OPTIONS", base+"/style.css", nil)
				req.Header.Set("Origin", app)
				req.Header.Set("Access-Control-Request-Method", "GET")
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Methods") != "GET, HEAD" ||
					resp.Header.Get("Access-Control-Allow-Origin") != map[string]string{"*": "*", app: app}[cors] {
					t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
				}
			})
		}
	}
}

// static returns the server's static handler.
func (ts *testServer) static() *static.Handler {
	h, _ := ts.handler.(*static.Handler)
	return h
}

// TestEngineRefusalPage: gotwistd's HTTP/1.1 engine's own refusals (here
// 431, headers too large, and 400, a malformed request) use the
// configured pages too.
func TestEngineRefusalPage(t *testing.T) {
	www := siteTree(t)
	if err := os.WriteFile(filepath.Join(www, "400.html"), []byte("<p>custom 400</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", www, "--error-page", "400=/400.html"})
	c, err := net.Dial("tcp", ts.addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	if resp.StatusCode != 400 || b.String() != "<p>custom 400</p>" || resp.Header.Get("Content-Type") != "text/html" {
		t.Errorf("%d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
	}
}

func TestParseSiteOptions(t *testing.T) {
	cwd, _ := os.Getwd()
	ok := []struct {
		name string
		args []string
		want func(*Config)
	}{
		{"cache rules in order", []string{"--path", ".", "--cache-control", "*.css=max-age=60", "--cache-control=/a/**="}, func(c *Config) {
			c.CacheControl = []static.CacheRule{{Glob: "*.css", Value: "max-age=60"}, {Glob: "/a/**", Value: ""}}
		}},
		{"cors list", []string{"--path", ".", "--cors", "https://a.example,https://b.example", "--cors", "https://a.example"}, func(c *Config) {
			c.CORS = []string{"https://a.example", "https://b.example"}
		}},
		{"cors star", []string{"--path", ".", "--cors=*"}, func(c *Config) { c.CORS = []string{"*"} }},
		{"error pages", []string{"--path", ".", "--error-page", "404=/404.html", "--error-page=500=/oops.html"}, func(c *Config) {
			c.ErrorPages = map[int]string{404: "/404.html", 500: "/oops.html"}
		}},
		{"spa and listing", []string{"--path", ".", "--spa-fallback", "/index.html", "--listing=off"}, func(c *Config) {
			c.SPAFallback, c.Listing = "/index.html", "off"
		}},
		{"listing twistd, prefix", []string{"--path", ".", "--listi", "twistd"}, func(c *Config) { c.Listing = "twistd" }},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseArgs(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultConfig()
			want.Listen, want.Root = []string{DefaultListen}, cwd
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("\n got %+v\nwant %+v", got, want)
			}
		})
	}
	bad := []struct {
		name string
		args []string
		err  string
	}{
		{"rule without =", []string{"--path", ".", "--cache-control", "*.css"}, `--cache-control: bad rule: "*.css" has no "="`},
		{"rule with a newline", []string{"--path", ".", "--cache-control", "*=a\nb"}, "control character"},
		{"cors path", []string{"--path", ".", "--cors", "https://a.example/app"}, "no path"},
		{"cors star and origin", []string{"--path", ".", "--cors", "*", "--cors", "https://a.example"}, "give it alone"},
		{"error page not a status", []string{"--path", ".", "--error-page", "x=/a.html"}, "write STATUS=PATH"},
		{"error page 200", []string{"--path", ".", "--error-page", "200=/a.html"}, "not an error status"},
		{"error page relative", []string{"--path", ".", "--error-page", "404=404.html"}, "404=/404.html"},
		{"error page twice", []string{"--path", ".", "--error-page", "404=/a.html", "--error-page", "404=/b.html"}, "one per status"},
		{"spa relative", []string{"--path", ".", "--spa-fallback", "index.html"}, "URL path"},
		{"listing unknown", []string{"--path", ".", "--listing", "fancy"}, "give gotwistd, twistd or off"},
		{"without --path", []string{"--cors", "*"}, "--cors needs --path"},
		{"listing without --path", []string{"--listing", "off"}, "--listing needs --path"},
		{"li is ambiguous now", []string{"--li", "tcp:1"}, "--li"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseArgs(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParseArgs(%q): %v; want one line with %q", tc.args, err, tc.err)
			}
		})
	}
}

// TestPanicErrorPage: the 500 the site answers after a handler panicked
// is the configured page.
func TestPanicErrorPage(t *testing.T) {
	www := siteTree(t)
	if err := os.WriteFile(filepath.Join(www, "500.html"), []byte("<p>custom 500</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh, err := static.New(static.Config{Root: www, ErrorPages: map[int]string{500: "/500.html"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &logRecorder{}
	s := &site{
		h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Etag", `"x"`)
			panic("secret internal detail")
		}),
		errLog: slog.New(recHandler{rec: rec, system: "error"}),
		pages:  sh,
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != 500 || w.Body.String() != "<p>custom 500</p>" || w.Header().Get("Content-Type") != "text/html" || w.Header().Get("Etag") != "" {
		t.Errorf("%d %v %q", w.Code, w.Header(), w.Body.String())
	}
	if rec.find("secret internal detail") == "" {
		t.Error("the panic is not logged")
	}
}
