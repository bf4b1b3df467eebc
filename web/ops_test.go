package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/service"
)

// opsRoot makes a docroot with a file named like the health path, which
// the health path must win over.
func opsRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"index.html": "<p>home</p>\n", "healthz": "a file\n", "small.css": "p{}\n"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHealthAnswers(t *testing.T) {
	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", opsRoot(t), "--health", "/healthz"})
	c := newClient(nil)
	base := "http://" + ts.addr(0)
	for _, tc := range []struct {
		name, method, path string
		code               int
		body               string
	}{
		{"GET", "GET", "/healthz", 200, healthOK},
		{"HEAD", "HEAD", "/healthz", 200, ""},
		{"GET twice, from the cached check", "GET", "/healthz", 200, healthOK},
		{"POST", "POST", "/healthz", 405, "method not allowed\n"},
		{"query ignored", "GET", "/healthz?probe=1", 200, healthOK},
		{"other paths are the site's", "GET", "/healthz/", 404, ""},
		{"files still served", "GET", "/small.css", 200, "p{}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, c, tc.method, base+tc.path, nil)
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.code)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("%s %s: body %q, want %q", tc.method, tc.path, body, tc.body)
			}
			if tc.path == "/healthz" && tc.code == 200 {
				if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", cc)
				}
				if resp.Header.Get("Content-Length") != "3" {
					t.Errorf("Content-Length %q, want 3", resp.Header.Get("Content-Length"))
				}
			}
		})
	}
}

// TestHealthDrains stops a server with --drain-time: the health path
// answers 503 while every other request is still served, then the server
// stops accepting.
func TestHealthDrains(t *testing.T) {
	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", opsRoot(t),
		"--health", "/healthz", "--drain-time", "1m"})
	c := newClient(nil)
	base := "http://" + ts.addr(0)
	if resp, _ := get(t, c, "GET", base+"/healthz", nil); resp.StatusCode != 200 {
		t.Fatalf("before the stop: %d, want 200", resp.StatusCode)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(ctx) }()
	waitFor(t, "the drain to start", func() bool { return ts.log.find("Draining for 1m0s") != "" })
	resp, body := get(t, c, "GET", base+"/healthz", nil)
	if resp.StatusCode != 503 || body != healthDraining {
		t.Errorf("while draining: %d %q, want 503 %q", resp.StatusCode, body, healthDraining)
	}
	if resp, body := get(t, c, "GET", base+"/small.css", nil); resp.StatusCode != 200 || body != "p{}\n" {
		t.Errorf("a file while draining: %d %q, want 200 and the file", resp.StatusCode, body)
	}
	// The runner cancels on a second signal or at --shutdown-timeout:
	// the drain ends and the shutdown goes on.
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := c.Get(base + "/small.css"); err == nil {
		t.Errorf("after the shutdown the server still answers")
	}
	// The cleanup's Shutdown returns this one's result: the cancel's.
	ts.mu.Lock()
	ts.shutdownErr = nil
	ts.mu.Unlock()
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// scrape fetches url and returns the samples of the text format, as
// "name{labels}" -> "value".
func scrape(t *testing.T, c *http.Client, url string) (map[string]string, string) {
	t.Helper()
	resp, body := get(t, c, "GET", url, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != metricsContentType {
		t.Errorf("GET %s: Content-Type %q, want %q", url, ct, metricsContentType)
	}
	samples := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		samples[line[:i]] = line[i+1:]
	}
	return samples, body
}

// scrapeUntil scrapes until the sample name has the value want, for up to
// 10 s, and returns the last scrape. A request is counted once its handler
// has returned, which may be just after the client read the answer: a
// scrape on the same keep-alive connection comes after that, one on
// another connection (--metrics-listen) may not. Only for scrapes that
// do not count themselves.
func scrapeUntil(t *testing.T, c *http.Client, url, name, want string) (map[string]string, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		samples, text := scrape(t, c, url)
		if samples[name] == want || time.Now().After(deadline) {
			return samples, text
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// promtool runs `promtool check metrics` on a scrape.
func promtool(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus; ./scripts/test installs it)")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s\non:\n%s", err, out, text)
	}
}

