package hostile

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
	"github.com/gotwistd/gotwistd/internal/testcert"
)

// rsaCert makes a self-signed RSA 2048 certificate for localhost and
// 127.0.0.1. RSA, so that the suites with RSA key exchange could be
// negotiated if the server allowed them; valid for a year, so that
// testssl.sh does not report it as about to expire.
func rsaCert(t *testing.T) *testcert.Cert {
	t.Helper()
	c, err := testcert.New(testcert.Options{Hosts: []string{"localhost", "127.0.0.1"}, CA: true, RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startTLS runs gotwistd with one ssl: endpoint on 127.0.0.1 and returns
// it with the certificate it serves.
func startTLS(t *testing.T) (*server, *x509.Certificate) {
	t.Helper()
	tr := newTree(t)
	c := rsaCert(t)
	certFile, keyFile, err := c.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, nil, "--listen", "ssl:0:interface=127.0.0.1:privateKey="+keyFile+":certKey="+certFile, "--path", tr.root)
	return s, c.Leaf
}

// TestTLSRefusesWeak offers the server, with Go's TLS client, each
// protocol version and cipher suite it must not accept, one at a time:
// every handshake fails with an alert from the server. A permissive
// server in the test checks first that the client really offers each one.
// TLS 1.2 with an ECDHE AEAD suite, and TLS 1.3, succeed.
func TestTLSRefusesWeak(t *testing.T) {
	s, cert := startTLS(t)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	permissive := permissiveServer(t)
	weak := []struct {
		name     string
		min, max uint16
		suites   []uint16
	}{
		{"TLS 1.0", tls.VersionTLS10, tls.VersionTLS10, nil},
		{"TLS 1.1", tls.VersionTLS11, tls.VersionTLS11, nil},
		{"TLS 1.2 ECDHE-RSA AES-128-CBC-SHA", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}},
		{"TLS 1.2 ECDHE-RSA AES-256-CBC-SHA", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}},
		{"TLS 1.2 ECDHE-RSA AES-128-CBC-SHA256", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}},
		{"TLS 1.2 RSA key exchange AES-128-GCM", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
		{"TLS 1.2 RSA key exchange AES-256-GCM", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_256_GCM_SHA384}},
		{"TLS 1.2 RSA key exchange AES-128-CBC", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}},
		{"TLS 1.2 ECDHE-RSA 3DES", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}},
		{"TLS 1.2 RSA 3DES", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}},
		{"TLS 1.2 ECDHE-RSA RC4", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA}},
		{"TLS 1.2 RSA RC4", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_RC4_128_SHA}},
	}
	for _, w := range weak {
		t.Run(w.name, func(t *testing.T) {
			cfg := &tls.Config{MinVersion: w.min, MaxVersion: w.max, CipherSuites: w.suites, InsecureSkipVerify: true}
			if err := handshake(permissive, cfg); err != nil {
				t.Skipf("Go's TLS client cannot offer %s here (%v): nothing to check", w.name, err)
			}
			cfg.InsecureSkipVerify, cfg.RootCAs, cfg.ServerName = false, pool, "localhost"
			err := handshake(s.addr(), cfg)
			if err == nil {
				t.Fatalf("the server accepted %s", w.name)
			}
			if !strings.Contains(err.Error(), "remote error") {
				t.Errorf("%s failed, but not by the server's refusal: %v", w.name, err)
			}
		})
	}
	good := []struct {
		name     string
		min, max uint16
		suites   []uint16
	}{
		{"TLS 1.2 ECDHE-RSA AES-128-GCM", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{"TLS 1.2 ECDHE-RSA CHACHA20-POLY1305", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}},
		{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, nil},
	}
	for _, g := range good {
		t.Run(g.name, func(t *testing.T) {
			cfg := &tls.Config{MinVersion: g.min, MaxVersion: g.max, CipherSuites: g.suites, RootCAs: pool, ServerName: "localhost"}
			if err := handshake(s.addr(), cfg); err != nil {
				t.Errorf("%s refused: %v", g.name, err)
			}
		})
	}
	t.Run("HTTP/2 GET", func(t *testing.T) {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, ForceAttemptHTTP2: true,
		}}
		resp, err := client.Get("https://" + s.addr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != indexBody || resp.ProtoMajor != 2 {
			t.Errorf("GET / over TLS: %s %d %q", resp.Proto, resp.StatusCode, body)
		}
	})
}

// handshake completes a TLS handshake with addr.
func handshake(addr string, cfg *tls.Config) error {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	return c.Close()
}

