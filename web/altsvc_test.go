package web

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAltSvcFastPath: next to a quic listener, the ssl listener's fast
// paths (HTTP/1.1 and HTTP/2) still answer cached files, and their answers
// announce HTTP/3 with the Alt-Svc ServeHTTP's carry.
func TestAltSvcFastPath(t *testing.T) {
	t.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	dir := t.TempDir()
	roots := writeCert(t, dir, 1)
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	const page = "<p>announced</p>\n"
	p := filepath.Join(www, "page.html")
	if err := os.WriteFile(p, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	waitCacheable()
	ts := startServer(t, []string{"--listen", sslEndpoint("ssl", dir), "--listen", sslEndpoint("quic", dir),
		"--path", www, "--metrics", "/metrics", "--no-access-log"})
	wantAlt := `h3=":` + ts.port(1) + `"; ma=86400`
	base := "https://" + ts.addr(0)
	for _, tc := range []struct {
		name, proto, label string
		h2                 bool
	}{
		{"HTTP/1.1", "HTTP/1.1", "http1", false},
		{"HTTP/2", "HTTP/2.0", "http2", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: tc.h2}
			if !tc.h2 {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			c := &http.Client{Transport: tr}
			defer tr.CloseIdleConnections()
			for range 2 { // the handler's: they fill the cache
				get(t, c, "GET", base+"/page.html", nil)
			}
			before := cacheHits(t, c, base, tc.label)
			for i := range 3 {
				resp, body := get(t, c, "GET", base+"/page.html", nil)
				if resp.Proto != tc.proto || resp.StatusCode != 200 || body != page {
					t.Fatalf("request %d: %s %d %q", i, resp.Proto, resp.StatusCode, body)
				}
				if got := resp.Header.Get("Alt-Svc"); got != wantAlt {
					t.Errorf("request %d: Alt-Svc %q, want %q", i, got, wantAlt)
				}
				if n := len(resp.Header.Values("Alt-Svc")); n != 1 {
					t.Errorf("request %d: %d Alt-Svc fields", i, n)
				}
			}
			if hits := cacheHits(t, c, base, tc.label) - before; hits != 3 {
				t.Errorf("%d of 3 requests answered by the fast path, want 3", hits)
			}
		})
	}
}
