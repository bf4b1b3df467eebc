package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCADirName(t *testing.T) {
	tests := []struct{ name, ca, want string }{
		{"lets encrypt", "https://acme-v02.api.letsencrypt.org/directory", "acme-v02.api.letsencrypt.org-directory"},
		{"staging", "https://acme-staging-v02.api.letsencrypt.org/directory", "acme-staging-v02.api.letsencrypt.org-directory"},
		{"port", "https://127.0.0.1:14000/dir", "127.0.0.1_14000-dir"},
		{"odd characters", "https://ca.example/a b/../c?x", "ca.example-a_b-..-c"},
		{"nothing", "https://", "ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := caDirName(tt.ca); got != tt.want {
				t.Errorf("caDirName(%q) = %q, want %q", tt.ca, got, tt.want)
			}
		})
	}
}

// selfSigned makes a certificate file's contents (chain, then key) for
// names, valid from notBefore to notAfter.
func selfSigned(t *testing.T, names []string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
}

const testCA = "https://127.0.0.1:1/dir"

func TestLoadCached(t *testing.T) {
	defer func(d time.Duration) { firstWait = d }(firstWait)
	firstWait = time.Millisecond
	now := time.Now()
	hosts := []string{"a.example", "b.example"}
	tests := []struct {
		name   string
		file   func(t *testing.T) []byte // nil: no file
		loaded bool
	}{
		{"none", nil, false},
		{"valid", func(t *testing.T) []byte { return selfSigned(t, hosts, now.Add(-time.Hour), now.Add(time.Hour)) }, true},
		{"expired", func(t *testing.T) []byte { return selfSigned(t, hosts, now.Add(-2*time.Hour), now.Add(-time.Hour)) }, false},
		{"not yet valid", func(t *testing.T) []byte { return selfSigned(t, hosts, now.Add(time.Hour), now.Add(2*time.Hour)) }, false},
		{"a host missing", func(t *testing.T) []byte { return selfSigned(t, hosts[:1], now.Add(-time.Hour), now.Add(time.Hour)) }, false},
		{"damaged", func(t *testing.T) []byte { return []byte("-----BEGIN CERTIFICATE-----\nnope\n") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != nil {
				sub := filepath.Join(dir, caDirName(testCA))
				os.MkdirAll(sub, 0o700)
				if err := os.WriteFile(filepath.Join(sub, "a.example.pem"), tt.file(t), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			m, err := New(Config{Dir: dir, Hosts: hosts, CA: testCA})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.HasValidCertificate(); got != tt.loaded {
				t.Errorf("HasValidCertificate = %v, want %v", got, tt.loaded)
			}
			_, err = m.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.example"})
			if (err == nil) != tt.loaded {
				t.Errorf("GetCertificate error %v with loaded=%v", err, tt.loaded)
			}
			if tt.loaded {
				c := m.Certificate().Leaf
				want := c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
				if !m.RenewAt().Equal(want) {
					t.Errorf("RenewAt = %v, want two thirds into the lifetime, %v", m.RenewAt(), want)
				}
			} else if !m.RenewAt().IsZero() {
				t.Errorf("RenewAt = %v without a certificate", m.RenewAt())
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{Dir: t.TempDir(), CA: testCA}); err == nil {
		t.Error("New without hosts succeeded")
	}
	if _, err := New(Config{Dir: t.TempDir(), Hosts: []string{"a.example"}}); err == nil {
		t.Error("New without a CA succeeded")
	}
}

func TestChallenges(t *testing.T) {
	defer func(d time.Duration) { firstWait = d }(firstWait)
	firstWait = time.Millisecond
	m, err := New(Config{Dir: t.TempDir(), Hosts: []string{"a.example"}, CA: testCA})
	if err != nil {
		t.Fatal(err)
	}
	m.tokens["tok"] = "tok.thumbprint"
	alpn := &tls.Certificate{}
	m.alpn["a.example"] = alpn

	tests := []struct {
		name, path string
		served     bool
	}{
		{"token", "/.well-known/acme-challenge/tok", true},
		{"unknown token", "/.well-known/acme-challenge/other", false},
		{"other path", "/tok", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			served := m.ServeChallenge(w, httptest.NewRequest("GET", tt.path, nil))
			if served != tt.served {
				t.Fatalf("ServeChallenge(%s) = %v", tt.path, served)
			}
			if served && (w.Body.String() != "tok.thumbprint" || w.Code != http.StatusOK) {
				t.Errorf("answer %d %q", w.Code, w.Body.String())
			}
		})
	}

	conn := &net.TCPConn{}
	hello := func(name string, protos ...string) *tls.ClientHelloInfo {
		return &tls.ClientHelloInfo{ServerName: name, SupportedProtos: protos, Conn: fakeConn{conn}}
	}
	if c, err := m.GetCertificate(hello("A.example", "acme-tls/1")); err != nil || c != alpn {
		t.Errorf("tls-alpn-01 handshake: %v, %v", c, err)
	}
	if _, err := m.GetCertificate(hello("b.example", "acme-tls/1")); err == nil {
		t.Error("a tls-alpn-01 handshake for a name without a challenge got a certificate")
	}
	if _, err := m.GetCertificate(hello("a.example", "h2")); err == nil || !strings.Contains(err.Error(), "no certificate for a.example yet") {
		t.Errorf("a normal handshake before any certificate: %v", err)
	}
}

// fakeConn is a net.Conn with a remote address, for ClientHelloInfo.
type fakeConn struct{ net.Conn }

func (fakeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1234} }

// TestObtainUnreachable: with no CA to talk to, Obtain fails saying so and
// writes nothing.
func TestObtainUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ca := "https://" + l.Addr().String() + "/dir"
	l.Close()
	dir := filepath.Join(t.TempDir(), "certs")
	m, err := New(Config{Dir: dir, Hosts: []string{"a.example"}, CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Obtain(context.Background())
	if err == nil {
		t.Fatal("Obtain succeeded without a CA")
	}
	want := "get a certificate for a.example from " + ca + ": the CA is unreachable: register the account: "
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q, want it to start with %q and say connection refused", err, want)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the certificate directory exists after a failed Obtain: %v", err)
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	m := &Manager{dir: dir}
	name := filepath.Join(dir, "f.pem")
	for _, content := range []string{"one", "two"} {
		if err := m.write(name, []byte(content)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(name)
		if err != nil || string(b) != content {
			t.Fatalf("read back %q, %v; want %q", b, err, content)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only f.pem (no temporary files)", len(entries))
	}
	fi, _ := os.Stat(name)
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("modes %v and %v, want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
	}
}

// TestFirstCertificateWait: a handshake that comes before the first
// certificate (the connection that started a socket-activated service)
// waits for it instead of failing.
func TestFirstCertificateWait(t *testing.T) {
	m, err := New(Config{Dir: t.TempDir(), Hosts: []string{"a.example"}, CA: testCA})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *tls.Certificate)
	go func() {
		c, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.example"})
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	b := selfSigned(t, []string{"a.example"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	c, err := tls.X509KeyPair(b, b)
	if err != nil {
		t.Fatal(err)
	}
	m.store(&c)
	if g := <-got; g != &c {
		t.Errorf("the waiting handshake got %p, want the stored certificate %p", g, &c)
	}
}
