package static

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// testMtime is in the past (so contents are cached) and has a fraction of
// a second, so Last-Modified shows twistd's rounding up.
var testMtime = time.Date(2024, 1, 2, 3, 4, 5, 500_000_000, time.UTC)

const testLastMod = "Tue, 02 Jan 2024 03:04:06 GMT"

// writeTree creates files (path -> content; a path ending in "/" is a
// directory) under dir, all with testMtime.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	testbin.WriteFiles(t, dir, files)
	touchAll(t, dir, testMtime)
}

func touchAll(t testing.TB, dir string, when time.Time) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Type()&os.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// bigContent is larger than cacheMaxFile, so it is served from the file.
var bigContent = func() string {
	var b strings.Builder
	for i := 0; b.Len() < 300<<10; i++ {
		fmt.Fprintf(&b, "line %06d of the big file\n", i)
	}
	return b.String()
}()

var testFiles = map[string]string{
	"a.txt":                       "hello world\n",
	"page.html":                   "<p>page</p>\n",
	"data.json":                   `{"a":1}`,
	"noext":                       "no extension",
	"UPPER.TXT":                   "upper",
	"archive.tar.gz":              "not really gzip",
	"old.bz2":                     "bz",
	"arch/x.tgz":                  "tgz",
	"arch/x.zst":                  "zst",
	"arch/x.br":                   "br",
	"empty.txt":                   "",
	"big.bin":                     bigContent,
	"we<i>rd & \"q\".html":        "weird",
	"dir/index.html":              "INDEX HTML",
	"dir/index.htm":               "INDEX HTM",
	"dir2/index":                  "BARE INDEX",
	"dir2/index.html":             "not this one",
	"list/one.txt":                "1",
	"list/sub/":                   "",
	"pre/x.css":                   "body{}",
	"pre/x.css.br":                "BROTLI",
	"pre/x.css.zst":               "ZSTD",
	"pre/x.css.gz":                "GZIP",
	"pre/only.js":                 "js",
	"pre/only.js.gz":              "GZ-ONLY",
	"pre/stale.js":                "fresh",
	"pre/stale.js.gz":             "STALE",
	"about.html":                  "ABOUT",
	"foo.bar.baz":                 "FOO",
	"deep/er/file.txt":            "deep",
	".hidden":                     "HIDDEN",
	".git/config":                 "GITCONFIG",
	".well-known/acme":            "ACME",
	".well-known/.private":        "PRIVATE",
	"sp ace.txt":                  "space",
	"caf\u00e9.txt":               "unicode",
	"dir/.hidden-in-dir":          "HIDDEN2",
	"list/.dotfile-not-listed":    "x",
	"list/a%20b.txt":              "percent",
	"list/zz-last.txt":            "z",
	"list/AA-first-upper.txt":     "A",
	"list/sub/nested.txt":         "n",
	"list/emptydir/":              "",
	"list/archive.tar.gz":         "gz",
	"list/style.css":              "css",
	"list/script.unknownext":      "?",
	"list/dotdir.d/":              "",
	"list/sub2/":                  "",
	"list/sub2/x":                 "",
	"list/weird<name>&'q'.txt":    "w",
	"list/\u65e5\u672c\u8a9e.txt": "jp",
}

type srv struct {
	*httptest.Server
	h      *Handler
	client *http.Client
}

func newTestServer(t testing.TB, cfg Config) *srv {
	t.Helper()
	return newTestServerNow(t, cfg, nil)
}

// laterClock is a clock an hour ahead: files written by the test are then
// out of the racy window and cached in memory.
func laterClock() time.Time { return time.Now().Add(time.Hour) }

