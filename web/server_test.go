package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/gotwistd/gotwistd/service"
)

const loopback = "tcp:0:interface=127.0.0.1"

// TestLifecycle runs the plugin through service.Service as the runner
// does: New, Listen, Serve, requests, then Shutdown while a slow request is
// in flight; the request completes, new connections are refused, and the
// log reads like twistd's.
func TestLifecycle(t *testing.T) {
	rec := &logRecorder{}
	env := service.Env{Logger: slog.New(recHandler{rec: rec, system: "?"}), Stdout: io.Discard, Version: "1.2.3"}
	svc, err := NewPlugin().New([]string{"--listen", loopback}, env)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	s := svc.(*Server)
	welcome := s.handler
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			welcome.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Length", "4")
		close(entered)
		<-release
		io.WriteString(w, "done")
	})
	if got := svc.Status(); got != "starting: the welcome page on tcp:0:interface=127.0.0.1" {
		t.Errorf("Status before Listen = %q", got)
	}
	if err := svc.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	addr := s.listeners[0].Stream.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	served := make(chan error, 1)
	go func() { served <- svc.Serve() }()

	if got, want := svc.Status(), "serving the welcome page on tcp:"+port+":interface=127.0.0.1"; got != want {
		t.Errorf("Status = %q, want %q", got, want)
	}
	client := newClient(nil)
	if resp, body := get(t, client, "GET", "http://"+addr+"/", nil); resp.StatusCode != 200 || !strings.Contains(body, "gotwistd is running") {
		t.Errorf("GET / = %d %q", resp.StatusCode, body)
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := newClient(nil).Get("http://" + addr + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- fmt.Sprint(resp.StatusCode, " ", string(b))
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- svc.Shutdown(ctx)
	}()
	// Shutdown stops accepting at once, while /slow is still running.
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if i == 500 {
			t.Fatal("the listener still accepts 5 s after Shutdown started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	case err := <-served:
		t.Fatalf("Serve returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	if got := <-slow; got != "200 done" {
		t.Errorf("in-flight request got %q, want 200 done", got)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := svc.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}

	lines := rec.all()
	factory := "<gotwistd.web.Site on tcp:0:interface=127.0.0.1>"
	want := []string{
		"[-] Site starting on " + port,
		"[gotwistd.web.Site#info] Starting factory " + factory,
		`[gotwistd.web.AccessLog#info] "127.0.0.1" - - [`,
		`"GET /slow HTTP/1.1" 200 4 "-" "Go-http-client/1.1"`,
		"[-] (TCP Port " + port + " Closed)",
		"[gotwistd.web.Site#info] Stopping factory " + factory,
	}
	last := -1
	for _, w := range want {
		i := indexOf(lines, w)
		if i < 0 || i < last {
			t.Errorf("log lacks %q after line %d:\n%s", w, last, strings.Join(lines, "\n"))
			break
		}
		last = i
	}
	if got := svc.Status(); got != "stopping" {
		t.Errorf("Status after Shutdown = %q", got)
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	s, err := New(Config{Listen: []string{loopback}}, service.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err == nil {
		t.Error("Serve before Listen succeeded")
	}
	if err := s.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
	if err := s.Listen(context.Background()); err == nil {
		t.Error("Listen after Shutdown succeeded")
	}
}

func TestListenError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	s, err := New(Config{Listen: []string{loopback, "tcp:" + port + ":interface=127.0.0.1"}}, service.Env{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Listen(context.Background())
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("Listen on a busy port: %v", err)
	}
	if len(s.listeners) != 0 {
		t.Errorf("%d listeners left open after a failed Listen", len(s.listeners))
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after a failed Listen: %v", err)
	}
}

func TestWelcomePage(t *testing.T) {
	ts := startServer(t, []string{"--listen", loopback, "--add-header", "X-Test: yes"})
	base := "http://" + ts.addr(0)
	client := newClient(nil)
	tests := []struct {
		name, method, path string
		status             int
		body               string
		header             string // "Name: value" expected
	}{
		{"page", "GET", "/", 200, "gotwistd is running", "Content-Type: text/html; charset=utf-8"},
		{"page shows how to serve files", "GET", "/", 200, "--path", "Server: gotwistd/1.2.3"},
		{"page links the docs", "GET", "/", 200, `<a href="` + DocsURL + `">`, "X-Test: yes"},
		{"head", "HEAD", "/", 200, "", "Server: gotwistd/1.2.3"},
		{"other path", "GET", "/index.html", 404, "<h1>No Such Resource</h1>", "X-Test: yes"},
		{"other method", "POST", "/", 405, "I only allow the methods HEAD, GET here.", "Allow: HEAD, GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, client, tt.method, base+tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.Contains(body, tt.body) || (tt.method == "HEAD" && body != "") {
				t.Errorf("body %q lacks %q", body, tt.body)
			}
			name, value, _ := strings.Cut(tt.header, ": ")
			if got := resp.Header.Get(name); got != value {
				t.Errorf("%s: %q, want %q", name, got, value)
			}
		})
	}
}

// TestServePath serves a directory and checks the access line written to
// -l's file, with a fixed clock, byte for byte.
func TestServePath(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "access.log")
	ts := startServer(t, []string{"--listen", loopback, "--path", root, "-l", logPath, "--add-header=X-Frame-Options: DENY"},
		func(s *Server) { s.now = fixedClock })
	resp, body := get(t, newClient(nil), "GET", "http://"+ts.addr(0)+"/a.txt",
		http.Header{"Referer": {"http://r/"}, "User-Agent": {"UA"}})
	if resp.StatusCode != 200 || body != "hello\n" {
		t.Errorf("GET /a.txt = %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Server"); got != "gotwistd/1.2.3" {
		t.Errorf("Server: %q", got)
	}
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options: %q", got)
	}
	if got := ts.Status(); got != "serving "+root+" (static) on tcp:"+ts.port(0)+":interface=127.0.0.1" {
		t.Errorf("Status = %q", got)
	}
	ts.stop()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	want := `"127.0.0.1" - - [23/Nov/2026:20:00:49 +0000] "GET /a.txt HTTP/1.1" 200 6 "http://r/" "UA"` + "\n"
	if string(b) != want {
		t.Errorf("access log = %q, want %q", b, want)
	}
	if l := ts.log.find(`"GET /a.txt`); l != "" {
		t.Errorf("access line also went to the main log: %q", l)
	}
}

// TestAccessLogReopen moves the access log away as logrotate does and
// checks that ReopenLogs (SIGUSR1) and Reload (SIGHUP) start a new file.
func TestAccessLogReopen(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "access.log")
	ts := startServer(t, []string{"--listen", loopback, "-l", logPath})
	client := newClient(nil)
	url := "http://" + ts.addr(0) + "/"
	get(t, client, "GET", url+"?1", nil)
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := ts.ReopenLogs(); err != nil {
		t.Fatal(err)
	}
	get(t, client, "GET", url+"?2", nil)
	if err := os.Rename(logPath, logPath+".2"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	get(t, client, "GET", url+"?3", nil)
	ts.stop()
	for file, want := range map[string]string{".1": "GET /?1 ", ".2": "GET /?2 ", "": "GET /?3 "} {
		b, err := os.ReadFile(logPath + file)
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"); len(lines) != 1 || !strings.Contains(lines[0], want) {
			t.Errorf("access.log%s = %q, want one line with %q", file, b, want)
		}
	}
}