// TestMetricsCount makes known requests over HTTP/1.1 (gotwistd's engine:
// its cache fast path and the full handler) and HTTP/2 (gotwistd's
// engine over TLS), then checks every counter they move, and that
// promtool accepts the page.
func TestMetricsCount(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir, 1)
	root := opsRoot(t)
	// The static handler caches a file 2 s after its last change.
	time.Sleep(2100 * time.Millisecond)
	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--listen", sslEndpoint("ssl", dir),
		"--path", root, "--metrics", "/metrics", "--no-access-log"})
	// No Accept-Encoding but where asked: the fast paths decline
	// requests that have one.
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, DisableCompression: true,
	}}
	plain, tlsBase := "http://"+ts.addr(0), "https://"+ts.addr(1)
	for range 3 {
		get(t, c, "GET", plain+"/small.css", nil) // the first fills the cache, then the fast path
	}
	get(t, c, "HEAD", plain+"/small.css", nil)                                     // fast path, no body
	get(t, c, "GET", plain+"/missing", nil)                                        // 404
	get(t, c, "GET", plain+"/small.css", http.Header{"Accept-Encoding": {"gzip"}}) // full handler
	resp, _ := get(t, c, "GET", tlsBase+"/small.css", nil)
	if resp.ProtoMajor != 2 {
		t.Fatalf("over TLS: HTTP/%d, want 2", resp.ProtoMajor)
	}

	samples, text := scrape(t, c, plain+"/metrics")
	for name, want := range map[string]string{
		`gotwistd_http_requests_total{protocol="http1",code="2xx"}`: "5",
		`gotwistd_http_requests_total{protocol="http1",code="4xx"}`: "1",
		`gotwistd_http_requests_total{protocol="http1",code="5xx"}`: "0",
		`gotwistd_http_requests_total{protocol="http2",code="2xx"}`: "1",
		`gotwistd_http_requests_total{protocol="http3",code="2xx"}`: "0",
		`gotwistd_cache_hits_total{protocol="http1"}`:               "3",
		`gotwistd_cache_hits_total{protocol="http2"}`:               "1",
		`gotwistd_http_response_body_bytes_total{protocol="http2"}`: "4",
		`gotwistd_connections_open`:                                 "2",
		`gotwistd_reloads_total{result="ok"}`:                       "0",
		`gotwistd_build_info{version="1.2.3"}`:                      "1",
		`gotwistd_handover_adopted_total`:                           "0",
	} {
		if got := samples[name]; got != want {
			t.Errorf("%s = %q, want %s", name, got, want)
		}
	}
	// The 404 page's size is the handler's business: more than the files.
	if b := samples[`gotwistd_http_response_body_bytes_total{protocol="http1"}`]; b == "" || len(b) < 2 {
		t.Errorf("http1 body bytes = %q, want the 3 files, the 404 page and the gzip answer", b)
	}
	promtool(t, text)

	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	samples, _ = scrape(t, c, plain+"/metrics")
	if got := samples[`gotwistd_reloads_total{result="ok"}`]; got != "1" {
		t.Errorf("after a reload: reloads ok = %q, want 1", got)
	}
	// The scrape before this one counts: 6 2xx over HTTP/1.1.
	if got := samples[`gotwistd_http_requests_total{protocol="http1",code="2xx"}`]; got != "6" {
		t.Errorf("after one scrape: http1 2xx = %q, want 6", got)
	}
}

// TestMetricsListen serves the metrics on their own endpoint only: the
// site's listener answers the path from its files (404 here).
func TestMetricsListen(t *testing.T) {
	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", opsRoot(t),
		"--metrics-listen", "tcp:0:interface=127.0.0.1", "--health", "/healthz"})
	c := newClient(nil)
	if resp, _ := get(t, c, "GET", "http://"+ts.addr(0)+"/metrics", nil); resp.StatusCode != 404 {
		t.Errorf("/metrics on the site's listener: %d, want 404", resp.StatusCode)
	}
	get(t, c, "GET", "http://"+ts.addr(0)+"/", nil)
	m := "http://" + ts.metricsLn.Stream.Addr().String()
	samples, text := scrapeUntil(t, c, m+"/metrics", `gotwistd_http_requests_total{protocol="http1",code="2xx"}`, "1")
	if got := samples[`gotwistd_http_requests_total{protocol="http1",code="2xx"}`]; got != "1" {
		t.Errorf("2xx = %q, want 1 (the site's /)", got)
		t.Log(text)
	}
	if got := samples[`gotwistd_http_requests_total{protocol="http1",code="4xx"}`]; got != "1" {
		t.Errorf("4xx = %q, want 1 (the site's 404; the metrics listener's own answers are not counted)", got)
	}
	promtool(t, text)
	if resp, body := get(t, c, "GET", m+"/healthz", nil); resp.StatusCode != 200 || body != healthOK {
		t.Errorf("/healthz on the metrics listener: %d %q, want 200 ok", resp.StatusCode, body)
	}
	if resp, _ := get(t, c, "GET", m+"/", nil); resp.StatusCode != 404 {
		t.Errorf("/ on the metrics listener: %d, want 404", resp.StatusCode)
	}
	if ts.log.find("Metrics on ") == "" {
		t.Errorf("no log line names the metrics listener: %q", ts.log.all())
	}
}

func TestOpsOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		err  string // "" for success
		want func(Config) bool
	}{
		{"health", []string{"--health", "/healthz"}, "", func(c Config) bool { return c.HealthPath == "/healthz" }},
		{"metrics", []string{"--metrics", "/m"}, "", func(c Config) bool { return c.MetricsPath == "/m" }},
		{"metrics-listen", []string{"--metrics-listen", "tcp:9100:interface=127.0.0.1"}, "", func(c Config) bool {
			return c.MetricsListen == "tcp:9100:interface=127.0.0.1" && c.MetricsPath == ""
		}},
		{"drain", []string{"--health", "/h", "--drain-time", "5"}, "", func(c Config) bool { return c.DrainTime == 5*time.Second }},
		{"exit-idle-time", []string{"--exit-idle-time", "30s"}, "", func(c Config) bool { return c.ExitIdleTime == 30*time.Second }},
		{"relative health path", []string{"--health", "healthz"}, `--health "healthz": give a path starting with /, such as /healthz`, nil},
		{"health path with a query", []string{"--health", "/h?x"}, `give a path starting with /`, nil},
		{"same paths", []string{"--health", "/x", "--metrics", "/x"}, "--health and --metrics both give /x", nil},
		{"drain without health", []string{"--drain-time", "5s"}, "--drain-time without --health", nil},
		{"bad idle time", []string{"--exit-idle-time", "soon"}, `--exit-idle-time "soon": give a duration`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseArgs(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, getopt.ErrUsage) {
					t.Fatalf("ParseArgs(%q) = %v, want a usage error containing %q", tc.args, err, tc.err)
				}
				return
			}
			if err != nil || !tc.want(cfg) {
				t.Fatalf("ParseArgs(%q) = %+v, %v", tc.args, cfg, err)
			}
		})
	}
}

// TestExitIdleTimeNeedsSystemd refuses --exit-idle-time with a socket
// gotwistd would bind itself: after the exit nothing would start it.
func TestExitIdleTimeNeedsSystemd(t *testing.T) {
	for _, tc := range []struct {
		name, bad string
		args      []string
	}{
		{"tcp", "tcp:8080", []string{"--listen", "tcp:8080"}},
		{"mixed", "unix:/run/x.sock", []string{"--listen", "systemd:domain=INET:index=0", "--listen", "unix:/run/x.sock"}},
		{"metrics listener", "tcp:9100", []string{"--listen", "systemd:domain=INET:index=0", "--metrics-listen", "tcp:9100"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseArgs(append(tc.args, "--exit-idle-time", "10s"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(cfg, service.Env{})
			want := fmt.Sprintf("--exit-idle-time needs every socket from systemd, but %s is bound by gotwistd itself", tc.bad)
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, getopt.ErrUsage) {
				t.Fatalf("New = %v, want a usage error containing %q", err, want)
			}
		})
	}
	cfg, err := ParseArgs([]string{"--listen", "ssl:systemd:domain=INET:index=0:privateKey=k:certKey=c", "--exit-idle-time", "10s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, service.Env{}); err != nil {
		t.Errorf("ssl over systemd with --exit-idle-time: %v", err)
	}
}

// TestIdleTimer checks the idle clock: it fires once, only after the last
// busy thing ended, and never after stop.
func TestIdleTimer(t *testing.T) {
	var fired atomic.Int32
	done := make(chan struct{}, 2)
	it := &idleTimer{d: 20 * time.Millisecond, fire: func() { fired.Add(1); done <- struct{}{} }}
	it.begin() // a connection before Serve armed the timer
	it.start()
	it.begin()
	it.end()
	it.end()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("did not fire after the last connection closed")
	}
	it.begin()
	it.end()
	it.stop()
	if n := fired.Load(); n != 1 {
		t.Errorf("fired %d times, want 1", n)
	}
}

// TestHealthUnhealthy answers 503 "unhealthy" when the self-check the
// watchdog uses fails: here the listener it connects to accepts and hangs
// up without answering, as a wedged server might.
func TestHealthUnhealthy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	rec := &logRecorder{}
	s := &Server{state: stateServing, listeners: []*endpoint.Listener{{Stream: ln}},
		log: slog.New(recHandler{rec: rec, system: "-"})}
	o := &ops{srv: s, healthPath: "/healthz"}
	w := httptest.NewRecorder()
	if !o.serve(w, httptest.NewRequest("GET", "/healthz", nil)) {
		t.Fatal("the health path was not answered")
	}
	if w.Code != 503 || w.Body.String() != healthUnhealthy {
		t.Errorf("health = %d %q, want 503 %q", w.Code, w.Body.String(), healthUnhealthy)
	}
	if line := rec.find("--health: answering 503: health check: no answer from"); line == "" {
		t.Errorf("no log line says why: %q", rec.all())
	}
	if strings.Contains(w.Body.String(), "EOF") {
		t.Errorf("the error reached the client: %q", w.Body.String())
	}
}