// newTestServerNow is newTestServer with the handler's clock replaced
// (before any request, so without a data race).
func newTestServerNow(t testing.TB, cfg Config, now func() time.Time) *srv {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		h.now = now
	}
	s := startHTTP(t, h)
	t.Cleanup(s.Close)
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &srv{Server: s, h: h, client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request and returns the response with its body read.
func (s *srv) do(t testing.TB, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func str(s string) *string { return &s }

type serveCase struct {
	name   string
	method string
	path   string
	hdr    map[string]string
	code   int
	// want maps header names to exact values; "" means absent.
	want map[string]string
	body *string
	// check inspects the response further.
	check func(t *testing.T, resp *http.Response, body string)
}

func runCases(t *testing.T, s *srv, cases []serveCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			resp, body := s.do(t, method, tc.path, tc.hdr)
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s: status %d, want %d; body %q", method, tc.path, resp.StatusCode, tc.code, trunc(body))
			}
			for k, v := range tc.want {
				got, present := resp.Header[http.CanonicalHeaderKey(k)]
				switch {
				case v == "" && present:
					t.Errorf("header %s = %q, want it absent", k, got)
				case v != "" && strings.Join(got, ", ") != v:
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.body != nil && body != *tc.body {
				t.Errorf("body = %q, want %q", trunc(body), trunc(*tc.body))
			}
			if tc.check != nil {
				tc.check(t, resp, body)
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func TestServe(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, testFiles)
	// Each case runs against a handler serving from the files and one
	// serving from its memory cache (asked twice: the first fills it).
	file := newTestServer(t, Config{Root: root, ServerHeader: "gotwistd/test"})
	mem := newTestServerNow(t, Config{Root: root, ServerHeader: "gotwistd/test"}, laterClock)
	bigLen := strconv.Itoa(len(bigContent))

	cases := []serveCase{
		{name: "file", path: "/a.txt", code: 200, body: str("hello world\n"), want: map[string]string{
			"Content-Type": "text/plain", "Content-Length": "12", "Accept-Ranges": "bytes",
			"Last-Modified": testLastMod, "Server": "gotwistd/test", "Content-Encoding": "", "Vary": "",
		}, check: checkStrongETag},
		{name: "html type without charset", path: "/page.html", code: 200, want: map[string]string{"Content-Type": "text/html"}},
		{name: "json type", path: "/data.json", code: 200, want: map[string]string{"Content-Type": "application/json"}},
		{name: "unknown extension gets default type", path: "/noext", code: 200, want: map[string]string{"Content-Type": "text/html"}},
		{name: "extension case-insensitive", path: "/UPPER.TXT", code: 200, want: map[string]string{"Content-Type": "text/plain"}},
		// Unlike twistd: an archive is sent as itself.
		{name: "tar.gz sent as itself", path: "/archive.tar.gz", code: 200, body: str("not really gzip"),
			want: map[string]string{"Content-Type": "application/gzip", "Content-Encoding": ""}},
		{name: "tar.gz with Accept-Encoding", path: "/archive.tar.gz", hdr: map[string]string{"Accept-Encoding": "gzip, br"}, code: 200,
			want: map[string]string{"Content-Type": "application/gzip", "Content-Encoding": ""}},
		// Its type comes from mime.types when that has one (Debian's:
		// application/x-gtar-compressed), else application/gzip.
		{name: "tgz", path: "/arch/x.tgz", code: 200, want: map[string]string{"Content-Encoding": ""}, check: func(t *testing.T, resp *http.Response, _ string) {
			if ct := resp.Header.Get("Content-Type"); ct != "application/gzip" && ct != "application/x-gtar-compressed" {
				t.Errorf("Content-Type %q", ct)
			}
		}},
		{name: "zst asked for", path: "/arch/x.zst", code: 200, want: map[string]string{"Content-Type": "application/zstd", "Content-Encoding": ""}},
		{name: "br asked for", path: "/arch/x.br", code: 200, want: map[string]string{"Content-Type": "application/x-brotli", "Content-Encoding": ""}},
		{name: "precompressed sibling asked for by name", path: "/pre/x.css.gz", hdr: map[string]string{"Accept-Encoding": "gzip"}, code: 200,
			body: str("GZIP"), want: map[string]string{"Content-Type": "application/gzip", "Content-Encoding": ""}},
		{name: "bz2 sent as itself", path: "/old.bz2", code: 200,
			want: map[string]string{"Content-Type": "application/x-bzip2", "Content-Encoding": ""}},
		{name: "empty file", path: "/empty.txt", code: 200, body: str(""), want: map[string]string{"Content-Length": "0"}},
		{name: "big file uncached", path: "/big.bin", code: 200, body: str(bigContent),
			want: map[string]string{"Content-Length": bigLen, "Content-Type": "application/octet-stream"}},
		{name: "escaped name", path: "/we%3Ci%3Erd%20%26%20%22q%22.html", code: 200, body: str("weird")},
		{name: "space", path: "/sp%20ace.txt", code: 200, body: str("space")},
		{name: "unicode name", path: "/caf%C3%A9.txt", code: 200, body: str("unicode")},
		{name: "deep file", path: "/deep/er/file.txt", code: 200, body: str("deep")},
		{name: "merged slashes", path: "/deep//er///file.txt", code: 200, body: str("deep")},

		// Directories.
		{name: "dir redirect", path: "/dir", code: 302, want: map[string]string{"Location": "/dir/",
			"Content-Type": "text/html; charset=utf-8"}, body: str(redirectBody("/dir/"))},
		{name: "dir redirect keeps query", path: "/dir?a=1&b=2", code: 302,
			want: map[string]string{"Location": "/dir/?a=1&b=2"}, body: str(redirectBody("/dir/?a=1&amp;b=2"))},
		{name: "nested dir redirect escaped", path: "/list/sub", code: 302, want: map[string]string{"Location": "/list/sub/"}},
		{name: "HEAD redirect", method: "HEAD", path: "/dir", code: 302, body: str(""),
			want: map[string]string{"Location": "/dir/", "Content-Length": strconv.Itoa(len(redirectBody("/dir/")))}},
		{name: "index.html before index.htm", path: "/dir/", code: 200, body: str("INDEX HTML"),
			want: map[string]string{"Content-Type": "text/html"}},
		{name: "bare index first", path: "/dir2/", code: 200, body: str("BARE INDEX"),
			want: map[string]string{"Content-Type": "text/html"}},
		{name: "listing", path: "/list/", code: 200, want: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			check: func(t *testing.T, _ *http.Response, body string) {
				for _, s := range []string{"<title>Index of /list/</title>", `<a href="sub/">sub/</a>`,
					`<a href="a%2520b.txt">a%20b.txt</a>`, `<td class="type">text/<wbr>css</td>`} {
					if !strings.Contains(body, s) {
						t.Errorf("listing lacks %q", s)
					}
				}
				if strings.Contains(body, "dotfile") {
					t.Error("listing shows a dotfile")
				}
			}},
		{name: "root listing shows .well-known only", path: "/", code: 200, check: func(t *testing.T, _ *http.Response, body string) {
			if !strings.Contains(body, `<a href=".well-known/">.well-known/</a>`) {
				t.Error("root listing lacks .well-known/")
			}
			if strings.Contains(body, ".git") || strings.Contains(body, ".hidden") {
				t.Error("root listing shows dotfiles")
			}
		}},
		{name: "file with trailing slash", path: "/a.txt/", code: 404, body: str(notFoundPage)},
		{name: "file as directory", path: "/a.txt/x", code: 404, body: str(notFoundPage)},

		// Errors and methods.
		{name: "404 page", path: "/nope", code: 404, body: str(notFoundPage),
			want: map[string]string{"Content-Type": "text/html; charset=utf-8", "Content-Length": "145", "Server": "gotwistd/test"}},
		{name: "HEAD 404", method: "HEAD", path: "/nope", code: 404, body: str(""), want: map[string]string{"Content-Length": "145"}},
		{name: "POST 405", method: "POST", path: "/a.txt", code: 405, want: map[string]string{"Allow": "HEAD, GET"},
			body: str(methodBody("/a.txt", "POST"))},
		{name: "long segment", path: "/" + strings.Repeat("a", 300), code: 404, body: str(notFoundPage)},
		{name: "long path", path: strings.Repeat("/abcdefgh", 1000), code: 404, body: str(notFoundPage)},
		{name: "DELETE 405 on missing file", method: "DELETE", path: "/nope", code: 405, want: map[string]string{"Allow": "HEAD, GET"}},
		{name: "OPTIONS 405", method: "OPTIONS", path: "/", code: 405, want: map[string]string{"Allow": "HEAD, GET"}},
		{name: "PUT on listing 405", method: "PUT", path: "/list/", code: 405},
		{name: "405 escapes the URI", method: "POST", path: "/a.txt?<x>", code: 405, check: func(t *testing.T, _ *http.Response, body string) {
			if !strings.Contains(body, "/a.txt?&lt;x&gt;") {
				t.Errorf("405 body does not escape the URI: %q", body)
			}
		}},

		// Dotfiles.
		{name: "dotfile 404", path: "/.hidden", code: 404, body: str(notFoundPage)},
		{name: "dot dir 404", path: "/.git/config", code: 404},
		{name: "dotfile in subdir 404", path: "/dir/.hidden-in-dir", code: 404},
		{name: "well-known served", path: "/.well-known/acme", code: 200, body: str("ACME")},
		{name: "dotfile in well-known 404", path: "/.well-known/.private", code: 404},
		{name: "well-known only at top", path: "/dir/.well-known/acme", code: 404},

		// Ranges.
		{name: "single range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-4"}, code: 206, body: str("hello"),
			want: map[string]string{"Content-Range": "bytes 0-4/12", "Content-Length": "5", "Content-Type": "text/plain"}},
		{name: "open range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=6-"}, code: 206, body: str("world\n"),
			want: map[string]string{"Content-Range": "bytes 6-11/12"}},
		{name: "suffix range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=-3"}, code: 206, body: str("ld\n"),
			want: map[string]string{"Content-Range": "bytes 9-11/12"}},
		{name: "suffix longer than file", path: "/a.txt", hdr: map[string]string{"Range": "bytes=-100"}, code: 206,
			body: str("hello world\n"), want: map[string]string{"Content-Range": "bytes 0-11/12"}},
		{name: "range end clipped", path: "/a.txt", hdr: map[string]string{"Range": "bytes=10-99"}, code: 206, body: str("d\n")},
		{name: "range on big file", path: "/big.bin", hdr: map[string]string{"Range": "bytes=1000-1999"}, code: 206,
			body: str(bigContent[1000:2000]), want: map[string]string{"Content-Range": "bytes 1000-1999/" + bigLen}},
		{name: "multi range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1, 6-7"}, code: 206,
			check: checkMultipart("text/plain", 12, []string{"he", "wo"})},
		{name: "multi range big file", path: "/big.bin", hdr: map[string]string{"Range": "bytes=0-9,-10"}, code: 206,
			check: checkMultipart("application/octet-stream", int64(len(bigContent)),
				[]string{bigContent[:10], bigContent[len(bigContent)-10:]})},
		{name: "multi range one satisfiable", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1,100-200"}, code: 206,
			body: str("he"), want: map[string]string{"Content-Range": "bytes 0-1/12"}},
		{name: "unsatisfiable", path: "/a.txt", hdr: map[string]string{"Range": "bytes=100-200"}, code: 416, body: str(""),
			want: map[string]string{"Content-Range": "bytes */12", "Content-Length": "0"}},
		{name: "multi unsatisfiable", path: "/a.txt", hdr: map[string]string{"Range": "bytes=100-200,300-"}, code: 416,
			want: map[string]string{"Content-Range": "bytes */12"}},
		{name: "empty file suffix range", path: "/empty.txt", hdr: map[string]string{"Range": "bytes=-5"}, code: 200, body: str(""),
			want: map[string]string{"Content-Length": "0", "Content-Range": ""}},
		{name: "empty file range", path: "/empty.txt", hdr: map[string]string{"Range": "bytes=0-"}, code: 416,
			want: map[string]string{"Content-Range": "bytes */0"}},
		{name: "zero suffix unsatisfiable", path: "/a.txt", hdr: map[string]string{"Range": "bytes=-0"}, code: 416},
		{name: "malformed range ignored", path: "/a.txt", hdr: map[string]string{"Range": "bytes=abc"}, code: 200,
			body: str("hello world\n"), want: map[string]string{"Content-Range": ""}},
		{name: "reversed range ignored", path: "/a.txt", hdr: map[string]string{"Range": "bytes=5-3"}, code: 200},
		{name: "other unit ignored", path: "/a.txt", hdr: map[string]string{"Range": "items=0-3"}, code: 200},
		{name: "no equals ignored", path: "/a.txt", hdr: map[string]string{"Range": "bytes"}, code: 200},
		{name: "too many ranges ignored", path: "/big.bin", code: 200, hdr: map[string]string{"Range": manyRanges(17)},
			want: map[string]string{"Content-Length": bigLen}},
		{name: "sixteen ranges served", path: "/big.bin", code: 206, hdr: map[string]string{"Range": manyRanges(16)},
			check: func(t *testing.T, resp *http.Response, body string) {
				if n := len(readParts(t, resp, body)); n != 16 {
					t.Errorf("%d parts, want 16", n)
				}
			}},
		{name: "overlapping ranges ignored", path: "/a.txt", code: 200, hdr: map[string]string{"Range": "bytes=0-11,0-11"},
			body: str("hello world\n")},
		{name: "HEAD ignores range", method: "HEAD", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1"}, code: 200,
			body: str(""), want: map[string]string{"Content-Length": "12", "Content-Range": ""}},

		// Conditional requests.
		{name: "IMS equal 304", path: "/a.txt", hdr: map[string]string{"If-Modified-Since": testLastMod}, code: 304, body: str(""),
			want: map[string]string{"Last-Modified": testLastMod, "Content-Length": "", "Content-Type": ""}},
		{name: "IMS later 304", path: "/a.txt", hdr: map[string]string{"If-Modified-Since": "Wed, 01 Jan 2031 00:00:00 GMT"}, code: 304},
		{name: "IMS with length suffix 304", path: "/a.txt", hdr: map[string]string{"If-Modified-Since": testLastMod + "; length=12"}, code: 304},
		{name: "IMS truncated mtime is older", path: "/a.txt", hdr: map[string]string{"If-Modified-Since": "Tue, 02 Jan 2024 03:04:05 GMT"}, code: 200},
		{name: "IMS earlier 200", path: "/a.txt", hdr: map[string]string{"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}, code: 200},
		{name: "IMS garbage ignored", path: "/a.txt", hdr: map[string]string{"If-Modified-Since": "yesterday"}, code: 200},
		{name: "INM star 304", path: "/a.txt", hdr: map[string]string{"If-None-Match": "*"}, code: 304},
		{name: "INM other 200", path: "/a.txt", hdr: map[string]string{"If-None-Match": `"nope"`}, code: 200},
		{name: "INM wins over IMS", path: "/a.txt", hdr: map[string]string{"If-None-Match": `"nope"`, "If-Modified-Since": testLastMod}, code: 200},
		{name: "If-Match other 412", path: "/a.txt", hdr: map[string]string{"If-Match": `"nope"`}, code: 412},
		{name: "If-Match star", path: "/a.txt", hdr: map[string]string{"If-Match": "*"}, code: 200},
		{name: "IUS earlier 412", path: "/a.txt", hdr: map[string]string{"If-Unmodified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}, code: 412},
		{name: "IUS equal 200", path: "/a.txt", hdr: map[string]string{"If-Unmodified-Since": testLastMod}, code: 200},
		{name: "If-Range date match", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1", "If-Range": testLastMod}, code: 206, body: str("he")},
		{name: "If-Range date mismatch", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1", "If-Range": "Mon, 01 Jan 2024 00:00:00 GMT"},
			code: 200, body: str("hello world\n")},
		{name: "If-Range etag mismatch", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1", "If-Range": `"other"`}, code: 200},
		{name: "If-Range weak etag never matches", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1", "If-Range": `W/"x"`}, code: 200},

		// Precompressed siblings.
		{name: "br preferred", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "gzip, deflate, br, zstd"}, code: 200,
			body: str("BROTLI"), want: map[string]string{"Content-Encoding": "br", "Content-Type": "text/css", "Vary": "Accept-Encoding", "Content-Length": "6"}},
		{name: "zstd when br refused", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "gzip, zstd, br;q=0"}, code: 200,
			body: str("ZSTD"), want: map[string]string{"Content-Encoding": "zstd", "Vary": "Accept-Encoding"}},
		{name: "gzip only", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "gzip"}, code: 200,
			body: str("GZIP"), want: map[string]string{"Content-Encoding": "gzip", "Content-Type": "text/css"}},
		{name: "x-gzip alias", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "x-gzip"}, code: 200, body: str("GZIP")},
		{name: "star accepts", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "*"}, code: 200, body: str("BROTLI")},
		{name: "star minus br", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "*, br;q=0"}, code: 200, body: str("ZSTD")},
		{name: "q zero everywhere", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "gzip;q=0, br;q=0.000, zstd; q=0"}, code: 200,
			body: str("body{}"), want: map[string]string{"Content-Encoding": ""}},
		{name: "identity when not accepted", path: "/pre/x.css", code: 200, body: str("body{}"),
			want: map[string]string{"Content-Encoding": "", "Vary": ""}},
		{name: "only gz sibling", path: "/pre/only.js", hdr: map[string]string{"Accept-Encoding": "br, gzip"}, code: 200, body: str("GZ-ONLY")},
		{name: "precompressed range", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "br", "Range": "bytes=0-1"}, code: 206,
			body: str("BR"), want: map[string]string{"Content-Encoding": "br", "Content-Range": "bytes 0-1/6"}},
		{name: "precompressed HEAD", method: "HEAD", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "br"}, code: 200,
			body: str(""), want: map[string]string{"Content-Length": "6", "Content-Encoding": "br"}},
	}
	t.Run("file", func(t *testing.T) { runCases(t, file, cases) })
	t.Run("memory", func(t *testing.T) {
		runCases(t, mem, cases)
		runCases(t, mem, cases)
		if e := mem.h.cache.get("a.txt"); e == nil || e.data == nil {
			t.Error("a.txt is not cached in memory")
		}
		if e := mem.h.cache.get("big.bin"); e == nil || e.data != nil {
			t.Error("big.bin should have a cache entry without data")
		}
		if e := mem.h.cache.get("pre/x.css\x00br"); e == nil || e.data == nil {
			t.Error("x.css.br is not cached in memory")
		}
	})
}

