package static

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

func TestCodingQ(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		want   [3]int // br, zstd, gzip
		choice string // "" for none
	}{
		{"none", nil, [3]int{0, 0, 0}, ""},
		{"empty", []string{""}, [3]int{0, 0, 0}, ""},
		{"chromium", []string{"gzip, deflate, br, zstd"}, [3]int{1000, 1000, 1000}, "br"},
		{"firefox", []string{"gzip, deflate, br"}, [3]int{1000, 0, 1000}, "br"},
		{"curl --compressed", []string{"deflate, gzip, br, zstd"}, [3]int{1000, 1000, 1000}, "br"},
		{"gzip only", []string{"gzip"}, [3]int{0, 0, 1000}, "gzip"},
		{"x-gzip", []string{"x-gzip"}, [3]int{0, 0, 1000}, "gzip"},
		{"q prefers gzip", []string{"gzip;q=1, br;q=0.5, zstd;q=0.9"}, [3]int{500, 900, 1000}, "gzip"},
		{"q prefers zstd", []string{"br;q=0.8,zstd;q=0.801"}, [3]int{800, 801, 0}, "zstd"},
		{"br refused", []string{"br;q=0, gzip"}, [3]int{0, 0, 1000}, "gzip"},
		{"q=0.000", []string{"gzip;q=0.000"}, [3]int{0, 0, 0}, ""},
		{"q=1.000", []string{"zstd;q=1.000"}, [3]int{0, 1000, 0}, "zstd"},
		{"spaces and case", []string{" GZip ; Q = 0.3 , BR;q=0.2"}, [3]int{200, 0, 300}, "gzip"},
		{"star", []string{"*"}, [3]int{1000, 1000, 1000}, "br"},
		{"star, br excluded", []string{"*;q=0.5, br;q=0"}, [3]int{0, 500, 500}, "zstd"},
		{"star refused, gzip listed", []string{"gzip, *;q=0"}, [3]int{0, 0, 1000}, "gzip"},
		{"identity;q=0 alone", []string{"identity;q=0"}, [3]int{0, 0, 0}, ""},
		{"identity;q=0 with gzip", []string{"identity;q=0, gzip"}, [3]int{0, 0, 1000}, "gzip"},
		{"deflate only", []string{"deflate"}, [3]int{0, 0, 0}, ""},
		{"two fields", []string{"gzip;q=0.2", "br;q=0.1"}, [3]int{100, 0, 200}, "gzip"},
		{"repeated coding: the last counts", []string{"gzip, gzip;q=0"}, [3]int{0, 0, 0}, ""},
		{"malformed q ignored", []string{"br;q=2, gzip;q=0.5x, zstd;q=.5"}, [3]int{0, 0, 0}, ""},
		{"too many decimals", []string{"gzip;q=0.1234"}, [3]int{0, 0, 0}, ""},
		{"q over one", []string{"gzip;q=1.001"}, [3]int{0, 0, 0}, ""},
		{"other parameter", []string{"gzip;level=9"}, [3]int{0, 0, 1000}, "gzip"},
		{"empty elements", []string{",,gzip,,"}, [3]int{0, 0, 1000}, "gzip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := codingQ(tc.values)
			if q != tc.want {
				t.Errorf("codingQ(%q) = %v, want %v", tc.values, q, tc.want)
			}
			got := ""
			if i := chooseCoding(q); i >= 0 {
				got = compressed[i].coding
			}
			if got != tc.choice {
				t.Errorf("chosen %q, want %q", got, tc.choice)
			}
		})
	}
}

// FuzzCodingQ: any Accept-Encoding parses without a panic into weights
// from 0 to 1000, and the coding chosen has the highest of them.
func FuzzCodingQ(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "br;q=0.5, *;q=0.1", "identity;q=0", "gzip;q=1.000", "*;q=0, x-gzip", ";;q=,", "gzip;q=0.5;q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := codingQ([]string{s})
		best := 0
		for _, v := range q {
			if v < 0 || v > 1000 {
				t.Fatalf("codingQ(%q) = %v: weight out of range", s, q)
			}
			best = max(best, v)
		}
		i := chooseCoding(q)
		if (i < 0) != (best == 0) || i >= 0 && q[i] != best {
			t.Fatalf("chooseCoding(%v) = %d", q, i)
		}
	})
}