// TestTLS serves HTTP/2 and HTTP/1.1 on an ssl endpoint, then replaces the
// certificate files and checks that Reload makes new connections see the
// new certificate while an open connection keeps working, and that a
// broken certificate file is reported and leaves the last good one.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	roots1 := writeCert(t, dir, 1)
	ts := startServer(t, []string{"--listen", sslEndpoint("ssl", dir), "--listen", loopback})
	base := "https://" + ts.addr(0)

	c1 := newClient(roots1)
	resp, body := get(t, c1, "GET", base+"/", nil)
	if resp.Proto != "HTTP/2.0" || !strings.Contains(body, "gotwistd is running") {
		t.Fatalf("GET over TLS: %s %q", resp.Proto, body)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 1 {
		t.Errorf("certificate serial %d, want 1", got)
	}
	if resp.Header.Get("Alt-Svc") != "" {
		t.Errorf("Alt-Svc %q without a quic listener", resp.Header.Get("Alt-Svc"))
	}
	h1 := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots1},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	if resp, _ := get(t, h1, "GET", base+"/", nil); resp.Proto != "HTTP/1.1" {
		t.Errorf("HTTP/1.1 client got %s", resp.Proto)
	}

	roots2 := writeCert(t, dir, 2)
	if err := ts.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	c2 := newClient(roots2)
	resp, _ = get(t, c2, "GET", base+"/", nil)
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 2 {
		t.Errorf("after Reload a new client sees serial %d, want 2", got)
	}
	// The HTTP/2 connection opened before the reload still serves.
	reused := false
	req, _ := http.NewRequest("GET", base+"/", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := c1.Do(req)
	if err != nil {
		t.Fatalf("request on the old connection: %v", err)
	}
	resp.Body.Close()
	if !reused || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 1 {
		t.Errorf("old connection: reused %v, serial %d", reused, resp.TLS.PeerCertificates[0].SerialNumber.Int64())
	}

	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.Reload(); err == nil {
		t.Error("Reload with a broken certificate file succeeded")
	}
	c3 := newClient(roots2)
	resp, _ = get(t, c3, "GET", base+"/", nil)
	if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 2 {
		t.Errorf("after a failed Reload a new client sees serial %d, want 2", got)
	}
	for _, c := range []*http.Client{c1, h1, c2, c3} {
		c.CloseIdleConnections() // so Shutdown need not wait for them
	}
	if want := "serving the welcome page on ssl:" + ts.port(0) + ":interface=127.0.0.1, tcp:" + ts.port(1) + ":interface=127.0.0.1"; ts.Status() != want {
		t.Errorf("Status = %q, want %q", ts.Status(), want)
	}
}