// TestStaleSibling checks that x.gz older than x is not served.
func TestStaleSibling(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"s.js": "fresh", "s.js.gz": "STALE"})
	older := testMtime.Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(root, "s.js.gz"), older, older); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Config{Root: root})
	resp, body := s.do(t, "GET", "/s.js", map[string]string{"Accept-Encoding": "gzip"})
	if body != "fresh" || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("stale sibling served: %q, Content-Encoding %q", body, resp.Header.Get("Content-Encoding"))
	}
}

func redirectBody(url string) string {
	return "\n<html>\n    <head>\n        <meta http-equiv=\"refresh\" content=\"0;URL=" + url +
		"\">\n    </head>\n    <body bgcolor=\"#FFFFFF\" text=\"#000000\">\n    <a href=\"" + url +
		"\">click here</a>\n    </body>\n</html>\n"
}

func methodBody(uri, method string) string {
	return "\n<html>\n  <head><title>405 - Method Not Allowed</title></head>\n  <body>\n    <h1>Method Not Allowed</h1>\n" +
		"    <p>Your browser approached me (at " + uri + ") with the method \"" + method +
		"\".  I only allow the methods HEAD, GET here.</p>\n  </body>\n</html>\n"
}

func manyRanges(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("%d-%d", i*10, i*10+4)
	}
	return "bytes=" + strings.Join(parts, ",")
}

