package static

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// source is in every script of these tests: it must never be sent.
const source = "#!/bin/sh\necho SCRIPT-SOURCE-1f3a\n"

// lineLog keeps the messages logged.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *lineLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Message)
	return nil
}
func (l *lineLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *lineLog) WithGroup(string) slog.Handler      { return l }

func (l *lineLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.lines {
		if strings.Contains(x, s) {
			n++
		}
	}
	return n
}

// scriptTree is a root with scripts reachable every way a file is.
var scriptTree = map[string]string{
	"run.cgi":            source,
	"RUN2.CGI":           source,
	"run.cgi.gz":         "gzip of the source, asked for by name",
	"plain.txt":          source, // the same bytes as a plain file: served
	"app/index.cgi":      source,
	"ext/tool.cgi":       source,
	"any/only.cgi":       source,
	"dir.cgi/inside.txt": "a directory named .cgi is a directory",
}

// TestScriptsRefused: without Config.CGI, a script is 403 on every path
// that leads to it, for every method and header, and one log line per
// script names --cgi; its source is never sent, nor cached for the fast
// path.
func TestScriptsRefused(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, scriptTree)
	log := &lineLog{}
	s := newTestServerNow(t, Config{Root: root, Indexes: []string{"index.cgi", "index.html"}, IgnoreExt: []string{".cgi"},
		ErrorLog: slog.New(log)}, laterClock)
	s2 := newTestServerNow(t, Config{Root: root, AllowIgnoreExt: true, ErrorLog: slog.New(log)}, laterClock)
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		srv                *srv
	}{
		{"GET", "GET", "/run.cgi", nil, s},
		{"GET again (cached path)", "GET", "/run.cgi", nil, s},
		{"HEAD", "HEAD", "/run.cgi", nil, s},
		{"POST", "POST", "/run.cgi", nil, s},
		{"PUT", "PUT", "/run.cgi", nil, s},
		{"range", "GET", "/run.cgi", map[string]string{"Range": "bytes=0-5"}, s},
		{"multi-range", "GET", "/run.cgi", map[string]string{"Range": "bytes=0-1,3-4"}, s},
		{"If-None-Match", "GET", "/run.cgi", map[string]string{"If-None-Match": "*"}, s},
		{"If-Modified-Since", "GET", "/run.cgi", map[string]string{"If-Modified-Since": "Sun, 06 Nov 2044 08:49:37 GMT"}, s},
		{"precompressed sibling", "GET", "/run.cgi", map[string]string{"Accept-Encoding": "gzip"}, s},
		{"upper case", "GET", "/RUN2.CGI", nil, s},
		{"path info", "GET", "/run.cgi/more/path", nil, s},
		{"path info slash", "GET", "/run.cgi/", nil, s},
		{"escaped", "GET", "/run%2ecgi", nil, s},
		{"double slash", "GET", "//run.cgi", nil, s},
		{"index", "GET", "/app/", nil, s},
		{"index, POST", "POST", "/app/", nil, s},
		{"index, HEAD", "HEAD", "/app/", nil, s},
		{"ignore-ext", "GET", "/ext/tool", nil, s},
		{"ignore-ext, POST", "POST", "/ext/tool", nil, s},
		{"allow-ignore-ext", "GET", "/any/only", nil, s2},
		{"allow-ignore-ext, range", "GET", "/any/only", map[string]string{"Range": "bytes=0-3"}, s2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.srv.do(t, tc.method, tc.path, tc.hdr)
			if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "SCRIPT-SOURCE") {
				t.Fatalf("%s %s = %d %q", tc.method, tc.path, resp.StatusCode, body)
			}
			for _, h := range []string{"Etag", "Last-Modified", "Content-Range", "Content-Encoding", "Accept-Ranges"} {
				if v := resp.Header.Get(h); v != "" {
					t.Errorf("%s: %q on a refusal", h, v)
				}
			}
			if tc.method != "HEAD" && body != forbiddenPage {
				t.Errorf("body %q", body)
			}
		})
	}
	// The fast path answers the plain file, and never the script.
	s.do(t, "GET", "/plain.txt", nil)
	if _, body, ok := s.h.Cached("/plain.txt", false); !ok || string(body) != source {
		t.Fatalf("the fast path does not hold plain.txt (ok %v): this test would prove nothing", ok)
	}
	for _, p := range []string{"/run.cgi", "/RUN2.CGI", "/app/index.cgi", "/ext/tool.cgi"} {
		if _, body, ok := s.h.Cached(p, false); ok || body != nil {
			t.Errorf("Cached(%q) answers", p)
		}
		if e := s.h.cache.get(strings.TrimPrefix(p, "/")); e != nil {
			t.Errorf("%s is in the cache", p)
		}
	}
	// Even an entry in the cache for a script (no code path makes one)
	// is not answered from.
	fi, err := s.h.stat("run.cgi")
	must(t, err)
	planted := *s.h.cache.get("plain.txt")
	planted.id = fi.id
	s.h.cache.put("run.cgi", &planted)
	if _, _, ok := s.h.Cached("/run.cgi", false); ok {
		t.Error("Cached answers a script from a planted cache entry")
	}
	if resp, body := s.do(t, "GET", "/run.cgi", nil); resp.StatusCode != 403 || strings.Contains(body, "SCRIPT-SOURCE") {
		t.Errorf("with a planted cache entry: %d %q", resp.StatusCode, body)
	}
	// Not scripts: served as before.
	for path, want := range map[string]string{"/run.cgi.gz": scriptTree["run.cgi.gz"], "/dir.cgi/inside.txt": scriptTree["dir.cgi/inside.txt"]} {
		if resp, body := s.do(t, "GET", path, nil); resp.StatusCode != 200 || body != want {
			t.Errorf("GET %s = %d %q", path, resp.StatusCode, body)
		}
	}
	for rel, n := range map[string]int{"run.cgi": 1, "RUN2.CGI": 1, "app/index.cgi": 1, "ext/tool.cgi": 1, "any/only.cgi": 1} {
		if got := log.count("static: refusing /" + rel + " (403)"); got != n {
			t.Errorf("%d log lines for %s, want %d", got, rel, n)
		}
	}
	if log.count("--cgi") != 5 {
		t.Errorf("%d lines name --cgi, want 5", log.count("--cgi"))
	}
}

