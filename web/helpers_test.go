package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testcert"
	"github.com/gotwistd/gotwistd/service"
)

// logRecorder keeps every log line as "[system] message", as the runner's
// twistd-format handler would print it without the time.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	attrs []string // "key=value" of non-system attributes, per line
}

func (r *logRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// find returns the first line containing s, or "".
func (r *logRecorder) find(s string) string {
	for _, l := range r.all() {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

type recHandler struct {
	rec    *logRecorder
	system string
}

func (h recHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recHandler) Handle(_ context.Context, r slog.Record) error {
	var attrs []string
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a.Key+"="+a.Value.String())
		return true
	})
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	h.rec.lines = append(h.rec.lines, "["+h.system+"] "+r.Message)
	h.rec.attrs = append(h.rec.attrs, strings.Join(attrs, " "))
	return nil
}

func (h recHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		if a.Key == "system" {
			h.system = a.Value.String()
		}
	}
	return h
}

func (h recHandler) WithGroup(string) slog.Handler { return h }

// testServer is a Server serving in the background.
type testServer struct {
	*Server
	t     testing.TB
	log   *logRecorder
	serve chan error
}

// startServer runs `gotwistd web ARGS...`, applying each tweak to the
// Server before it listens.
func startServer(t testing.TB, args []string, tweaks ...func(*Server)) *testServer {
	t.Helper()
	cfg, err := ParseArgs(args)
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", args, err)
	}
	rec := &logRecorder{}
	s, err := New(cfg, service.Env{Logger: slog.New(recHandler{rec: rec, system: "?"}), Version: "1.2.3"})
	if err != nil {
		t.Fatalf("New(%q): %v", args, err)
	}
	for _, f := range tweaks {
		f(s)
	}
	if err := s.Listen(context.Background()); err != nil {
		t.Fatalf("Listen(%q): %v", args, err)
	}
	ts := &testServer{Server: s, t: t, log: rec, serve: make(chan error, 1)}
	go func() { ts.serve <- s.Serve() }()
	t.Cleanup(func() { ts.stop() })
	return ts
}

// stop shuts the server down and checks that Shutdown and Serve succeed.
func (ts *testServer) stop() {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		ts.t.Errorf("Shutdown: %v", err)
	}
	select {
	case err := <-ts.serve:
		if err != nil {
			ts.t.Errorf("Serve: %v", err)
		}
		ts.serve <- nil // for a second stop
	case <-ctx.Done():
		ts.t.Errorf("Serve did not return after Shutdown")
	}
}

// addr returns the address listener i is bound to.
func (ts *testServer) addr(i int) string {
	l := ts.listeners[i]
	if l.Packet != nil {
		return l.Packet.LocalAddr().String()
	}
	return l.Stream.Addr().String()
}

// port returns the port listener i is bound to.
func (ts *testServer) port(i int) string {
	_, p, _ := net.SplitHostPort(ts.addr(i))
	return p
}

// get fetches url with client and returns the response with its body read.
func get(t *testing.T, client *http.Client, method, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(body)
}

// newClient returns a client with its own connections, trusting roots
// (may be nil).
func newClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}}
}

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and
// localhost with the given serial to dir/cert.pem and dir/key.pem, and
// returns a pool trusting it.
func writeCert(t testing.TB, dir string, serial int64) *x509.CertPool {
	t.Helper()
	c, err := testcert.New(testcert.Options{Hosts: []string{"localhost", "127.0.0.1"}, Serial: serial, CA: true})
	if err != nil {
		t.Fatal(err)
	}
	// Write goes through temporary files, so a reload never sees half a file.
	if _, _, err := c.Write(dir); err != nil {
		t.Fatal(err)
	}
	return c.Pool()
}

// sslEndpoint is an ssl endpoint on a free loopback port using dir's
// certificate.
func sslEndpoint(typ, dir string) string {
	return typ + ":0:interface=127.0.0.1:privateKey=" + escapeField(filepath.Join(dir, "key.pem")) +
		":certKey=" + escapeField(filepath.Join(dir, "cert.pem"))
}

// indexOf returns the index of the first line containing s, or -1.
func indexOf(lines []string, s string) int {
	for i, l := range lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}