func checkStrongETag(t *testing.T, resp *http.Response, _ string) {
	et := resp.Header.Get("ETag")
	if len(et) < 3 || et[0] != '"' || et[len(et)-1] != '"' {
		t.Errorf("ETag %q is not a strong entity tag", et)
	}
}

type part struct {
	ctype, crange, body string
}

func readParts(t *testing.T, resp *http.Response, body string) []part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %s, body %d bytes", cl, len(body))
	}
	mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
	var parts []part
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part{p.Header.Get("Content-Type"), p.Header.Get("Content-Range"), string(b)})
	}
	return parts
}

func checkMultipart(ctype string, size int64, want []string) func(*testing.T, *http.Response, string) {
	return func(t *testing.T, resp *http.Response, body string) {
		parts := readParts(t, resp, body)
		if len(parts) != len(want) {
			t.Fatalf("%d parts, want %d", len(parts), len(want))
		}
		for i, p := range parts {
			if p.body != want[i] {
				t.Errorf("part %d = %q, want %q", i, trunc(p.body), trunc(want[i]))
			}
			if p.ctype != ctype {
				t.Errorf("part %d Content-Type %q, want %q", i, p.ctype, ctype)
			}
			if !strings.HasPrefix(p.crange, "bytes ") || !strings.HasSuffix(p.crange, "/"+strconv.FormatInt(size, 10)) {
				t.Errorf("part %d Content-Range %q", i, p.crange)
			}
		}
	}
}