// TestHTTP3 serves HTTP/3 on a quic endpoint and announces it with
// Alt-Svc on the ssl endpoint only.
func TestHTTP3(t *testing.T) {
	t.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	dir := t.TempDir()
	roots := writeCert(t, dir, 1)
	ts := startServer(t, []string{"--listen", sslEndpoint("ssl", dir), "--listen", sslEndpoint("quic", dir), "--listen", loopback})
	wantAlt := `h3=":` + ts.port(1) + `"; ma=86400`

	tlsClient := newClient(roots)
	defer tlsClient.CloseIdleConnections()
	resp, _ := get(t, tlsClient, "GET", "https://"+ts.addr(0)+"/", nil)
	if got := resp.Header.Get("Alt-Svc"); got != wantAlt {
		t.Errorf("Alt-Svc on ssl = %q, want %q", got, wantAlt)
	}
	resp, _ = get(t, newClient(nil), "GET", "http://"+ts.addr(2)+"/", nil)
	if got := resp.Header.Get("Alt-Svc"); got != "" {
		t.Errorf("Alt-Svc on plain HTTP = %q", got)
	}

	// A loaded 2-core CI machine can be slower than quic-go's 5 s default.
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, QUICConfig: &quic.Config{HandshakeIdleTimeout: 60 * time.Second, MaxIdleTimeout: 60 * time.Second}}
	defer tr.Close()
	resp, body := get(t, &http.Client{Transport: tr}, "GET", "https://"+ts.addr(1)+"/", nil)
	if resp.Proto != "HTTP/3.0" || resp.StatusCode != 200 || !strings.Contains(body, "gotwistd is running") {
		t.Errorf("HTTP/3 GET: %s %d %q", resp.Proto, resp.StatusCode, body)
	}
	if got := resp.Header.Get("Server"); got != "gotwistd/1.2.3" {
		t.Errorf("HTTP/3 Server: %q", got)
	}
	tr.Close()
	tlsClient.CloseIdleConnections()
	ts.stop()
	if l := ts.log.find(`"GET / HTTP/3.0" 200`); l == "" {
		t.Errorf("no HTTP/3 access line in:\n%s", strings.Join(ts.log.all(), "\n"))
	}
	if l := ts.log.find("(UDP Port " + ts.port(1) + " Closed)"); l == "" {
		t.Errorf("no UDP port closed line")
	}
}

