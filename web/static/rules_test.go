package static

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestParseCacheRule(t *testing.T) {
	tests := []struct {
		name, in string
		want     CacheRule
		err      string // in the error; "" for none
	}{
		{name: "css immutable", in: "*.css=max-age=31536000,immutable", want: CacheRule{"*.css", "max-age=31536000,immutable"}},
		{name: "html no-cache", in: "*.html=no-cache", want: CacheRule{"*.html", "no-cache"}},
		{name: "path glob", in: "/assets/**=max-age=60", want: CacheRule{"/assets/**", "max-age=60"}},
		{name: "empty value", in: "*.txt=", want: CacheRule{"*.txt", ""}},
		{name: "value trimmed", in: "*.js= public ", want: CacheRule{"*.js", "public"}},
		{name: "class", in: "[a-c]*.png=max-age=1", want: CacheRule{"[a-c]*.png", "max-age=1"}},
		{name: "no equals", in: "*.css", err: `has no "="`},
		{name: "empty glob", in: "=max-age=1", err: "glob is empty"},
		{name: "relative path", in: "assets/*=x", err: `must start with "/"`},
		{name: "bad class", in: "[a-=x", err: "malformed"},
		{name: "bad class in a segment", in: "/a/[/b=x", err: "malformed"},
		{name: "control in value", in: "*=a\x01b", err: "control character"},
		{name: "newline in value", in: "*=a\r\nSet-Cookie: x", err: "control character"},
		{name: "control in glob", in: "a\nb=x", err: "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCacheRule(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrBadRule) {
					t.Fatalf("ParseCacheRule(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseCacheRule(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzParseCacheRule checks that a rule that parses prints back to
// itself.
func FuzzParseCacheRule(f *testing.F) {
	for _, s := range []string{"*.css=max-age=31536000,immutable", "/a/**=no-cache", "*=", "[=x", "a=b=c", "/**/x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseCacheRule(s)
		if err != nil {
			return
		}
		back, err := ParseCacheRule(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseCacheRule(%q) = %+v, but its String %q parses to %+v, %v", s, r, r.String(), back, err)
		}
		r.match("a/b.css") // must not panic
	})
}

func TestCacheRuleMatch(t *testing.T) {
	tests := []struct {
		glob, rel string
		want      bool
	}{
		{"*.css", "style.css", true},
		{"*.css", "a/b/style.css", true},
		{"*.css", "style.css.map", false},
		{"*.css", "css", false},
		{"app.*.js", "static/app.3f2a.js", true},
		{"/assets/*", "assets/app.js", true},
		{"/assets/*", "assets/img/logo.png", false},
		{"/assets/*", "other/assets/app.js", false},
		{"/assets/**", "assets/img/logo.png", true},
		{"/assets/**", "assets", true},
		{"/**/*.png", "logo.png", true},
		{"/**/*.png", "a/b/logo.png", true},
		{"/**/*.png", "a/b/logo.jpg", false},
		{"/a/**/c", "a/c", true},
		{"/a/**/c", "a/b/b/c", true},
		{"/a/**/c", "a/b/b/d", false},
		{"/index.html", "index.html", true},
		{"/index.html", "sub/index.html", false},
	}
	for _, tc := range tests {
		if got := (CacheRule{Glob: tc.glob, Value: "x"}).match(tc.rel); got != tc.want {
			t.Errorf("%q matching %q: %v, want %v", tc.glob, tc.rel, got, tc.want)
		}
	}
}

// TestCacheControl serves files under rules (first match wins, an empty
// value removes --add-header's) through net/http, and checks that the
// fast path's pre-rendered header carries the same value.
func TestCacheControl(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"style.css": "body{}", "app.css": "a{}", "page.html": "<p>", "docs/index.html": "IDX",
		"assets/img/logo.png": "PNG", "assets/app.js": "js", "big.js": bigContent,
		"pre/x.css": "body{}", "pre/x.css.gz": "GZ", "plain.txt": "txt", "nocache.txt": "n", "sub/": "",
	})
	rules := []CacheRule{
		{"app.css", ""},
		{"*.css", "max-age=31536000, immutable"},
		{"*.html", "no-cache"},
		{"/assets/**", "max-age=600"},
		{"*.js", "max-age=60"},
		{"nocache.txt", ""},
	}
	cfg := Config{Root: root, CacheControl: rules, Headers: [][2]string{{"Cache-Control", "max-age=5"}}}
	s := newTestServerNow(t, cfg, laterClock)
	resp, _ := s.do(t, "GET", "/style.css", nil)
	etag := resp.Header.Get("Etag")
	runCases(t, s, []serveCase{
		{name: "first rule", path: "/style.css", code: 200, want: map[string]string{"Cache-Control": "max-age=31536000, immutable"}},
		{name: "empty rule removes the added header", path: "/app.css", code: 200, want: map[string]string{"Cache-Control": ""}},
		{name: "html", path: "/page.html", code: 200, want: map[string]string{"Cache-Control": "no-cache"}},
		{name: "index by its name", path: "/docs/", code: 200, want: map[string]string{"Cache-Control": "no-cache"}},
		{name: "path rule before name rule", path: "/assets/app.js", code: 200, want: map[string]string{"Cache-Control": "max-age=600"}},
		{name: "deep path", path: "/assets/img/logo.png", code: 200, want: map[string]string{"Cache-Control": "max-age=600"}},
		{name: "large file", path: "/big.js", code: 200, want: map[string]string{"Cache-Control": "max-age=60"}},
		{name: "no rule keeps --add-header", path: "/plain.txt", code: 200, want: map[string]string{"Cache-Control": "max-age=5"}},
		{name: "precompressed by the name it stands for", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "gzip"}, code: 200,
			body: str("GZ"), want: map[string]string{"Cache-Control": "max-age=31536000, immutable", "Content-Encoding": "gzip"}},
		{name: "304 too", path: "/style.css", hdr: map[string]string{"If-None-Match": etag}, code: 304,
			want: map[string]string{"Cache-Control": "max-age=31536000, immutable"}},
		{name: "206 too", path: "/style.css", hdr: map[string]string{"Range": "bytes=0-1"}, code: 206,
			want: map[string]string{"Cache-Control": "max-age=31536000, immutable"}},
		{name: "412 gets --add-header's", path: "/style.css", hdr: map[string]string{"If-Match": `"nope"`}, code: 412,
			want: map[string]string{"Cache-Control": "max-age=5"}},
		{name: "416 gets --add-header's", path: "/style.css", hdr: map[string]string{"Range": "bytes=100-200"}, code: 416,
			want: map[string]string{"Cache-Control": "max-age=5"}},
		{name: "404 gets --add-header's", path: "/missing.css", code: 404, want: map[string]string{"Cache-Control": "max-age=5"}},
		{name: "listing gets --add-header's", path: "/sub/", code: 200, want: map[string]string{"Cache-Control": "max-age=5"}},
	})
	// The fast path answers from the same entries.
	for path, want := range map[string]string{
		"/style.css": "Cache-Control: max-age=31536000, immutable\r\n", "/page.html": "Cache-Control: no-cache\r\n",
		"/plain.txt": "Cache-Control: max-age=5\r\n", "/app.css": "",
	} {
		s.do(t, "GET", path, nil)
		hdr, _, ok := s.h.Cached(path, false)
		if !ok {
			t.Fatalf("Cached(%q): not cached", path)
		}
		lines := string(hdr)
		if want == "" {
			if strings.Contains(lines, "Cache-Control") {
				t.Errorf("Cached(%q) has a Cache-Control:\n%s", path, lines)
			}
		} else if strings.Count(lines, "Cache-Control") != 1 || !strings.Contains(lines, want) {
			t.Errorf("Cached(%q) lacks %q (once):\n%s", path, want, lines)
		}
	}
}

