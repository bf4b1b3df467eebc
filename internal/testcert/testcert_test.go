package testcert

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	ca, err := New(Options{CA: true, Serial: 10})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		o         Options
		dns, ips  []string // the SANs wanted
		rsa       bool
		keyUsage  x509.KeyUsage
		roots     *Cert // the certificate a client trusts
		wantChain int   // certificates the server sends
	}{
		{"default", Options{}, []string{"localhost"}, []string{"127.0.0.1", "::1"}, false,
			x509.KeyUsageDigitalSignature, nil, 1},
		{"hosts", Options{Hosts: []string{"localhost", "127.0.0.1"}, Serial: 7}, []string{"localhost"}, []string{"127.0.0.1"}, false,
			x509.KeyUsageDigitalSignature, nil, 1},
		{"names only", Options{Hosts: []string{"example.test", "www.example.test"}}, []string{"example.test", "www.example.test"}, nil, false,
			x509.KeyUsageDigitalSignature, nil, 1},
		{"CA", Options{CA: true, Serial: 1}, []string{"localhost"}, []string{"127.0.0.1", "::1"}, false,
			x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, nil, 1},
		{"RSA CA", Options{Hosts: []string{"localhost", "127.0.0.1"}, CA: true, RSA: true}, []string{"localhost"}, []string{"127.0.0.1"}, true,
			x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageKeyEncipherment, nil, 1},
		{"signed by a CA", Options{Serial: 11, Parent: ca}, []string{"localhost"}, []string{"127.0.0.1", "::1"}, false,
			x509.KeyUsageDigitalSignature, ca, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			c, err := New(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(c.CertPEM)
			if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
				t.Fatalf("CertPEM is not one CERTIFICATE block: %q", c.CertPEM)
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !cert.Equal(c.Leaf) {
				t.Error("Leaf is not the certificate in CertPEM")
			}
			if block, _ := pem.Decode(c.KeyPEM); block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("KeyPEM is not a PRIVATE KEY block: %q", c.KeyPEM)
			}
			if _, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
				t.Fatalf("X509KeyPair: %v", err)
			}
			if !slices.Equal(cert.DNSNames, tt.dns) {
				t.Errorf("DNSNames = %q, want %q", cert.DNSNames, tt.dns)
			}
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.ips) {
				t.Errorf("IPAddresses = %q, want %q", ips, tt.ips)
			}
			if nb := cert.NotBefore; nb.After(before.Add(-59*time.Minute)) || nb.Before(before.Add(-61*time.Minute)) {
				t.Errorf("NotBefore = %v, want about an hour before %v", nb, before)
			}
			if na := cert.NotAfter; na.Before(before.Add(Validity-time.Minute)) || na.After(time.Now().Add(Validity)) {
				t.Errorf("NotAfter = %v, want %v after %v", na, Validity, before)
			}
			if tt.o.Serial != 0 && cert.SerialNumber.Int64() != tt.o.Serial {
				t.Errorf("serial %v, want %d", cert.SerialNumber, tt.o.Serial)
			}
			if cert.SerialNumber.Sign() <= 0 || !cert.SerialNumber.IsInt64() {
				t.Errorf("serial %v is not a positive int64", cert.SerialNumber)
			}
			if cert.IsCA != tt.o.CA || !cert.BasicConstraintsValid {
				t.Errorf("IsCA %v (basic constraints valid %v), want %v", cert.IsCA, cert.BasicConstraintsValid, tt.o.CA)
			}
			if cert.KeyUsage != tt.keyUsage {
				t.Errorf("KeyUsage = %b, want %b", cert.KeyUsage, tt.keyUsage)
			}
			if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("ExtKeyUsage = %v", cert.ExtKeyUsage)
			}
			switch c.Key.(type) {
			case *rsa.PrivateKey:
				if !tt.rsa {
					t.Error("RSA key, want ECDSA")
				}
			case *ecdsa.PrivateKey:
				if tt.rsa {
					t.Error("ECDSA key, want RSA")
				}
			default:
				t.Errorf("key is %T", c.Key)
			}
			roots := c
			if tt.roots != nil {
				roots = tt.roots
			}
			chain := []tls.Certificate{c.TLS()}
			if tt.o.Parent != nil {
				chain[0].Certificate = append(chain[0].Certificate, tt.o.Parent.Leaf.Raw)
			}
			for _, host := range append(slices.Clone(tt.dns), tt.ips...) {
				if n, err := handshake(chain, roots.Pool(), host); err != nil || n != tt.wantChain {
					t.Errorf("handshake for %s: %d certificates, %v", host, n, err)
				}
			}
			if _, err := handshake(chain, roots.Pool(), "other.test"); err == nil {
				t.Error("handshake for a host not in the certificate succeeded")
			}
		})
	}
}

// handshake runs a TLS handshake over loopback TCP between a server with
// certs and a client trusting roots that asks for host, and returns how
// many certificates the server sent. (Not over net.Pipe: it has no
// buffer, and a client that rejects the certificate would block sending
// its alert while the server is still writing its flight.)
func handshake(certs []tls.Certificate, roots *x509.CertPool, host string) (int, error) {
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: certs})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.(*tls.Conn).Handshake()
	}()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", l.Addr().String(), &tls.Config{RootCAs: roots, ServerName: host})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return len(c.ConnectionState().PeerCertificates), nil
}

func TestNewParentNotCA(t *testing.T) {
	leaf, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Parent: leaf}); err == nil {
		t.Error("New signed with a certificate that is not a CA")
	}
}

func TestWrite(t *testing.T) {
	c, err := New(Options{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Write replaces what is there.
	for range 2 {
		certFile, keyFile, err := c.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		if certFile != filepath.Join(dir, "cert.pem") || keyFile != filepath.Join(dir, "key.pem") {
			t.Fatalf("Write = %s, %s", certFile, keyFile)
		}
		for file, want := range map[string][]byte{certFile: c.CertPEM, keyFile: c.KeyPEM} {
			if got, err := os.ReadFile(file); err != nil || string(got) != string(want) {
				t.Errorf("%s holds %q, %v", file, got, err)
			}
		}
		if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("key file mode %v, %v: readable by others", fi.Mode(), err)
		}
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			t.Error(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 2 {
		t.Errorf("dir holds %d files (%v), want cert.pem and key.pem only", len(entries), err)
	}
	if _, _, err := c.Write(filepath.Join(dir, "missing")); err == nil {
		t.Error("Write to a missing directory succeeded")
	}
}