// TestETagConditionals uses the ETag the server sent.
func TestETagConditionals(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, testFiles)
	s := newTestServerNow(t, Config{Root: root}, laterClock)
	for _, path := range []string{"/a.txt", "/big.bin"} {
		resp, _ := s.do(t, "GET", path, nil)
		etag := resp.Header.Get("ETag")
		runCases(t, s, []serveCase{
			{name: path + " INM match 304", path: path, hdr: map[string]string{"If-None-Match": etag}, code: 304,
				want: map[string]string{"ETag": etag}, body: str("")},
			{name: path + " INM weak match 304", path: path, hdr: map[string]string{"If-None-Match": `"x", W/` + etag}, code: 304},
			{name: path + " HEAD INM 304", method: "HEAD", path: path, hdr: map[string]string{"If-None-Match": etag}, code: 304},
			{name: path + " If-Match 200", path: path, hdr: map[string]string{"If-Match": `"x", ` + etag}, code: 200},
			{name: path + " If-Match weak 412", path: path, hdr: map[string]string{"If-Match": "W/" + etag}, code: 412},
			{name: path + " If-Range etag", path: path, hdr: map[string]string{"If-Range": etag, "Range": "bytes=0-1"}, code: 206},
		})
	}
}

// TestHeadMatchesGet: HEAD has GET's headers and no body.
func TestHeadMatchesGet(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, testFiles)
	s := newTestServer(t, Config{Root: root, Headers: [][2]string{{"X-Test", "1"}}})
	for _, path := range []string{"/a.txt", "/big.bin", "/list/", "/dir", "/nope", "/dir/", "/archive.tar.gz"} {
		t.Run(path, func(t *testing.T) {
			g, _ := s.do(t, "GET", path, nil)
			h, body := s.do(t, "HEAD", path, nil)
			if body != "" {
				t.Errorf("HEAD body %q", body)
			}
			if g.StatusCode != h.StatusCode {
				t.Errorf("GET %d, HEAD %d", g.StatusCode, h.StatusCode)
			}
			g.Header.Del("Date")
			h.Header.Del("Date")
			if fmt.Sprint(g.Header) != fmt.Sprint(h.Header) {
				t.Errorf("headers differ:\nGET  %v\nHEAD %v", g.Header, h.Header)
			}
		})
	}
}

