package static

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	page404 = "<!DOCTYPE html><title>Not here</title><p>Try the <a href=/>home page</a>.</p>\n"
	page405 = "method not allowed here\n"
	page416 = "<p>that range is not in the file</p>"
	page500 = "<p>we broke it</p>"
)

func errorPageTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"errors/404.html": page404, "errors/405.txt": page405, "errors/416.html": page416, "errors/500.html": page500,
		"a.txt": "A", "index.html": "<p>app</p>", "app.js": "js", "sub/": "", "users/": "", ".secret": "S",
	})
	return root
}

// TestErrorPages answers the statuses the handler makes with the
// configured files: the right status, the page's own type, no redirect,
// and none of the validators or ranges of the file asked for.
func TestErrorPages(t *testing.T) {
	root := errorPageTree(t)
	cfg := Config{Root: root, ErrorPages: map[int]string{
		404: "/errors/404.html", 405: "/errors/405.txt", 416: "/errors/416.html", 500: "/errors/500.html",
	}}
	for _, clock := range []string{"disk", "memory"} {
		t.Run(clock, func(t *testing.T) {
			var s *srv
			if clock == "memory" {
				s = newTestServerNow(t, cfg, laterClock)
				s.do(t, "GET", "/errors/404.html", nil) // cached now
			} else {
				s = newTestServer(t, cfg)
			}
			html404 := map[string]string{"Content-Type": "text/html", "Location": "", "Etag": "", "Last-Modified": "", "Accept-Ranges": ""}
			runCases(t, s, []serveCase{
				{name: "missing", path: "/nope.txt", code: 404, body: str(page404), want: html404},
				{name: "missing HEAD", method: "HEAD", path: "/nope.txt", code: 404, body: str(""), want: html404},
				{name: "dotfile", path: "/.secret", code: 404, body: str(page404)},
				{name: "file with a slash", path: "/a.txt/", code: 404, body: str(page404)},
				{name: "traversal", path: "/sub/%2e%2e/a.txt", code: 404, body: str(page404)},
				{name: "405 as text", method: "DELETE", path: "/a.txt", code: 405, body: str(page405),
					want: map[string]string{"Content-Type": "text/plain", "Allow": "HEAD, GET"}},
				{name: "416", path: "/a.txt", hdr: map[string]string{"Range": "bytes=10-20"}, code: 416, body: str(page416),
					want: map[string]string{"Content-Type": "text/html", "Content-Range": "bytes */1", "Etag": ""}},
				{name: "412 keeps twistd's page", path: "/a.txt", hdr: map[string]string{"If-Match": `"x"`}, code: 412, body: str(preconditionPage)},
				{name: "the page itself is a file", path: "/errors/404.html", code: 200, body: str(page404)},
			})
		})
	}
	s := newTestServer(t, cfg)
	// For the answers the caller makes itself.
	w := httptest.NewRecorder()
	if !s.h.WriteErrorPage(w, httptest.NewRequest("GET", "/", nil), 500) || w.Code != 500 || w.Body.String() != page500 {
		t.Errorf("WriteErrorPage(500): %d %q", w.Code, w.Body.String())
	}
	if s.h.WriteErrorPage(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), 414) {
		t.Error("WriteErrorPage(414) with no page for 414")
	}
	if ct, body, ok := s.h.ErrorPageBody(404); !ok || ct != "text/html" || string(body) != page404 {
		t.Errorf("ErrorPageBody(404) = %q, %q, %v", ct, body, ok)
	}
	if _, _, ok := s.h.ErrorPageBody(431); ok {
		t.Error("ErrorPageBody(431) with no page for 431")
	}
}