// TestRefusalLogBounded: past maxRefusalLogs scripts, one line says the
// rest are not logged.
func TestRefusalLogBounded(t *testing.T) {
	var f refusals
	logged, last := 0, 0
	for i := range maxRefusalLogs + 50 {
		for range 2 {
			l, e := f.first(strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26) + ".cgi")
			if l {
				logged++
			}
			if e {
				last++
			}
		}
	}
	if logged != maxRefusalLogs+1 || last != 1 {
		t.Errorf("%d lines logged (%d saying the rest are not), want %d and 1", logged, last, maxRefusalLogs+1)
	}
}

// recorder is a ScriptRunner that answers with the Script it was given.
type recorder struct {
	mu   sync.Mutex
	last Script
	n    int
}

func (r *recorder) ServeScript(w http.ResponseWriter, req *http.Request, s Script) {
	r.mu.Lock()
	r.last, r.n = s, r.n+1
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(299)
	_, _ = w.Write([]byte(req.Method + " " + s.Name + "|" + s.PathInfo + "|" + s.Translated))
}

// TestScriptLookup: with Config.CGI, which requests reach a script, and
// the Script they get.
func TestScriptLookup(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, scriptTree)
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"evil.cgi": source})
	must(t, os.Symlink(filepath.Join(outside, "evil.cgi"), filepath.Join(root, "evil.cgi")))
	must(t, os.Symlink("run.cgi", filepath.Join(root, "link.cgi")))
	real, err := filepath.EvalSymlinks(root)
	must(t, err)
	rec := &recorder{}
	s := newTestServer(t, Config{Root: root, Indexes: []string{"index.cgi"}, IgnoreExt: []string{".cgi"}, CGI: rec})
	nofollow := newTestServer(t, Config{Root: root, NoFollowSymlinks: true, CGI: rec})
	for _, tc := range []struct {
		name, method, path string
		srv                *srv
		code               int
		body, file         string
	}{
		{"GET", "GET", "/run.cgi?q=1", s, 299, "GET /run.cgi||", "run.cgi"},
		{"POST", "POST", "/run.cgi", s, 299, "POST /run.cgi||", "run.cgi"},
		{"DELETE", "DELETE", "/run.cgi", s, 299, "DELETE /run.cgi||", "run.cgi"},
		{"path info", "GET", "/run.cgi/a/b%20c", s, 299, "GET /run.cgi|/a/b c|" + root + "/a/b c", "run.cgi"},
		{"path info slash", "GET", "/run.cgi/", s, 299, "GET /run.cgi|/|" + root, "run.cgi"},
		{"upper case", "GET", "/RUN2.CGI", s, 299, "GET /RUN2.CGI||", "RUN2.CGI"},
		{"index", "GET", "/app/", s, 299, "GET /app/||", "app/index.cgi"},
		{"index, POST", "POST", "/app/", s, 299, "POST /app/||", "app/index.cgi"},
		{"ignore-ext", "GET", "/ext/tool", s, 299, "GET /ext/tool||", "ext/tool.cgi"},
		{"ignore-ext, POST", "POST", "/ext/tool", s, 299, "POST /ext/tool||", "ext/tool.cgi"},
		{"link inside", "GET", "/link.cgi", s, 299, "GET /link.cgi||", "run.cgi"},
		{"link out of the root", "GET", "/evil.cgi", s, 403, forbiddenPage, ""},
		{"link out of the root, POST", "POST", "/evil.cgi", s, 403, forbiddenPage, ""},
		{"no-follow-symlinks, link", "GET", "/link.cgi", nofollow, 404, notFoundPage, ""},
		{"no-follow-symlinks, file", "GET", "/run.cgi", nofollow, 299, "GET /run.cgi||", "run.cgi"},
		{"missing", "GET", "/none.cgi", s, 404, notFoundPage, ""},
		{"missing, POST", "POST", "/none.cgi", s, 405, "", ""},
		{"dot-dot", "GET", "/x/../run.cgi", s, 404, notFoundPage, ""},
		{"directory named .cgi", "GET", "/dir.cgi/inside.txt", s, 200, scriptTree["dir.cgi/inside.txt"], ""},
		{"static file, POST", "POST", "/plain.txt", s, 405, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			before := rec.n
			rec.mu.Unlock()
			resp, body := tc.srv.do(t, tc.method, tc.path, nil)
			if resp.StatusCode != tc.code || (tc.body != "" && body != tc.body) {
				t.Fatalf("%s %s = %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.body)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if tc.file == "" {
				if rec.n != before {
					t.Errorf("the runner was called")
				}
				return
			}
			if want := filepath.Join(real, tc.file); rec.last.Path != want {
				t.Errorf("Path = %q, want %q", rec.last.Path, want)
			}
			if rec.last.Local == nil {
				t.Error("no Local handler")
			}
		})
	}
}