// TestUnixSocket serves on a UNIX socket: clients log as "-", and the log
// names the socket as twistd does.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "web.sock")
	ts := startServer(t, []string{"--listen", "unix:" + sock + ":mode=600"})
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, body := get(t, client, "GET", "http://localhost/", http.Header{"User-Agent": {"unix-test"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "gotwistd is running") {
		t.Errorf("GET over unix socket: %d %q", resp.StatusCode, body)
	}
	client.CloseIdleConnections()
	ts.stop()
	line := ts.log.find(`"unix-test"`)
	if !strings.HasPrefix(line, `[gotwistd.web.AccessLog#info] "-" - - [`) || !strings.HasSuffix(line, fmt.Sprintf(`] "GET / HTTP/1.1" 200 %d "-" "unix-test"`, len(body))) {
		t.Errorf("access line = %q", line)
	}
	for _, want := range []string{"[-] Site starting on '" + sock + "'", "[-] (UNIX Port '" + sock + "' Closed)"} {
		if ts.log.find(want) == "" {
			t.Errorf("log lacks %q:\n%s", want, strings.Join(ts.log.all(), "\n"))
		}
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after shutdown: %v", err)
	}
}

// TestMaxConnections checks that connections beyond --max-connections are
// closed at once, that open ones keep working, and that a slot freed by a
// closed connection is used again.
func TestMaxConnections(t *testing.T) {
	ts := startServer(t, []string{"--listen", loopback, "--max-connections", "1"})
	addr := ts.addr(0)
	request := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	readStatus := func(c net.Conn) (string, error) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Status, nil
	}
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	io.WriteString(a, request)
	if st, err := readStatus(a); err != nil || st != "200 OK" {
		t.Fatalf("first connection: %q %v", st, err)
	}

	b, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(b, request)
	b.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := b.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("connection over the limit: read %d bytes, %v; want it closed", n, err)
	}
	b.Close()

	io.WriteString(a, request) // the connection within the limit still works
	if st, err := readStatus(a); err != nil || st != "200 OK" {
		t.Errorf("first connection, second request: %q %v", st, err)
	}
	a.Close()
	// The server notices the close asynchronously; the slot frees soon.
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, request)
		st, err := readStatus(c)
		c.Close()
		if err == nil && st == "200 OK" {
			break
		}
		if i == 200 {
			t.Fatal("no connection accepted after the first one closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ts.log.find("Refusing connections: 1 open, the --max-connections limit") == "" {
		t.Errorf("refusal not logged:\n%s", strings.Join(ts.log.all(), "\n"))
	}
}

// TestPanic checks that a panicking handler yields twistd's 500 page
// without internal text, is logged, and does not stop the server.
func TestPanic(t *testing.T) {
	ts := startServer(t, []string{"--listen", loopback}, func(s *Server) {
		s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/panic":
				w.Header().Set("Content-Length", "1000")
				panic("secret internal detail")
			}
			io.WriteString(w, "ok")
		})
	})
	base := "http://" + ts.addr(0)
	client := newClient(nil)
	resp, body := get(t, client, "GET", base+"/panic", nil)
	if resp.StatusCode != 500 || body != processingFailed || strings.Contains(body, "secret") {
		t.Errorf("GET /panic = %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, client, "GET", base+"/", nil); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("after panics GET / = %d %q", resp.StatusCode, body)
	}
	if l := ts.log.find("secret internal detail"); !strings.HasPrefix(l, "[gotwistd.web.Site#error] Unhandled error serving GET /panic") {
		t.Errorf("panic log line = %q", l)
	}
	if ts.log.find(`"GET /panic HTTP/1.1" 500 `) == "" {
		t.Errorf("no access line for the 500")
	}
}

// TestLatePanicTruncates checks that a panic after the response started
// cuts the response short, so the client cannot take it for complete.
func TestLatePanicTruncates(t *testing.T) {
	ts := startServer(t, []string{"--listen", loopback}, func(s *Server) {
		s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Chunked: a response that ended normally would read as complete.
			w.WriteHeader(200)
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("late failure")
		})
	})
	resp, err := newClient(nil).Get("http://" + ts.addr(0) + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("a response cut short by a panic read as complete")
	}
}

