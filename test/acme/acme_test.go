package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// leEndpoint is the le: endpoint on the inherited socket named https.
func leEndpoint(dir string) string {
	return "le:" + dir + ":systemd:domain=INET:name=https:hosts=localhost"
}

// serial is the serial number of the leaf in a PEM file of the
// certificate directory.
func serialOf(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(b, b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return fmt.Sprintf("%x", c.Leaf.SerialNumber)
}

// servedSerial asks the server at port for its certificate over a new
// connection that trusts Pebble's root.
func servedSerial(t *testing.T, p *pebbleCA, port int) string {
	t.Helper()
	c, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), &tls.Config{ServerName: "localhost", RootCAs: rootPool(t, p)})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer c.Close()
	return fmt.Sprintf("%x", c.ConnectionState().PeerCertificates[0].SerialNumber)
}

func rootPool(t *testing.T, p *pebbleCA) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(p.root)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("no root in %s", p.root)
	}
	return pool
}

// TestIssueServeRestart: a real http-01 validation by Pebble on the plain
// HTTP socket, HTTPS with HTTP/2 on the le: socket (both inherited from
// "systemd"), the redirect to HTTPS with the challenge path kept, HSTS; a
// restart that serves the cached certificate without a new order, and a
// restart with the CA gone that still serves it (and --no-https-redirect).
func TestIssueServeRestart(t *testing.T) {
	socks := newSockets(t, "http", "https")
	httpPort, httpsPort := socks.ports[0], socks.ports[1]
	p := startPebble(t, pebbleOptions{httpPort: httpPort, tlsPort: httpsPort, validity: 3600})
	dir := filepath.Join(t.TempDir(), "certs")
	www := t.TempDir()
	os.WriteFile(filepath.Join(www, "index.html"), []byte("hello over acme\n"), 0o644)
	args := []string{"--path", www, "--listen", "systemd:domain=INET:name=http", "--listen", leEndpoint(dir),
		"--acme-ca", p.dir, "--acme-email", "ops@example.com", "--hsts", "8760h"}

	s := startServer(t, socks, args...)
	s.waitReady()
	if !strings.Contains(s.out.String(), "Got the certificate of localhost") {
		t.Fatalf("no issuance logged\n%s", s.diag())
	}
	if !strings.Contains(s.out.String(), "Answering the http-01 challenge for localhost.") ||
		!strings.Contains(s.out.String(), `"GET /.well-known/acme-challenge/`) || !strings.Contains(p.out.String(), "Attempting to validate w/ HTTP") {
		t.Errorf("Pebble did not validate http-01 against the plain socket\n%s\npebble:\n%s", s.diag(), p.out.String())
	}
	ordersAfterIssue := p.orders()
	if ordersAfterIssue != 1 {
		t.Errorf("Pebble has %d orders, want 1", ordersAfterIssue)
	}
	certFile := filepath.Join(dir, caSub(p.dir), "localhost.pem")
	issued := serialOf(t, certFile)
	if fi, err := os.Stat(certFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("certificate file %s: %v, mode %v; want 0600", certFile, err, fi.Mode())
	}

	// HTTPS, HTTP/2, trusted through Pebble's root, with HSTS.
	out := curl(t, "--cacert", p.root, "-i", "--resolve", fmt.Sprintf("localhost:%d:127.0.0.1", httpsPort),
		"-w", "\nversion=%{http_version}\n", fmt.Sprintf("https://localhost:%d/", httpsPort))
	for _, want := range []string{"HTTP/2 200", "hello over acme", "strict-transport-security: max-age=31536000", "version=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("HTTPS answer lacks %q:\n%s", want, out)
		}
	}
	// The plain socket redirects, to the port of the le: socket.
	out = curl(t, "-i", fmt.Sprintf("http://localhost:%d/a/b?c=d", httpPort))
	if !strings.Contains(out, "301 Moved Permanently") || !strings.Contains(out, fmt.Sprintf("Location: https://localhost:%d/a/b?c=d", httpsPort)) {
		t.Errorf("plain HTTP is not redirected:\n%s", out)
	}
	// An unknown challenge token is 404 there, not a redirect.
	out = curl(t, "-i", fmt.Sprintf("http://localhost:%d/.well-known/acme-challenge/nope", httpPort))
	if !strings.HasPrefix(out, "HTTP/1.1 404") {
		t.Errorf("unknown challenge token: %s", out)
	}
	s.stop()

	// Restart: the cached certificate, no new order.
	s = startServer(t, socks, args...)
	s.waitReady()
	if !strings.Contains(s.out.String(), "Serving the cached certificate of localhost") {
		t.Errorf("the restart did not use the cached certificate\n%s", s.diag())
	}
	if n := p.orders(); n != ordersAfterIssue {
		t.Errorf("Pebble got %d new orders on restart", n-ordersAfterIssue)
	}
	if got := servedSerial(t, p, httpsPort); got != issued {
		t.Errorf("after restart serving serial %s, issued %s", got, issued)
	}
	s.stop()

	// The CA is gone: the cached certificate still serves. With
	// --no-https-redirect the plain socket serves the site.
	p.stop()
	s = startServer(t, socks, append(args, "--no-https-redirect")...)
	s.waitReady()
	if got := servedSerial(t, p, httpsPort); got != issued {
		t.Errorf("with the CA down serving serial %s, want the cached %s", got, issued)
	}
	if out := curl(t, "-i", fmt.Sprintf("http://localhost:%d/", httpPort)); !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.Contains(out, "hello over acme") {
		t.Errorf("plain HTTP with --no-https-redirect:\n%s", out)
	}
	s.stop()
}