// TestErrorPageGone: a page removed after the start is logged once and
// twistd's page answers.
func TestErrorPageGone(t *testing.T) {
	root := errorPageTree(t)
	var logBuf bytes.Buffer
	h, err := New(Config{Root: root, ErrorPages: map[int]string{404: "/errors/404.html"}, ErrorLog: newTextLogger(&logBuf)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "errors", "404.html")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/nope", nil))
		if w.Code != 404 || w.Body.String() != notFoundPage {
			t.Fatalf("%d %q", w.Code, w.Body.String())
		}
	}
	if n := strings.Count(logBuf.String(), "cannot serve the configured page"); n != 1 {
		t.Errorf("logged %d times:\n%s", n, logBuf.String())
	}
}

func TestErrorPageConfig(t *testing.T) {
	root := errorPageTree(t)
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"missing file", Config{ErrorPages: map[int]string{404: "/nope.html"}}, `error page for 404 "/nope.html": no such file under`},
		{"directory", Config{ErrorPages: map[int]string{404: "/sub"}}, "not a regular file"},
		{"directory with slash", Config{ErrorPages: map[int]string{404: "/sub/"}}, "not a path the server serves"},
		{"dotfile", Config{ErrorPages: map[int]string{404: "/.secret"}}, "not a path the server serves"},
		{"dot-dot", Config{ErrorPages: map[int]string{404: "/sub/../a.txt"}}, "not a path the server serves"},
		{"relative", Config{ErrorPages: map[int]string{404: "errors/404.html"}}, "give the URL path"},
		{"query", Config{ErrorPages: map[int]string{404: "/a.txt?x"}}, "no query"},
		{"not an error", Config{ErrorPages: map[int]string{200: "/a.txt"}}, "only 4xx and 5xx"},
		{"spa missing", Config{SPAFallback: "/app.html"}, `single-page app fallback "/app.html": no such file`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Root = root
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("New: %v; want one line with %q", err, tc.err)
			}
		})
	}
}

// TestSPAFallback: a missing path whose last segment has no extension is
// answered with the app's file, as the file itself (200, validators,
// ranges, 304); anything else missing stays 404.
func TestSPAFallback(t *testing.T) {
	root := errorPageTree(t)
	s := newTestServerNow(t, Config{Root: root, SPAFallback: "/index.html", ErrorPages: map[int]string{404: "/errors/404.html"},
		CacheControl: []CacheRule{{"*.html", "no-cache"}}}, laterClock)
	resp, _ := s.do(t, "GET", "/index.html", nil)
	etag := resp.Header.Get("Etag")
	app := map[string]string{"Content-Type": "text/html", "Etag": etag, "Cache-Control": "no-cache", "Location": ""}
	runCases(t, s, []serveCase{
		{name: "app route", path: "/users/42", code: 200, body: str("<p>app</p>"), want: app},
		{name: "nested route", path: "/a/b/c", code: 200, body: str("<p>app</p>"), want: app},
		{name: "route with a slash", path: "/settings/", code: 200, body: str("<p>app</p>")},
		{name: "route with a query", path: "/users/42?tab=x", code: 200, body: str("<p>app</p>")},
		{name: "HEAD", method: "HEAD", path: "/users/42", code: 200, body: str("")},
		{name: "304", path: "/users/42", hdr: map[string]string{"If-None-Match": etag}, code: 304},
		{name: "range", path: "/users/42", hdr: map[string]string{"Range": "bytes=0-2"}, code: 206, body: str("<p>")},
		{name: "missing asset", path: "/app.css", code: 404, body: str(page404)},
		{name: "missing asset in a route", path: "/users/logo.png", code: 404, body: str(page404)},
		{name: "existing file", path: "/app.js", code: 200, body: str("js")},
		{name: "existing directory lists", path: "/users/", code: 200, check: func(t *testing.T, _ *http.Response, body string) {
			if !strings.Contains(body, "Index of") {
				t.Error("not the listing")
			}
		}},
		{name: "dotfile stays 404", path: "/.secret", code: 404},
		{name: "dotfile route stays 404", path: "/.git/config", code: 404},
		{name: "file with a slash stays 404", path: "/a.txt/", code: 404},
		{name: "POST is 405", method: "POST", path: "/users/42", code: 405},
	})
}