// TestCurl checks HTTP/2 over TLS and a UNIX socket with curl, a client
// that shares no code with the server.
func TestCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	dir := t.TempDir()
	writeCert(t, dir, 1)
	sock := filepath.Join(dir, "web.sock")
	ts := startServer(t, []string{"--listen", sslEndpoint("ssl", dir), "--listen", "unix:" + sock})
	out, err := exec.Command("curl", "-sS", "--http2", "--cacert", filepath.Join(dir, "cert.pem"),
		"-o", "/dev/null", "-w", "%{http_version} %{http_code}", "https://127.0.0.1:"+ts.port(0)+"/").CombinedOutput()
	if err != nil || string(out) != "2 200" {
		t.Errorf("curl --http2: %q %v", out, err)
	}
	out, err = exec.Command("curl", "-sS", "--unix-socket", sock, "-w", " %{http_code}", "http://localhost/").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "gotwistd is running") || !strings.HasSuffix(string(out), " 200") {
		t.Errorf("curl --unix-socket: %q %v", out, err)
	}
}

func TestNoAccessLog(t *testing.T) {
	ts := startServer(t, []string{"--listen", loopback, "--no-access-log"})
	get(t, newClient(nil), "GET", "http://"+ts.addr(0)+"/", http.Header{"User-Agent": {"quiet"}})
	ts.stop()
	if l := ts.log.find("quiet"); l != "" {
		t.Errorf("access line with --no-access-log: %q", l)
	}
}

// TestTimeouts checks that a client sending its headers too slowly and an
// idle keep-alive connection are both closed by the server.
func TestTimeouts(t *testing.T) {
	ts := startServer(t, []string{"--listen", loopback, "--read-header-timeout=0.1", "--idle-timeout=0.1"})
	closed := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.ReadAll(c)
		return err == nil || !errors.Is(err, os.ErrDeadlineExceeded)
	}
	slow, err := net.Dial("tcp", ts.addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the end
	if !closed(slow) {
		t.Error("a connection stuck in its headers was not closed")
	}
	idle, err := net.Dial("tcp", ts.addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(idle)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if !closed(idle) {
		t.Error("an idle keep-alive connection was not closed")
	}
}

func TestMaxHeaderBytes(t *testing.T) {
	ts := startServer(t, []string{"--listen", loopback, "--max-header-bytes", "1024"})
	client := newClient(nil)
	resp, _ := get(t, client, "GET", "http://"+ts.addr(0)+"/", http.Header{"X-Big": {strings.Repeat("a", 8192)}})
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("8 KiB of headers with --max-header-bytes 1024: %d, want 431", resp.StatusCode)
	}
	resp, _ = get(t, client, "GET", "http://"+ts.addr(0)+"/", http.Header{"X-Small": {"a"}})
	if resp.StatusCode != 200 {
		t.Errorf("small headers: %d", resp.StatusCode)
	}
}

// TestHTTP2ChangedFiles: over HTTP/2 (gotwistd's engine, where cached
// files are answered on the connection's goroutine) a file changed,
// grown or removed between two requests on one connection is never
// served stale.
func TestHTTP2ChangedFiles(t *testing.T) {
	dir := t.TempDir()
	roots := writeCert(t, dir, 1)
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(www, "a.txt")
	write := func(s string) {
		t.Helper()
		// Through a rename, as editors and deploy tools do.
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	ts := startServer(t, []string{"--listen", sslEndpoint("ssl", dir), "--path", www})
	// No Accept-Encoding: a request with one takes the handler's path.
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, DisableCompression: true,
	}}
	url := "https://" + ts.addr(0) + "/a.txt"
	steps := []struct {
		name   string
		change func()
		status int
		body   string
	}{
		{"first", func() {}, 200, "one"},
		{"cached", func() {}, 200, "one"},
		{"same size, new content", func() { write("two") }, 200, "two"},
		{"grown", func() { write("three") }, 200, "three"},
		{"in place", func() {
			if err := os.WriteFile(file, []byte("four!"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, 200, "four!"},
		{"removed", func() { os.Remove(file) }, 404, ""},
	}
	for _, st := range steps {
		st.change()
		resp, body := get(t, c, "GET", url, nil)
		if resp.Proto != "HTTP/2.0" {
			t.Fatalf("%s: %s, want HTTP/2.0", st.name, resp.Proto)
		}
		if resp.StatusCode != st.status || (st.status == 200 && body != st.body) {
			t.Errorf("%s: %d %q, want %d %q", st.name, resp.StatusCode, body, st.status, st.body)
		}
	}
}
