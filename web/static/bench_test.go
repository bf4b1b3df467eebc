package static

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so a benchmark
// measures the handler rather than the recorder.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (d *discardWriter) Header() http.Header  { return d.h }
func (d *discardWriter) WriteHeader(code int) { d.code = code }
func (d *discardWriter) Write(p []byte) (int, error) {
	d.n += len(p)
	return len(p), nil
}

func benchHandler(b *testing.B, files map[string]string) *Handler {
	b.Helper()
	root := b.TempDir()
	writeTree(b, root, files)
	h, err := New(Config{Root: root, ServerHeader: "gotwistd/bench"})
	if err != nil {
		b.Fatal(err)
	}
	h.now = laterClock
	return h
}

func benchServe(b *testing.B, h *Handler, target string, hdr map[string]string, wantCode int) {
	req := httptest.NewRequest("GET", target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := &discardWriter{h: make(http.Header)}
	h.ServeHTTP(w, req) // fill the cache
	if w.code != wantCode {
		b.Fatalf("status %d, want %d", w.code, wantCode)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

var smallPage = "<!DOCTYPE html><html><head><title>small</title></head><body><p>A small page of about 160 bytes, as in the benchmark harness.</p></body></html>\n"

// BenchmarkSmallFile is a GET of a cached 160-byte page through the
// handler: one stat(2), no open(2).
func BenchmarkSmallFile(b *testing.B) {
	h := benchHandler(b, map[string]string{"small.html": smallPage})
	benchServe(b, h, "/small.html", nil, 200)
}

// BenchmarkSmallFileRecorder is the same with httptest.ResponseRecorder.
func BenchmarkSmallFileRecorder(b *testing.B) {
	h := benchHandler(b, map[string]string{"small.html": smallPage})
	req := httptest.NewRequest("GET", "/small.html", nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// BenchmarkSmallFileAcceptEncoding adds the Accept-Encoding h2load and
// browsers send, with no precompressed sibling on disk.
func BenchmarkSmallFileAcceptEncoding(b *testing.B) {
	h := benchHandler(b, map[string]string{"small.html": smallPage})
	benchServe(b, h, "/small.html", map[string]string{"Accept-Encoding": "gzip, deflate, br, zstd"}, 200)
}

// BenchmarkSmallFilePrecompressed serves small.html.br from the cache.
func BenchmarkSmallFilePrecompressed(b *testing.B) {
	h := benchHandler(b, map[string]string{"small.html": smallPage, "small.html.br": "BR"})
	benchServe(b, h, "/small.html", map[string]string{"Accept-Encoding": "br"}, 200)
}

// BenchmarkIndex is a GET of "/" answered by index.html.
func BenchmarkIndex(b *testing.B) {
	h := benchHandler(b, map[string]string{"index.html": smallPage})
	benchServe(b, h, "/", nil, 200)
}

// BenchmarkNotModified is a conditional GET answered 304.
func BenchmarkNotModified(b *testing.B) {
	h := benchHandler(b, map[string]string{"small.html": smallPage})
	benchServe(b, h, "/small.html", map[string]string{"If-Modified-Since": testLastMod}, 304)
}

// BenchmarkLargeFile reads a 300 KiB file (too big for the cache) each time.
func BenchmarkLargeFile(b *testing.B) {
	h := benchHandler(b, map[string]string{"big.bin": bigContent})
	b.SetBytes(int64(len(bigContent)))
	benchServe(b, h, "/big.bin", nil, 200)
}

// BenchmarkNotFound is a 404.
func BenchmarkNotFound(b *testing.B) {
	h := benchHandler(b, map[string]string{"small.html": smallPage})
	benchServe(b, h, "/missing.html", nil, 404)
}
