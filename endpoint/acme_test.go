package endpoint

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func leEP(typ, dir string, inner *Endpoint, hosts ...string) *Endpoint {
	return &Endpoint{Type: typ, CertDir: dir, Hosts: hosts, Inner: inner}
}

func TestParseACME(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Endpoint
		str  string // canonical String(); "" means same as in
	}{
		{"txacme le", "le:/var/lib/gotwistd/certs:tcp:443:hosts=example.com",
			leEP(TypeLE, "/var/lib/gotwistd/certs", tcp(443, "", 50), "example.com"), ""},
		{"txacme lets", "lets:/srv/certs:tcp:443:hosts=example.com",
			leEP(TypeLETS, "/srv/certs", tcp(443, "", 50), "example.com"), ""},
		{"systemd socket", "le:/var/lib/gotwistd/certs:systemd:domain=INET:name=https:hosts=example.com,www.example.com",
			leEP(TypeLE, "/var/lib/gotwistd/certs", sysEP("INET", 0, "https"), "example.com", "www.example.com"), ""},
		{"hosts first, case, dot, duplicate", "LE:hosts=WWW.Example.COM.,www.example.com, example.com:certs:tcp:443:interface=127.0.0.1",
			leEP(TypeLE, "certs", tcp(443, "127.0.0.1", 50), "www.example.com", "example.com"),
			"le:certs:tcp:443:interface=127.0.0.1:hosts=www.example.com,example.com"},
		{"directory keyword", "le:tcp:443:directory=/d:hosts=a.example",
			leEP(TypeLE, "/d", tcp(443, "", 50), "a.example"), "le:/d:tcp:443:hosts=a.example"},
		{"ca and email", `le:/d:tcp6:443:interface=\:\:1:hosts=a.example:ca=https\://127.0.0.1\:14000/dir:email=ops@a.example`,
			&Endpoint{Type: TypeLE, CertDir: "/d", Hosts: []string{"a.example"}, CA: "https://127.0.0.1:14000/dir", Email: "ops@a.example",
				Inner: &Endpoint{Type: TypeTCP6, Port: 443, Backlog: 50, Interface: "::1"}}, ""},
		{"over unix", "le:/d:unix:/run/www.sock:mode=660:hosts=a.example",
			leEP(TypeLE, "/d", unixEP("/run/www.sock", 0o660, 50, true), "a.example"), "le:/d:unix:/run/www.sock:mode=0660:hosts=a.example"},
		{"escaped directory", `le:/srv/a\:b:tcp:0:hosts=a.example`,
			leEP(TypeLE, "/srv/a:b", tcp(0, "", 50), "a.example"), ""},
		{"inner positional fields", "le:/d:tcp:443:127.0.0.1:9:hosts=a.example",
			leEP(TypeLE, "/d", tcp(443, "127.0.0.1", 9), "a.example"), "le:/d:tcp:443:interface=127.0.0.1:backlog=9:hosts=a.example"},
		{"last hosts wins", "le:/d:tcp:443:hosts=a.example:hosts=b.example",
			leEP(TypeLE, "/d", tcp(443, "", 50), "b.example"), "le:/d:tcp:443:hosts=b.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkParse(t, tt.in, tt.want, tt.str) })
	}
}

func TestParseACMEErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"nothing", "le", `no certificate directory: give one, as in le:/var/lib/gotwistd/certs:tcp:443:hosts=example.com`},
		{"no inner", "le:/d:hosts=a.example", `no endpoint after the certificate directory: give one, as in le:/var/lib/gotwistd/certs:tcp:443:hosts=example.com`},
		{"no hosts", "lets:/d:tcp:443", `no hosts=: give the names to get certificates for, separated by commas, as in lets:/var/lib/gotwistd/certs:tcp:443:hosts=example.com,www.example.com`},
		{"wraps ssl", "le:/d:ssl:443:hosts=a.example", `le cannot wrap a ssl endpoint: it wraps tcp, tcp6, unix, systemd`},
		{"wraps le", "le:/d:le:/e:tcp:1:hosts=a.example", `le cannot wrap a le endpoint: it wraps tcp, tcp6, unix, systemd`},
		{"ssl wraps le", "ssl:le:/d:tcp:443", `ssl cannot wrap a le endpoint: it wraps tcp, tcp6, unix, systemd, haproxy`},
		{"not a type", "le:/d:443:hosts=a.example", `"443" after the certificate directory is not an endpoint type: give one of tcp, tcp6, unix, systemd, as in le:/var/lib/gotwistd/certs:tcp:443:hosts=example.com`},
		{"empty directory", "le::tcp:443:hosts=a.example", `the certificate directory is empty: give one, as in le:/var/lib/gotwistd/certs:tcp:443`},
		{"wildcard", "le:/d:tcp:443:hosts=*.example.com", `host "*.example.com" is a wildcard: wildcard certificates need the dns-01 challenge, which gotwistd does not answer; list the names`},
		{"bad host", "le:/d:tcp:443:hosts=a_b.example", `host "a_b.example" is not a DNS name: labels of 1-63 letters, digits and hyphens, not starting or ending with a hyphen`},
		{"empty host", "le:/d:tcp:443:hosts=a.example,,b.example", `hosts= holds an empty name: give names separated by commas, as in hosts=example.com,www.example.com`},
		{"ip host", "le:/d:tcp:443:hosts=127.0.0.1", `host "127.0.0.1" is an IP address: ACME certificates here are for DNS names`},
		{"bad ca", "le:/d:tcp:443:hosts=a.example:ca=letsencrypt", `ca "letsencrypt" is not an http(s) URL: give the CA's ACME directory, as in ca=https\://acme-staging-v02.api.letsencrypt.org/directory`},
		{"bad email", "le:/d:tcp:443:hosts=a.example:email=nobody", `email "nobody" is not an e-mail address`},
		{"inner error", "le:/d:tcp:abc:hosts=a.example", `port "abc" is not a number`},
		{"tls keyword", "le:/d:tcp:443:hosts=a.example:privateKey=k.pem", `unknown keyword "privateKey" for tcp: it takes port, interface, backlog`},
		{"directory twice", "le:/d:tcp:443:directory=/e:hosts=a.example", `"/d" after the certificate directory is not an endpoint type: give one of tcp, tcp6, unix, systemd, as in le:/var/lib/gotwistd/certs:tcp:443:hosts=example.com`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.in, e)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != tt.in || !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v is not a syntax *ParseError for %q", err, tt.in)
			}
			if pe.Reason != tt.want {
				t.Errorf("Parse(%q) reason\n got %s\nwant %s", tt.in, pe.Reason, tt.want)
			}
		})
	}
}

// TestListenACME binds an le: endpoint whose certificate is cached: the
// listener serves it at once, offers h2, http/1.1 and acme-tls/1, and
// carries the manager.
func TestListenACME(t *testing.T) {
	dir := t.TempDir()
	ca := "https://127.0.0.1:1/dir"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), DNSNames: []string{"a.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	sub := filepath.Join(dir, "127.0.0.1_1-dir")
	os.MkdirAll(sub, 0o700)
	file := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
	if err := os.WriteFile(filepath.Join(sub, "a.example.pem"), file, 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := Parse("le:" + escape(dir) + ":tcp:0:interface=127.0.0.1:hosts=a.example:ca=" + escape(ca))
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.ACME == nil || !l.ACME.HasValidCertificate() || l.ACME.CA() != ca {
		t.Fatalf("listener's manager %v: no cached certificate or wrong CA", l.ACME)
	}
	if want := []string{"h2", "http/1.1", "acme-tls/1"}; !reflect.DeepEqual(l.TLS.NextProtos, want) {
		t.Errorf("ALPN %q, want %q", l.TLS.NextProtos, want)
	}
	go func() {
		c, err := l.Stream.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tls.Server(c, l.TLS).Handshake()
	}()
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	pool.AddCert(leaf)
	c, err := tls.Dial("tcp", l.Stream.Addr().String(), &tls.Config{ServerName: "a.example", RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	if st := c.ConnectionState(); st.NegotiatedProtocol != "h2" || st.PeerCertificates[0].SerialNumber.Int64() != 7 {
		t.Errorf("negotiated %q, serial %v", st.NegotiatedProtocol, st.PeerCertificates[0].SerialNumber)
	}
}