func TestParseCORS(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "*", want: []string{"*"}},
		{in: "https://app.example.com", want: []string{"https://app.example.com"}},
		{in: "https://a.example, http://localhost:3000,https://a.example", want: []string{"https://a.example", "http://localhost:3000"}},
		{in: "", err: "empty origin"},
		{in: "https://a.example/", err: "no path"},
		{in: "https://a.example/app", err: "no path"},
		{in: "a.example", err: "scheme://host"},
		{in: "https://user@a.example", err: "scheme://host"},
		{in: "https://A.example", err: "lower case"},
		{in: "https://a.example?x", err: "no path"},
		{in: "*, https://a.example", err: "give it alone"},
		{in: "https://\u00e9t\u00e9.example", err: "xn--"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCORS(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseCORS(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ParseCORS(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzParseCORS checks that origins that parse print back to themselves.
func FuzzParseCORS(f *testing.F) {
	for _, s := range []string{"*", "https://a.example,http://b:8080", "https://a.example/", "x://y", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCORS(s)
		if err != nil {
			return
		}
		back, err := ParseCORS(strings.Join(got, ","))
		if err != nil || !slices.Equal(back, got) {
			t.Fatalf("ParseCORS(%q) = %q, which parses back to %q, %v", s, got, back, err)
		}
		if _, err := New(Config{Root: t.TempDir(), CORS: got}); err != nil {
			t.Fatalf("New refuses origins ParseCORS accepted (%q): %v", got, err)
		}
	})
}

func TestCORS(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.txt": "A", "d/": ""})
	const app = "https://app.example"
	any := newTestServerNow(t, Config{Root: root, CORS: []string{"*"}}, laterClock)
	runCases(t, any, []serveCase{
		{name: "any: GET", path: "/a.txt", code: 200, want: map[string]string{"Access-Control-Allow-Origin": "*", "Vary": ""}},
		{name: "any: GET with origin", path: "/a.txt", hdr: map[string]string{"Origin": app}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": "*"}},
		{name: "any: 404 too", path: "/nope", code: 404, want: map[string]string{"Access-Control-Allow-Origin": "*"}},
		{name: "any: preflight", method: "OPTIONS", path: "/a.txt", code: 204, body: str(""),
			hdr: map[string]string{"Origin": app, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range, if-none-match"},
			want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD",
				"Access-Control-Allow-Headers": "range, if-none-match", "Access-Control-Max-Age": "86400"}},
		{name: "any: preflight for POST", method: "OPTIONS", path: "/a.txt", code: 204,
			hdr:  map[string]string{"Origin": app, "Access-Control-Request-Method": "POST"},
			want: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{name: "any: plain OPTIONS", method: "OPTIONS", path: "/a.txt", code: 204, want: map[string]string{"Allow": "OPTIONS, HEAD, GET"}},
		{name: "any: POST", method: "POST", path: "/a.txt", code: 405, want: map[string]string{"Allow": "OPTIONS, HEAD, GET"}},
	})
	hdr, _, ok := any.h.Cached("/a.txt", false)
	if !ok || !bytes.Contains(hdr, []byte("Access-Control-Allow-Origin: *\r\n")) {
		t.Errorf("the fast path's header lacks Access-Control-Allow-Origin (ok %v):\n%s", ok, hdr)
	}
	if any.h.CORSByOrigin() {
		t.Error("CORSByOrigin with *")
	}

	list := newTestServerNow(t, Config{Root: root, CORS: []string{app, "http://localhost:3000"},
		Headers: [][2]string{{"Vary", "X-Mine"}}}, laterClock)
	runCases(t, list, []serveCase{
		{name: "list: no origin", path: "/a.txt", code: 200, want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "X-Mine, Origin"}},
		{name: "list: allowed", path: "/a.txt", hdr: map[string]string{"Origin": app}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": app, "Vary": "X-Mine, Origin"}},
		{name: "list: other", path: "/a.txt", hdr: map[string]string{"Origin": "https://evil.example"}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "list: HEAD", method: "HEAD", path: "/a.txt", hdr: map[string]string{"Origin": "http://localhost:3000"}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": "http://localhost:3000"}},
		{name: "list: listing", path: "/d/", hdr: map[string]string{"Origin": app}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": app, "Vary": "X-Mine, Origin, Accept"}},
		{name: "list: preflight allowed", method: "OPTIONS", path: "/a.txt", code: 204,
			hdr:  map[string]string{"Origin": app, "Access-Control-Request-Method": "HEAD"},
			want: map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Methods": "GET, HEAD", "Access-Control-Allow-Headers": ""}},
		{name: "list: preflight other", method: "OPTIONS", path: "/a.txt", code: 204,
			hdr:  map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
			want: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""}},
		{name: "list: preflight with bad headers", method: "OPTIONS", path: "/a.txt", code: 204,
			hdr:  map[string]string{"Origin": app, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "a b"},
			want: map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Headers": ""}},
	})
	hdr, _, ok = list.h.Cached("/a.txt", false)
	if !ok || !bytes.Contains(hdr, []byte("Vary: X-Mine\r\nVary: Origin\r\n")) || bytes.Contains(hdr, []byte("Access-Control")) {
		t.Errorf("the fast path's header (ok %v):\n%s", ok, hdr)
	}
	if !list.h.CORSByOrigin() {
		t.Error("no CORSByOrigin with a list")
	}

	none := newTestServer(t, Config{Root: root})
	runCases(t, none, []serveCase{
		{name: "none: OPTIONS is 405", method: "OPTIONS", path: "/a.txt", code: 405, want: map[string]string{"Allow": "HEAD, GET"},
			hdr: map[string]string{"Origin": app, "Access-Control-Request-Method": "GET"}},
		{name: "none: no header", path: "/a.txt", hdr: map[string]string{"Origin": app}, code: 200,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": ""}},
	})

	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"star and origin", Config{Root: root, CORS: []string{"*", app}}, "give it alone"},
		{"bad origin", Config{Root: root, CORS: []string{"app.example"}}, "scheme://host"},
		{"header and CORS", Config{Root: root, CORS: []string{"*"}, Headers: [][2]string{{"Access-Control-Allow-Origin", "*"}}}, "contradict"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: New: %v, want an error with %q", tc.name, err, tc.err)
		}
	}
	_ = http.MethodOptions
}