func TestCompressibleType(t *testing.T) {
	for ctype, want := range map[string]bool{
		"text/html": true, "text/css; charset=utf-8": true, "application/javascript": true, "text/javascript": true,
		"application/json": true, "application/ld+json": true, "image/svg+xml": true, "application/wasm": true,
		"application/xml": true, "application/atom+xml": true, "Text/Plain": true,
		"image/png": false, "image/jpeg": false, "application/gzip": false, "video/mp4": false,
		"application/octet-stream": false, "font/woff2": false, "application/zstd": false,
	} {
		if got := compressibleType(ctype); got != want {
			t.Errorf("compressibleType(%q) = %v, want %v", ctype, got, want)
		}
	}
}

// decode undoes a Content-Encoding.
func decode(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch coding {
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "zstd":
		d, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		r = d
	case "gzip":
		g, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = g
	case "":
		return b
	default:
		t.Fatalf("unknown coding %q", coding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", coding, err)
	}
	return out
}

// textPage is a compressible page of n bytes.
func textPage(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "<p>line %d of a page served compressed</p>\n", i)
	}
	return b.String()[:n]
}

func serve(h *Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestCompressResponses: which responses are compressed, with which
// coding, headers and validators, and that each decodes to the file.
func TestCompressResponses(t *testing.T) {
	page := textPage(5000)
	big := textPage(300 << 10) // above the memory cache's limit: read from the file
	files := map[string]string{
		"page.html": page, "big.js": big, "small.css": "b{}", "image.png": page, "limit.txt": textPage(400),
		"pre.html": page, "pre.html.gz": "precompressed gzip", "huge.json": textPage(compressMaxFile + 1),
	}
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, files)
			h, err := New(Config{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			if cached {
				h.now = laterClock // out of the racy window: cached
			}
			identityETag := serve(h, "GET", "/page.html").Header().Get("Etag")
			cases := []struct {
				name, path string
				hdr        []string
				coding     string // Content-Encoding, "" for none
				vary       bool
				status     int
			}{
				{"chromium", "/page.html", []string{"Accept-Encoding", "gzip, deflate, br, zstd"}, "br", true, 200},
				{"zstd", "/page.html", []string{"Accept-Encoding", "zstd"}, "zstd", true, 200},
				{"gzip preferred by q", "/page.html", []string{"Accept-Encoding", "br;q=0.5, gzip"}, "gzip", true, 200},
				{"no Accept-Encoding", "/page.html", nil, "", true, 200},
				{"deflate only", "/page.html", []string{"Accept-Encoding", "deflate"}, "", true, 200},
				{"star", "/page.html", []string{"Accept-Encoding", "*"}, "br", true, 200},
				{"large file from disk", "/big.js", []string{"Accept-Encoding", "gzip"}, "gzip", true, 200},
				{"large file, brotli", "/big.js", []string{"Accept-Encoding", "br"}, "br", true, 200},
				{"below the minimum size", "/small.css", []string{"Accept-Encoding", "gzip"}, "", false, 200},
				{"not a text type", "/image.png", []string{"Accept-Encoding", "gzip"}, "", false, 200},
				{"above the largest size", "/huge.json", []string{"Accept-Encoding", "gzip"}, "", false, 200},
				{"precompressed sibling wins", "/pre.html", []string{"Accept-Encoding", "gzip, br"}, "gzip", true, 200},
				{"range: identity bytes", "/page.html", []string{"Accept-Encoding", "br", "Range", "bytes=10-19"}, "", true, 206},
				{"HEAD", "/page.html", []string{"Accept-Encoding", "br"}, "br", true, 200},
				{"identity ETag does not match the br body", "/page.html", []string{"Accept-Encoding", "br", "If-None-Match", identityETag}, "br", true, 200},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					method := "GET"
					if tc.name == "HEAD" {
						method = "HEAD"
					}
					for round := range 2 { // made, then from the cache
						rec := serve(h, method, tc.path, tc.hdr...)
						hd := rec.Header()
						if rec.Code != tc.status {
							t.Fatalf("round %d: status %d, want %d", round, rec.Code, tc.status)
						}
						if got := hd.Get("Content-Encoding"); got != tc.coding {
							t.Fatalf("round %d: Content-Encoding %q, want %q", round, got, tc.coding)
						}
						if got := hd.Get("Vary") == "Accept-Encoding"; got != tc.vary {
							t.Errorf("round %d: Vary %q, want Accept-Encoding: %v", round, hd.Get("Vary"), tc.vary)
						}
						etag := hd.Get("Etag")
						if tc.coding != "" && tc.name != "precompressed sibling wins" {
							suffix := map[string]string{"br": `-br"`, "zstd": `-zst"`, "gzip": `-gz"`}[tc.coding]
							if etag != identityETag[:len(identityETag)-1]+suffix && tc.path == "/page.html" || !strings.HasSuffix(etag, suffix) {
								t.Errorf("round %d: ETag %s, want the file's %s with %s", round, etag, identityETag, suffix)
							}
						}
						if method == "HEAD" {
							if rec.Body.Len() != 0 {
								t.Errorf("HEAD has a body")
							}
							get := serve(h, "GET", tc.path, tc.hdr...)
							if hd.Get("Content-Length") != get.Header().Get("Content-Length") || etag != get.Header().Get("Etag") {
								t.Errorf("HEAD headers %v differ from GET's %v", hd, get.Header())
							}
							continue
						}
						if hd.Get("Content-Length") != fmt.Sprint(rec.Body.Len()) {
							t.Errorf("Content-Length %s for a body of %d", hd.Get("Content-Length"), rec.Body.Len())
						}
						want := files[strings.TrimPrefix(tc.path, "/")]
						var body []byte
						switch {
						case tc.status == 206:
							want, body = want[10:20], rec.Body.Bytes()
						case tc.name == "precompressed sibling wins":
							want, body = files["pre.html.gz"], rec.Body.Bytes()
						default:
							body = decode(t, tc.coding, rec.Body.Bytes())
						}
						if string(body) != want {
							t.Errorf("round %d: body (%d bytes decoded) is not the file's (%d bytes)", round, len(body), len(want))
						}
						if tc.coding != "" && rec.Body.Len() >= len(want) && tc.name != "precompressed sibling wins" {
							t.Errorf("compressed body of %d bytes for a file of %d", rec.Body.Len(), len(want))
						}
					}
				})
			}

			// The compressed bytes are kept once the file is out of the
			// racy window, whether the file itself is cached or not.
			for _, key := range []string{"page.html\x00~br", "big.js\x00~gz", "big.js\x00~br"} {
				if kept := h.cache.get(key) != nil; kept != cached {
					t.Errorf("%q kept in the cache: %v, want %v", key, kept, cached)
				}
			}
			// 304 for the compressed ETag, with its Vary and ETag.
			br := serve(h, "GET", "/page.html", "Accept-Encoding", "br")
			nm := serve(h, "GET", "/page.html", "Accept-Encoding", "br", "If-None-Match", br.Header().Get("Etag"))
			if nm.Code != 304 || nm.Header().Get("Etag") != br.Header().Get("Etag") || nm.Header().Get("Vary") != "Accept-Encoding" {
				t.Errorf("If-None-Match of the br ETag: %d %v", nm.Code, nm.Header())
			}
			// If-Range of the br ETag on a Range: the range is of the file
			// as it is, whose ETag differs, so the whole file is sent.
			ir := serve(h, "GET", "/page.html", "Accept-Encoding", "br", "Range", "bytes=0-9", "If-Range", br.Header().Get("Etag"))
			if ir.Code != 200 || ir.Body.String() != page || ir.Header().Get("Content-Encoding") != "" {
				t.Errorf("Range with the br ETag in If-Range: %d %v", ir.Code, ir.Header())
			}
		})
	}
}

