package web

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// compressPage is a compressible HTML page of about 20 KiB.
func compressPage() string {
	var b strings.Builder
	for i := 0; b.Len() < 20000; i++ {
		fmt.Fprintf(&b, "<p>paragraph %d of a page gotwistd sends compressed</p>\n", i)
	}
	return b.String()
}

// decodeBody undoes a Content-Encoding.
func decodeBody(t *testing.T, coding string, b []byte) string {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	switch coding {
	case "":
	case "br":
		r = brotli.NewReader(r)
	case "zstd":
		d, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		r = d
	case "gzip":
		g, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = g
	default:
		t.Fatalf("unexpected Content-Encoding %q", coding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", coding, err)
	}
	return string(out)
}

var cacheHitsRE = regexp.MustCompile(`(?m)^gotwistd_cache_hits_total\{protocol="(http[12])"\} (\d+)$`)

// cacheHits reads the fast paths' answers from the server's metrics.
func cacheHits(t *testing.T, c *http.Client, base, proto string) int {
	t.Helper()
	_, body := get(t, c, "GET", base+"/metrics", nil)
	for _, m := range cacheHitsRE.FindAllStringSubmatch(body, -1) {
		if m[1] == proto {
			n, _ := strconv.Atoi(m[2])
			return n
		}
	}
	t.Fatalf("no cache hits metric for %s in %q", proto, body)
	return 0
}

// TestCompressEngines: every engine (gotwistd's and net/http's HTTP/1.1,
// both HTTP/2 ones) sends text files compressed as the request's
// Accept-Encoding prefers, byte for byte the file once decoded, with
// Vary and the coding's ETag, 304 for it, ranges of the file as it is,
// HEAD like GET; curl --compressed reads them; gotwistd's engines answer
// the repeated requests from their fast paths.
func TestCompressEngines(t *testing.T) {
	dir := t.TempDir()
	roots := writeCert(t, dir, 1)
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	page := compressPage()
	old := time.Now().Add(-time.Hour)
	for name, body := range map[string]string{"page.html": page, "logo.png": page} {
		p := filepath.Join(www, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	waitCacheable()
	engines := []struct {
		name  string
		args  []string
		tls   bool
		proto string
		fast  string // the metrics' protocol label of its fast path, "" for none
	}{
		{"h1 gotwistd", []string{"--listen", "tcp:0:interface=127.0.0.1"}, false, "HTTP/1.1", "http1"},
		{"h1 net/http", []string{"--listen", "tcp:0:interface=127.0.0.1", "--http1-engine=net/http"}, false, "HTTP/1.1", ""},
		{"h2 gotwistd", []string{"--listen", sslEndpoint("ssl", dir)}, true, "HTTP/2.0", "http2"},
		{"h2 net/http", []string{"--listen", sslEndpoint("ssl", dir), "--http2-engine=net/http"}, true, "HTTP/2.0", ""},
	}
	_, curlErr := exec.LookPath("curl")
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ts := startServer(t, append(append([]string{}, e.args...), "--path", www, "--metrics", "/metrics", "--no-access-log"))
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots},
				ForceAttemptHTTP2: true, DisableCompression: true}}
			base := "http://" + ts.addr(0)
			if e.tls {
				base = "https://" + ts.addr(0)
			}
			do := func(method, path string, hdr ...string) (*http.Response, string) {
				t.Helper()
				h := http.Header{}
				for i := 0; i+1 < len(hdr); i += 2 {
					h.Set(hdr[i], hdr[i+1])
				}
				resp, body := get(t, c, method, base+path, h)
				if resp.Proto != e.proto {
					t.Fatalf("%s: %s, want %s", path, resp.Proto, e.proto)
				}
				return resp, body
			}
			identity, _ := do("GET", "/page.html")
			etag := identity.Header.Get("Etag")
			if identity.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("identity response: Vary %q, want Accept-Encoding", identity.Header.Get("Vary"))
			}
			hits := 0
			if e.fast != "" {
				hits = cacheHits(t, c, base, e.fast)
			}
			const browser = "gzip, deflate, br, zstd"
			for _, tc := range []struct {
				ae, coding, suffix string
			}{
				{browser, "br", "-br"},
				{"zstd, gzip;q=0.5", "zstd", "-zst"},
				{"gzip", "gzip", "-gz"},
				{"br;q=0, zstd;q=0, *", "gzip", "-gz"},
			} {
				for round := range 3 { // the first makes the bytes, the next are cached
					resp, body := do("GET", "/page.html", "Accept-Encoding", tc.ae)
					if got := resp.Header.Get("Content-Encoding"); got != tc.coding {
						t.Fatalf("%q round %d: Content-Encoding %q, want %q", tc.ae, round, got, tc.coding)
					}
					if decodeBody(t, tc.coding, []byte(body)) != page {
						t.Errorf("%q round %d: the body does not decode to the file", tc.ae, round)
					}
					if len(body) >= len(page)/4 {
						t.Errorf("%q round %d: %d bytes for a %d-byte page", tc.ae, round, len(body), len(page))
					}
					if want := etag[:len(etag)-1] + tc.suffix + `"`; resp.Header.Get("Etag") != want || resp.Header.Get("Vary") != "Accept-Encoding" {
						t.Errorf("%q round %d: ETag %s Vary %q, want %s and Accept-Encoding", tc.ae, round, resp.Header.Get("Etag"), resp.Header.Get("Vary"), want)
					}
					head, hbody := do("HEAD", "/page.html", "Accept-Encoding", tc.ae)
					if hbody != "" || head.Header.Get("Content-Length") != strconv.Itoa(len(body)) || head.Header.Get("Etag") != resp.Header.Get("Etag") {
						t.Errorf("%q round %d: HEAD: Content-Length %s ETag %s, GET's %d bytes and %s", tc.ae, round,
							head.Header.Get("Content-Length"), head.Header.Get("Etag"), len(body), resp.Header.Get("Etag"))
					}
					nm, _ := do("GET", "/page.html", "Accept-Encoding", tc.ae, "If-None-Match", resp.Header.Get("Etag"))
					if nm.StatusCode != 304 || nm.Header.Get("Vary") != "Accept-Encoding" {
						t.Errorf("%q round %d: If-None-Match of its ETag: %d, Vary %q", tc.ae, round, nm.StatusCode, nm.Header.Get("Vary"))
					}
				}
			}
			if e.fast != "" {
				// 3 rounds x 4 codings x GET and HEAD, less the first
				// round's GETs (they make the bytes) and HEADs (the
				// siblings are found missing by the GET before).
				if got := cacheHits(t, c, base, e.fast) - hits; got < 12 {
					t.Errorf("the fast path answered %d of the compressed requests, want at least 12", got)
				}
			}
			rng, body := do("GET", "/page.html", "Accept-Encoding", browser, "Range", "bytes=100-199")
			if rng.StatusCode != 206 || body != page[100:200] || rng.Header.Get("Content-Encoding") != "" || rng.Header.Get("Etag") != etag {
				t.Errorf("Range: %d %q, Content-Encoding %q, ETag %s", rng.StatusCode, body, rng.Header.Get("Content-Encoding"), rng.Header.Get("Etag"))
			}
			png, body := do("GET", "/logo.png", "Accept-Encoding", browser)
			if png.Header.Get("Content-Encoding") != "" || body != page {
				t.Errorf("image/png: Content-Encoding %q", png.Header.Get("Content-Encoding"))
			}
			if curlErr != nil {
				return
			}
			args := []string{"-sS", "--compressed", "-D", "-", "-o", filepath.Join(t.TempDir(), "page")}
			out := args[len(args)-1]
			if e.tls {
				args = append(args, "--http2", "--cacert", filepath.Join(dir, "cert.pem"))
			}
			for range 2 {
				hdr, err := exec.Command("curl", append(args, base+"/page.html")...).CombinedOutput()
				if err != nil {
					t.Fatalf("curl --compressed: %v: %s", err, hdr)
				}
				got, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if !regexp.MustCompile(`(?mi)^content-encoding: (br|zstd)\r$`).Match(hdr) || string(got) != page {
					t.Errorf("curl --compressed: %s, body equal to the file: %v", hdr, string(got) == page)
				}
			}
		})
	}
}