// permissiveServer is a TLS server on loopback accepting every version and
// suite Go implements, with an RSA certificate: the control of
// TestTLSRefusesWeak.
func permissiveServer(t *testing.T) string {
	t.Helper()
	var suites []uint16
	for _, s := range slices.Concat(tls.CipherSuites(), tls.InsecureCipherSuites()) {
		suites = append(suites, s.ID)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{rsaCert(t).TLS()},
		MinVersion:   tls.VersionTLS10,
		CipherSuites: suites,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return l.Addr().String()
}

// testsslFinding is one entry of testssl.sh's --jsonfile output.
type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}

// certOnly are the testssl.sh findings about the test's own certificate,
// not the server: it is self-signed and has no CRL or OCSP URI. A
// deployment uses its own certificate.
var certOnly = map[string]bool{
	"cert_chain_of_trust": true,
	"cert_revocation":     true,
}

// TestTestSSL runs testssl.sh (several minutes) against an ssl: endpoint:
// no protocol below TLS 1.2, no weak cipher category, no finding of
// severity HIGH or CRITICAL except about the self-signed test
// certificate. MEDIUM and LOW findings are printed (-v). Only with
// GOTWISTD_FULL=1.
func TestTestSSL(t *testing.T) {
	if !full {
		t.Skip("testssl.sh takes minutes: set GOTWISTD_FULL=1 to run it")
	}
	tool, err := exec.LookPath("testssl")
	if err != nil {
		if tool, err = exec.LookPath("testssl.sh"); err != nil {
			t.Skip("testssl.sh is not installed (Debian package testssl.sh)")
		}
	}
	s, _ := startTLS(t)
	jsonFile := filepath.Join(t.TempDir(), "testssl.json")
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, tool, "--jsonfile", jsonFile, "--quiet", "--color", "0", "--warnings", "off", s.addr())
	out, err := cmd.CombinedOutput()
	// testssl.sh exits non-zero when it found problems; the JSON says which.
	b, rerr := os.ReadFile(jsonFile)
	if rerr != nil {
		t.Fatalf("%s: %v, and no JSON (%v):\n%s", cmd, err, rerr, testbin.Tail(string(out), 40))
	}
	var findings []testsslFinding
	if err := json.Unmarshal(b, &findings); err != nil {
		t.Fatalf("testssl.sh JSON: %v", err)
	}
	t.Logf("testssl.sh ran %v, %d findings", time.Since(start).Round(time.Second), len(findings))
	byID := map[string]testsslFinding{}
	count := map[string]int{}
	for _, f := range findings {
		byID[f.ID] = f
		count[f.Severity]++
		switch f.Severity {
		case "HIGH", "CRITICAL":
			if certOnly[f.ID] {
				t.Logf("%s %s: %s (the self-signed test certificate)", f.Severity, f.ID, f.Finding)
			} else {
				t.Errorf("%s %s: %s", f.Severity, f.ID, f.Finding)
			}
		case "MEDIUM", "LOW", "WARN":
			t.Logf("%s %s: %s", f.Severity, f.ID, f.Finding)
		}
		if f.ID == "scanProblem" {
			t.Errorf("testssl.sh could not complete its scan: %s", f.Finding)
		}
	}
	t.Logf("severities: %v", count)
	for _, id := range []string{"SSLv2", "SSLv3", "TLS1", "TLS1_1",
		"cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"} {
		f, ok := byID[id]
		if !ok {
			t.Errorf("testssl.sh reported nothing for %s", id)
			continue
		}
		if !strings.HasPrefix(f.Finding, "not offered") {
			t.Errorf("%s: %s, want not offered", id, f.Finding)
		}
	}
	for _, id := range []string{"TLS1_2", "TLS1_3"} {
		if f := byID[id]; !strings.HasPrefix(f.Finding, "offered") {
			t.Errorf("%s: %q, want offered", id, f.Finding)
		}
	}
	var vulns []string
	for _, id := range []string{"heartbleed", "CCS", "ticketbleed", "ROBOT", "secure_renego", "secure_client_renego",
		"CRIME_TLS", "BREACH", "POODLE_SSL", "fallback_SCSV", "SWEET32", "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4"} {
		if f, ok := byID[id]; ok {
			vulns = append(vulns, fmt.Sprintf("%s %s", id, f.Severity))
		}
	}
	t.Logf("vulnerability checks: %s", strings.Join(vulns, ", "))
}
