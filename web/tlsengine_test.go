package web

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLSEngines: on an ssl listener, HTTP/1.1 is served by gotwistd's
// engine unless --http1-engine=net/http or --http2-engine=net/http (then
// net/http serves both), and HTTP/2 is negotiated on every combination.
// Which engine answered shows in how each treats obsolete line folding:
// gotwistd's refuses it with its own 400, net/http joins the lines. Large
// files (mapped on plain sockets) and ranges arrive byte-exact over both
// protocols, and the access log and the metrics' protocol labels have
// the requests of each.
func TestTLSEngines(t *testing.T) {
	dir := t.TempDir()
	roots := writeCert(t, dir, 1)
	www := t.TempDir()
	big := make([]byte, 3<<20+7) // past the memory cache: served from the file
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(www, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("<p>small</p>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		ownH1 bool // gotwistd's HTTP/1.1 engine serves HTTP/1.1 over TLS
	}{
		{"default", nil, true},
		{"http1-engine net/http", []string{"--http1-engine=net/http"}, false},
		{"http2-engine net/http", []string{"--http2-engine=net/http"}, false},
		{"both net/http", []string{"--http1-engine=net/http", "--http2-engine=net/http"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--listen", sslEndpoint("ssl", dir), "--path", www, "--metrics", "/metrics"}, tc.flags...)
			ts := startServer(t, args)
			base := "https://" + ts.addr(0)

			h2 := newClient(roots)
			h1 := &http.Client{Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: roots},
				TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
			}}
			for _, c := range []struct {
				client *http.Client
				proto  string
			}{{h2, "HTTP/2.0"}, {h1, "HTTP/1.1"}} {
				for _, path := range []string{"/", "/big.bin"} {
					resp, body := get(t, c.client, "GET", base+path, nil)
					want := "<p>small</p>\n"
					if path == "/big.bin" {
						want = string(big)
					}
					if resp.StatusCode != 200 || resp.Proto != c.proto || body != want {
						t.Errorf("GET %s: %d %s, %d bytes; want 200 %s, %d bytes (equal: %v)", path, resp.StatusCode, resp.Proto, len(body), c.proto, len(want), body == want)
					}
				}
				for _, r := range []struct{ rng, want string }{
					{"bytes=1000-1999", string(big[1000:2000])},
					{"bytes=-5", string(big[len(big)-5:])},
					{"bytes=2097150-", string(big[2097150:])},
				} {
					resp, body := get(t, c.client, "GET", base+"/big.bin", http.Header{"Range": {r.rng}})
					if resp.StatusCode != 206 || resp.Proto != c.proto || body != r.want {
						t.Errorf("GET %s Range %s: %d %s, %d bytes; want 206, %d bytes", c.proto, r.rng, resp.StatusCode, resp.Proto, len(body), len(r.want))
					}
				}
			}

			// Five requests by each protocol, counted under its label.
			samples, _ := scrape(t, h1, base+"/metrics")
			for _, p := range []string{"http1", "http2"} {
				if got := samples[`gotwistd_http_requests_total{protocol="`+p+`",code="2xx"}`]; got != "5" {
					t.Errorf("%s 2xx requests = %q, want 5", p, got)
				}
			}

			// Obsolete line folding, over HTTP/1.1 on TLS.
			conn, err := tls.Dial("tcp", ts.addr(0), &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if tc.ownH1 {
				if resp.StatusCode != 400 || !bytes.Contains(body, []byte("obsolete line folding")) || resp.Header.Get("Server") != "gotwistd/1.2.3" {
					t.Errorf("folded header: %d %q (Server %q); want gotwistd's engine's 400", resp.StatusCode, body, resp.Header.Get("Server"))
				}
			} else if resp.StatusCode != 200 {
				t.Errorf("folded header: %d %q; want net/http's 200", resp.StatusCode, body)
			}

			ts.stop()
			if l := ts.log.find(`"GET /big.bin HTTP/1.1" 200 ` + "3145735"); l == "" {
				t.Errorf("no access line for the HTTP/1.1 GET of big.bin; log:\n%s", strings.Join(ts.log.all(), "\n"))
			}
			if l := ts.log.find(`"GET / HTTP/1.1" 200 13`); l == "" {
				t.Errorf("no access line for the HTTP/1.1 GET of /")
			}
		})
	}
}