// TestCompressOptionsEngines: --no-compress sends files as they are;
// --compress-min-size raises the threshold.
func TestCompressOptionsEngines(t *testing.T) {
	www := siteTree(t)
	page := compressPage()
	if err := os.WriteFile(filepath.Join(www, "big.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		coding string
	}{
		{nil, "gzip"},
		{[]string{"--no-compress"}, ""},
		{[]string{"--compress-min-size", "30000"}, ""},
		{[]string{"--compress-min-size", "1000"}, "gzip"},
	} {
		ts := startServer(t, append([]string{"--listen", "tcp:0:interface=127.0.0.1", "--path", www, "--no-access-log"}, tc.args...))
		c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		resp, body := get(t, c, "GET", "http://"+ts.addr(0)+"/big.html", http.Header{"Accept-Encoding": {"gzip"}})
		if resp.Header.Get("Content-Encoding") != tc.coding || decodeBody(t, tc.coding, []byte(body)) != page {
			t.Errorf("%v: Content-Encoding %q, want %q", tc.args, resp.Header.Get("Content-Encoding"), tc.coding)
		}
	}
	for _, bad := range []string{"0", "-1", "x", "1k"} {
		if _, err := ParseArgs([]string{"--path", www, "--compress-min-size", bad}); err == nil || !strings.Contains(err.Error(), "--compress-min-size") {
			t.Errorf("--compress-min-size %s: %v, want an error naming the option", bad, err)
		}
	}
}