// caSub is the subdirectory of the certificate directory for a CA URL.
func caSub(dir string) string {
	u := strings.TrimPrefix(dir, "https://")
	return strings.NewReplacer(":", "_", "/", "-").Replace(u)
}

// TestRenew: tls-alpn-01 validated by Pebble on the le: socket (there is
// no plain listener), renewal of a short-lived certificate in the
// background while a keep-alive connection stays open and keeps working,
// then a renewal that fails with the CA gone: the old certificate keeps
// serving, and the log and sd_notify STATUS= say so.
func TestRenew(t *testing.T) {
	socks := newSockets(t, "https")
	httpsPort := socks.ports[0]
	// 15 s certificates: due for renewal after 10 s.
	p := startPebble(t, pebbleOptions{httpPort: testbin.FreePort(t), tlsPort: httpsPort, validity: 15})
	dir := filepath.Join(t.TempDir(), "certs")
	// A client connects while the server starts, before it has a
	// certificate, as the one whose connection starts a socket-activated
	// service: its handshake waits for the first certificate.
	early := make(chan string, 1)
	pool := rootPool(t, p)
	go func() {
		d := &net.Dialer{Timeout: 60 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(httpsPort)), &tls.Config{ServerName: "localhost", RootCAs: pool})
		if err != nil {
			early <- "error: " + err.Error()
			return
		}
		defer c.Close()
		early <- fmt.Sprintf("%x", c.ConnectionState().PeerCertificates[0].SerialNumber)
	}()
	s := startServer(t, socks, "--listen", leEndpoint(dir), "--acme-ca", p.dir)
	s.waitReady()
	for _, want := range []string{"Answering the tls-alpn-01 challenge for localhost.", "Answering a tls-alpn-01 validation handshake for localhost from 127.0.0.1:"} {
		if !strings.Contains(s.out.String(), want) {
			t.Errorf("no log line %q: Pebble did not validate tls-alpn-01 on the le: socket\n%s", want, s.diag())
		}
	}
	first := servedSerial(t, p, httpsPort)
	if got := <-early; got != first {
		t.Errorf("the client that came first got %s, want the first certificate %s", got, first)
	}

	// A keep-alive HTTP/2 connection opened on the first certificate.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: rootPool(t, p)}, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", strconv.Itoa(httpsPort)))
		}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() (serial string, reused bool) {
		t.Helper()
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }})
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://localhost/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET over the kept connection: %v\n%s", err, s.diag())
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Fatalf("GET: %s %s", resp.Proto, resp.Status)
		}
		return fmt.Sprintf("%x", resp.TLS.PeerCertificates[0].SerialNumber), reused
	}
	if serial, _ := get(); serial != first {
		t.Fatalf("serial %s, want %s", serial, first)
	}

	s.waitLog("Renewed the certificate of localhost", 40*time.Second)
	renewed := servedSerial(t, p, httpsPort)
	if renewed == first {
		t.Errorf("a new connection still gets serial %s after the renewal", first)
	}
	if serial, reused := get(); !reused || serial != first {
		t.Errorf("the connection opened before the renewal: reused %v, serial %s (want true, %s)", reused, serial, first)
	}

	// The CA goes away: the next renewal fails, the renewed certificate
	// keeps serving, and systemd hears of it.
	p.stop()
	s.waitLog("Renewing the certificate of localhost failed; still serving the one valid until", 40*time.Second)
	waitFor(t, "STATUS= saying the renewal failed", 10*time.Second, func() bool {
		return strings.Contains(s.msgs.String(), "STATUS=serving the welcome page on le:") &&
			strings.Contains(s.msgs.String(), "renewing the certificate of localhost failed (still serving the one valid until")
	}, s.diag)
	if got := servedSerial(t, p, httpsPort); got != renewed {
		t.Errorf("after the failed renewal serving %s, want %s", got, renewed)
	}
	s.stop()
}

// TestCAUnreachable: with no cached certificate and no CA, the start
// fails with one line naming the problem, exits non-zero, and leaves the
// certificate directory empty.
func TestCAUnreachable(t *testing.T) {
	socks := newSockets(t, "https")
	dir := filepath.Join(t.TempDir(), "certs")
	ca := fmt.Sprintf("https://127.0.0.1:%d/dir", testbin.FreePort(t))
	s := startServer(t, socks, "--listen", leEndpoint(dir), "--acme-ca", ca)
	var err error
	select {
	case err = <-s.done:
		s.done <- err
	case <-time.After(60 * time.Second):
		t.Fatalf("gotwistd did not exit\n%s", s.diag())
	}
	if err == nil {
		t.Fatalf("gotwistd exited 0 without a certificate\n%s", s.diag())
	}
	want := "get a certificate for localhost from " + ca + ": the CA is unreachable: register the account: "
	var lines []string
	for _, l := range strings.Split(s.out.String(), "\n") {
		if strings.Contains(l, want) {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("no line %q\n%s", want, s.diag())
	}
	if !strings.Contains(lines[0], "connection refused") {
		t.Errorf("the error does not say why: %s", lines[0])
	}
	if strings.Contains(s.msgs.String(), "READY=1") {
		t.Errorf("READY=1 sent without a certificate\n%s", s.diag())
	}
	if !strings.Contains(s.msgs.String(), "STATUS=") {
		t.Errorf("no STATUS= for the failed start\n%s", s.diag())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("the certificate directory holds %d entries after the failed start", len(entries))
	}
}