func TestConfigOptions(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, testFiles)
	t.Run("headers and types", func(t *testing.T) {
		s := newTestServer(t, Config{
			Root:        root,
			DefaultType: "application/x-unknown",
			MIMETypes:   map[string]string{"TXT": "text/x-mine", ".json": "application/x-json"},
			Headers: [][2]string{{"Cache-Control", "max-age=60"}, {"X-Multi", "a"}, {"x-multi", "b"},
				{"Vary", "Origin"}, {"Content-Type", "ignored/type"}},
		})
		runCases(t, s, []serveCase{
			{name: "default type", path: "/noext", code: 200, want: map[string]string{
				"Content-Type": "application/x-unknown", "Cache-Control": "max-age=60", "X-Multi": "a, b", "Server": "gotwistd"}},
			{name: "override txt", path: "/a.txt", code: 200, want: map[string]string{"Content-Type": "text/x-mine"}},
			{name: "override upper", path: "/UPPER.TXT", code: 200, want: map[string]string{"Content-Type": "text/x-mine"}},
			{name: "override json", path: "/data.json", code: 200, want: map[string]string{"Content-Type": "application/x-json"}},
			{name: "on 404 too", path: "/nope", code: 404, want: map[string]string{"Cache-Control": "max-age=60"}},
			{name: "on 405 too", method: "POST", path: "/a.txt", code: 405, want: map[string]string{"X-Multi": "a, b"}},
			{name: "vary merged", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "br"}, code: 200,
				want: map[string]string{"Vary": "Origin, Accept-Encoding"}},
			{name: "listing default type", path: "/list/", code: 200, check: func(t *testing.T, _ *http.Response, body string) {
				if !strings.Contains(body, `<td class="type">application/<wbr>x-unknown</td>`) {
					t.Error("listing does not use DefaultType")
				}
			}},
		})
	})
	t.Run("server header from Headers", func(t *testing.T) {
		s := newTestServer(t, Config{Root: root, ServerHeader: "gotwistd/1", Headers: [][2]string{{"server", "custom"}}})
		resp, _ := s.do(t, "GET", "/a.txt", nil)
		if got := resp.Header.Values("Server"); len(got) != 1 || got[0] != "custom" {
			t.Errorf("Server = %q, want [custom]", got)
		}
	})
	t.Run("ignore ext", func(t *testing.T) {
		s := newTestServer(t, Config{Root: root, IgnoreExt: []string{".html", ".txt"}})
		runCases(t, s, []serveCase{
			{name: "html", path: "/about", code: 200, body: str("ABOUT"), want: map[string]string{"Content-Type": "text/html"}},
			{name: "txt", path: "/a", code: 200, body: str("hello world\n"), want: map[string]string{"Content-Type": "text/plain"}},
			{name: "in subdir", path: "/list/one", code: 200, body: str("1")},
			{name: "existing wins", path: "/a.txt", code: 200},
			{name: "no star without allow", path: "/foo", code: 404},
			{name: "missing", path: "/zzz", code: 404},
		})
	})
	t.Run("allow ignore ext", func(t *testing.T) {
		s := newTestServer(t, Config{Root: root, AllowIgnoreExt: true})
		runCases(t, s, []serveCase{
			{name: "any ext", path: "/foo", code: 200, body: str("FOO"), want: map[string]string{"Content-Type": "text/html"}},
			{name: "first by name", path: "/list/one", code: 200, body: str("1")},
			{name: "dir by prefix", path: "/deep/er/file", code: 200, body: str("deep")},
			{name: "no match", path: "/zzz", code: 404},
			{name: "no dotfile via ext", path: "/.hidden", code: 404},
		})
	})
	t.Run("custom indexes", func(t *testing.T) {
		s := newTestServer(t, Config{Root: root, Indexes: []string{"index.htm"}})
		runCases(t, s, []serveCase{
			{name: "htm", path: "/dir/", code: 200, body: str("INDEX HTM")},
			{name: "listing when none", path: "/dir2/", code: 200, want: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		})
	})
	t.Run("serve dotfiles", func(t *testing.T) {
		s := newTestServer(t, Config{Root: root, ServeDotfiles: true})
		runCases(t, s, []serveCase{
			{name: "dotfile", path: "/.hidden", code: 200, body: str("HIDDEN")},
			{name: "dot dir", path: "/.git/config", code: 200, body: str("GITCONFIG")},
			{name: "dot-dot still refused", path: "/dir/../a.txt", code: 404},
			{name: "listing shows dotfiles", path: "/list/", code: 200, check: func(t *testing.T, _ *http.Response, body string) {
				if !strings.Contains(body, ".dotfile-not-listed") {
					t.Error("dotfile not listed with ServeDotfiles")
				}
			}},
		})
	})
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty root", Config{}, "no root directory given"},
		{"missing root", Config{Root: filepath.Join(dir, "nope")}, "does not exist"},
		{"root is a file", Config{Root: file}, "is not a directory"},
		{"index with slash", Config{Root: dir, Indexes: []string{"a/b"}}, `index name "a/b"`},
		{"index dot-dot", Config{Root: dir, Indexes: []string{".."}}, "plain file name"},
		{"ext with slash", Config{Root: dir, IgnoreExt: []string{"/../x"}}, "ignored extension"},
		{"bad header name", Config{Root: dir, Headers: [][2]string{{"Bad Name", "v"}}}, "not a valid HTTP token"},
		{"framing header", Config{Root: dir, Headers: [][2]string{{"content-length", "0"}}}, "framing"},
		{"header injection", Config{Root: dir, Headers: [][2]string{{"X", "a\r\nSet-Cookie: x"}}}, "line break"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

// TestCacheSeesChanges: a cached file that changes is served anew, even
// with the same size.
func TestCacheSeesChanges(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"c.txt": "version-1"})
	// The file was just created (ctime is now): pretend time has passed so
	// it is out of the racy window, until late is cleared.
	var late atomic.Bool
	late.Store(true)
	s := newTestServerNow(t, Config{Root: root}, func() time.Time {
		if late.Load() {
			return laterClock()
		}
		return time.Now()
	})
	_, body := s.do(t, "GET", "/c.txt", nil)
	if body != "version-1" {
		t.Fatal(body)
	}
	if e := s.h.cache.get("c.txt"); e == nil || e.data == nil {
		t.Fatal("old file not cached in memory")
	}
	p := filepath.Join(root, "c.txt")
	if err := os.WriteFile(p, []byte("version-2"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Restore the old mtime: only ctime (and maybe inode) tell the change.
	if err := os.Chtimes(p, testMtime, testMtime); err != nil {
		t.Fatal(err)
	}
	resp, body := s.do(t, "GET", "/c.txt", nil)
	if body != "version-2" {
		t.Fatalf("served %q after the change, want version-2", body)
	}
	if resp.Header.Get("Last-Modified") != testLastMod {
		t.Errorf("Last-Modified %q", resp.Header.Get("Last-Modified"))
	}
	// A file changed just now is served but not kept in memory.
	late.Store(false)
	if err := os.WriteFile(p, []byte("version-3"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, body = s.do(t, "GET", "/c.txt", nil); body != "version-3" {
		t.Fatalf("served %q, want version-3", body)
	}
	if e := s.h.cache.get("c.txt"); e != nil && e.data != nil {
		t.Error("a file changed within the racy window was cached in memory")
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if resp, _ = s.do(t, "GET", "/c.txt", nil); resp.StatusCode != 404 {
		t.Errorf("removed file: %d", resp.StatusCode)
	}
}

// TestSymlinks: links are followed by default (as twistd), and refused
// with NoFollowSymlinks, whether or not openat2 is used.
func TestSymlinks(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	writeTree(t, base, map[string]string{"root/in.txt": "IN", "root/d/f.txt": "DF", "outside/out.txt": "OUT"})
	for link, target := range map[string]string{
		"root/link-out.txt": "../outside/out.txt",
		"root/link-dir":     outside,
		"root/link-in.txt":  "in.txt",
		"root/d/up":         "..",
		"root/dangling":     "nowhere",
	} {
		if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	follow := newTestServer(t, Config{Root: root})
	runCases(t, follow, []serveCase{
		{name: "follow out of root", path: "/link-out.txt", code: 200, body: str("OUT")},
		{name: "follow dir link", path: "/link-dir/out.txt", code: 200, body: str("OUT")},
		{name: "follow in root", path: "/link-in.txt", code: 200, body: str("IN")},
		{name: "dangling", path: "/dangling", code: 404},
		{name: "listing follows", path: "/", code: 200, check: func(t *testing.T, _ *http.Response, body string) {
			if !strings.Contains(body, `<a href="link-dir/">link-dir/</a>`) || strings.Contains(body, "dangling") {
				t.Errorf("listing: %s", body)
			}
		}},
	})
	for _, walk := range []bool{false, true} {
		t.Run(fmt.Sprintf("nofollow walk=%v", walk), func(t *testing.T) {
			if !walk && !haveOpenat2 {
				t.Skip("no openat2 on this system")
			}
			// The root itself may be reached through a link.
			rootLink := filepath.Join(base, fmt.Sprintf("rootlink-%v", walk))
			if err := os.Symlink(root, rootLink); err != nil {
				t.Fatal(err)
			}
			s := newTestServer(t, Config{Root: rootLink, NoFollowSymlinks: true, seams: seams{forceWalk: walk}})
			runCases(t, s, []serveCase{
				{name: "plain file", path: "/in.txt", code: 200, body: str("IN")},
				{name: "nested file", path: "/d/f.txt", code: 200, body: str("DF")},
				{name: "root listing", path: "/", code: 200, check: func(t *testing.T, _ *http.Response, body string) {
					if strings.Contains(body, "link-") || !strings.Contains(body, "in.txt") {
						t.Errorf("listing: %s", body)
					}
				}},
				{name: "link out", path: "/link-out.txt", code: 404, body: str(notFoundPage)},
				{name: "dir link", path: "/link-dir/out.txt", code: 404},
				{name: "dir link itself", path: "/link-dir/", code: 404},
				{name: "link in root", path: "/link-in.txt", code: 404},
				{name: "link to parent", path: "/d/up/in.txt", code: 404},
				{name: "dangling", path: "/dangling", code: 404},
			})
		})
	}
}

// TestSpecialFiles: a FIFO is never opened (which would block).
func TestSpecialFiles(t *testing.T) {
	root := t.TempDir()
	if err := mkfifo(filepath.Join(root, "fifo")); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	s := newTestServer(t, Config{Root: root})
	resp, _ := s.do(t, "GET", "/fifo", nil)
	if resp.StatusCode != 404 {
		t.Errorf("FIFO: %d, want 404", resp.StatusCode)
	}
	_, body := s.do(t, "GET", "/", nil)
	if strings.Contains(body, "fifo") {
		t.Error("FIFO listed")
	}
}

func TestErrorStatus(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"not exist", os.ErrNotExist, 404},
		{"wrapped not exist", fmt.Errorf("open: %w", os.ErrNotExist), 404},
		{"permission", os.ErrPermission, 403},
		{"not servable", errNotServable, 404},
		{"other", errors.New("disk on fire"), 500},
	}
	cases = append(cases, errnoCases()...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorStatus(tc.err); got != tc.want {
				t.Errorf("errorStatus(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

// TestInternalErrorNotLeaked: a 500's body is twistd's generic page and the
// error goes to ErrorLog.
func TestInternalErrorNotLeaked(t *testing.T) {
	root := t.TempDir()
	var logBuf bytes.Buffer
	h, err := New(Config{Root: root, ErrorLog: newTextLogger(&logBuf)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/x", nil)
	h.fail(rec, req, "x", errors.New("secret internal detail"))
	if rec.Code != 500 || rec.Body.String() != internalErrorPage {
		t.Errorf("500 page: %d %q", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logBuf.String(), "secret internal detail") {
		t.Errorf("error not logged: %q", logBuf.String())
	}
}

// TestSiblingAppears: a precompressed sibling created after its file was
// served is used once siblingTTL has passed.
func TestSiblingAppears(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"app.js": "plain"})
	var offset atomic.Int64
	offset.Store(int64(time.Hour))
	s := newTestServerNow(t, Config{Root: root}, func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	ae := map[string]string{"Accept-Encoding": "br, gzip"}
	for i := 0; i < 2; i++ { // the second request records the missing siblings
		if _, body := s.do(t, "GET", "/app.js", ae); body != "plain" {
			t.Fatalf("body %q", body)
		}
	}
	p := filepath.Join(root, "app.js.br")
	if err := os.WriteFile(p, []byte("BROTLI"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, testMtime, testMtime); err != nil {
		t.Fatal(err)
	}
	if _, body := s.do(t, "GET", "/app.js", ae); body != "plain" {
		t.Fatalf("within siblingTTL: %q, want the cached answer plain", body)
	}
	offset.Add(int64(siblingTTL + time.Second))
	resp, body := s.do(t, "GET", "/app.js", ae)
	if body != "BROTLI" || resp.Header.Get("Content-Encoding") != "br" {
		t.Fatalf("after siblingTTL: %q (%q), want BROTLI (br)", body, resp.Header.Get("Content-Encoding"))
	}
	// Removing it is seen at once.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, body := s.do(t, "GET", "/app.js", ae); body != "plain" {
		t.Fatalf("after removal: %q", body)
	}
}

// TestHTTP2 serves over TLS with HTTP/2, where there is no sendfile and
// headers travel as HPACK.
func TestHTTP2(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, testFiles)
	h, err := New(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	client := ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client.Transport.(*http.Transport).DisableCompression = true
	s := &srv{Server: ts, h: h, client: client}
	cases := []serveCase{
		{name: "big file", path: "/big.bin", code: 200, body: str(bigContent), check: func(t *testing.T, resp *http.Response, _ string) {
			if resp.ProtoMajor != 2 {
				t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
			}
		}},
		{name: "range", path: "/big.bin", hdr: map[string]string{"Range": "bytes=10-19"}, code: 206, body: str(bigContent[10:20])},
		{name: "multi range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1,6-7"}, code: 206,
			check: checkMultipart("text/plain", 12, []string{"he", "wo"})},
		{name: "304", path: "/a.txt", hdr: map[string]string{"If-Modified-Since": testLastMod}, code: 304},
		{name: "HEAD", method: "HEAD", path: "/a.txt", code: 200, body: str(""), want: map[string]string{"Content-Length": "12"}},
		{name: "redirect", path: "/dir", code: 302, want: map[string]string{"Location": "/dir/"}},
		{name: "listing", path: "/list/", code: 200, want: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "precompressed", path: "/pre/x.css", hdr: map[string]string{"Accept-Encoding": "br"}, code: 200, body: str("BROTLI")},
		{name: "404", path: "/nope", code: 404, body: str(notFoundPage)},
	}
	runCases(t, s, cases)
}

// TestLastModifiedNotInFuture: a file changed within the last second has
// an mtime that, rounded up as twistd rounds it, is later than the
// present: Last-Modified is then the present, never later than Date.
func TestLastModifiedNotInFuture(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"new.txt": "fresh"})
	now := time.Date(2026, 12, 6, 12, 0, 10, 500e6, time.UTC)
	mtime := now.Add(-300 * time.Millisecond) // 12:00:10.2, rounded up 12:00:11
	if err := os.Chtimes(filepath.Join(root, "new.txt"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	clock := now
	var mu sync.Mutex
	s := newTestServerNow(t, Config{Root: root}, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	resp, _ := s.do(t, "GET", "/new.txt", nil)
	if got, want := resp.Header.Get("Last-Modified"), "Sun, 06 Dec 2026 12:00:10 GMT"; got != want {
		t.Errorf("Last-Modified %q a moment after the change, want the present %q", got, want)
	}
	// Later, the mtime rounded up is in the past: it is sent, as twistd does.
	mu.Lock()
	clock = now.Add(5 * time.Second)
	mu.Unlock()
	resp, _ = s.do(t, "GET", "/new.txt", nil)
	if got, want := resp.Header.Get("Last-Modified"), "Sun, 06 Dec 2026 12:00:11 GMT"; got != want {
		t.Errorf("Last-Modified %q later, want %q", got, want)
	}
}