func TestCompressOptions(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"page.html": textPage(5000), "small.css": textPage(300)})
	off, err := New(Config{Root: root, NoCompress: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(off, "GET", "/page.html", "Accept-Encoding", "gzip, br, zstd")
	if rec.Header().Get("Content-Encoding") != "" || rec.Header().Get("Vary") != "" || rec.Body.Len() != 5000 {
		t.Errorf("NoCompress: %v, %d bytes", rec.Header(), rec.Body.Len())
	}
	hi, err := New(Config{Root: root, CompressMinSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := serve(hi, "GET", "/small.css", "Accept-Encoding", "gzip").Header().Get("Content-Encoding"); got != "" {
		t.Errorf("a 300-byte file with CompressMinSize 1000: Content-Encoding %q", got)
	}
	if got := serve(hi, "GET", "/page.html", "Accept-Encoding", "gzip").Header().Get("Content-Encoding"); got != "gzip" {
		t.Errorf("a 5000-byte file with CompressMinSize 1000: Content-Encoding %q", got)
	}
}

// TestCachedAccepting: the fast path answers a browser's Accept-Encoding
// with what ServeHTTP gives, once ServeHTTP made the compressed bytes and
// found no precompressed sibling; it declines while it cannot know.
func TestCachedAccepting(t *testing.T) {
	root := t.TempDir()
	page := textPage(5000)
	writeTree(t, root, map[string]string{"page.html": page, "pre.html": page, "pre.html.br": "BR", "tiny.txt": "tiny", "image.png": page})
	h, err := New(Config{Root: root, Headers: [][2]string{{"Vary", "Cookie"}}})
	if err != nil {
		t.Fatal(err)
	}
	h.now = laterClock
	const browser = "gzip, deflate, br, zstd"
	for _, p := range []string{"/page.html", "/pre.html", "/tiny.txt", "/image.png"} {
		serve(h, "GET", p) // the identity entry, cached
	}
	if _, _, ok := h.CachedAccepting("/page.html", browser, false); ok {
		t.Fatal("answered before the siblings were looked for and the br bytes made")
	}
	for _, tc := range []struct {
		path, ae string
		coding   string
	}{
		{"/page.html", browser, "br"},
		{"/page.html", "gzip", "gzip"},
		{"/page.html", "zstd;q=1, br;q=0.1", "zstd"},
		{"/page.html", "deflate", ""},
		{"/page.html", "", ""},
		{"/tiny.txt", browser, ""},
		{"/image.png", browser, ""},
	} {
		want := serve(h, "GET", tc.path, "Accept-Encoding", tc.ae)
		head, body, ok := h.CachedAccepting(tc.path, tc.ae, false)
		if !ok {
			t.Errorf("%s with %q: not answered from the cache", tc.path, tc.ae)
			continue
		}
		got := parseLines(t, head)
		wh := want.Header().Clone()
		wh.Del("Date")
		if !equalHeaders(got, wh) {
			t.Errorf("%s with %q:\nCached:    %v\nServeHTTP: %v", tc.path, tc.ae, got, wh)
		}
		if got.Get("Content-Encoding") != tc.coding || !bytes.Equal(body, want.Body.Bytes()) {
			t.Errorf("%s with %q: coding %q, body differs: %v", tc.path, tc.ae, got.Get("Content-Encoding"), !bytes.Equal(body, want.Body.Bytes()))
		}
		if string(decode(t, tc.coding, body)) != map[string]string{"/page.html": page, "/tiny.txt": "tiny", "/image.png": page}[tc.path] {
			t.Errorf("%s with %q: body does not decode to the file", tc.path, tc.ae)
		}
	}
	// A sibling exists: only the full path serves it.
	serve(h, "GET", "/pre.html", "Accept-Encoding", browser)
	if _, _, ok := h.CachedAccepting("/pre.html", browser, false); ok {
		t.Error("answered a file with a precompressed sibling")
	}
	if rec := serve(h, "GET", "/pre.html", "Accept-Encoding", browser); rec.Body.String() != "BR" {
		t.Errorf("the sibling did not answer: %q", rec.Body.String())
	}
}

// pageHandler serves a directory holding page.html, 5000 bytes of text,
// at a time when it may be cached.
func pageHandler(b *testing.B) *Handler {
	b.Helper()
	root := b.TempDir()
	writeTree(b, root, map[string]string{"page.html": textPage(5000)})
	h, err := New(Config{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	h.now = laterClock
	return h
}

// BenchmarkCachedAccepting: the fast path's cost for a browser's request
// of a cached, compressed page.
func BenchmarkCachedAccepting(b *testing.B) {
	h := pageHandler(b)
	const browser = "gzip, deflate, br, zstd"
	serve(h, "GET", "/page.html")
	serve(h, "GET", "/page.html", "Accept-Encoding", browser)
	serve(h, "GET", "/page.html", "Accept-Encoding", browser)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := h.CachedAccepting("/page.html", browser, false); !ok {
			b.Fatal("not answered")
		}
	}
}

// BenchmarkServeCompressed: the full handler's cost for the same request.
func BenchmarkServeCompressed(b *testing.B) {
	h := pageHandler(b)
	req := httptest.NewRequest("GET", "/page.html", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
