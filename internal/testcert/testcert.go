// Package testcert makes self-signed TLS certificates for tests and
// benchmarks on loopback: a key (ECDSA P-256, or RSA 2048 for the cipher
// suites with RSA key exchange), a certificate for the hosts asked for,
// valid from an hour ago for a year, and both in PEM. A certificate made a
// CA can sign others, for tests of certificate chains.
//
// The keys are throwaway: nothing here is for a real deployment.
package testcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// defaultHosts are the names a certificate is for when Options.Hosts is
// empty.
var defaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// Validity is how long a certificate is valid from now. It starts an hour
// in the past, so that a clock a little behind does not reject it. A year,
// so that a scanner such as testssl.sh does not report it as about to
// expire.
const Validity = 365 * 24 * time.Hour

// Options says what certificate New makes. The zero value is a self-signed
// ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1 with a random
// serial number, not a CA.
type Options struct {
	// Hosts are the certificate's subject alternative names: each that
	// parses as an IP address is an IP address, any other a DNS name.
	// Empty means localhost, 127.0.0.1 and ::1.
	Hosts []string
	// Serial is the serial number; 0 means a random positive one.
	Serial int64
	// CA makes the certificate a CA (basic constraints CA:TRUE, key usage
	// certSign): one that can sign others through Options.Parent, or that
	// a verifier other than Go's (OpenSSL's, curl's) accepts as a trust
	// anchor for itself.
	CA bool
	// RSA makes the key RSA 2048 instead of ECDSA P-256, with the key
	// usage keyEncipherment that the suites with RSA key exchange need.
	RSA bool
	// Parent, a CA made by New, signs the certificate; nil self-signs it.
	Parent *Cert
}

// Cert is a certificate New made, with its private key.
type Cert struct {
	Leaf    *x509.Certificate // the certificate, parsed
	Key     crypto.Signer     // *ecdsa.PrivateKey or *rsa.PrivateKey
	CertPEM []byte            // the certificate as one PEM "CERTIFICATE" block
	KeyPEM  []byte            // the key, PKCS #8, as one PEM "PRIVATE KEY" block
}

// New makes a key and a certificate for it as o says. Its subject's common
// name is "gotwistd test" and the serial number, so that a CA and the
// certificates it signs have distinct names.
func New(o Options) (*Cert, error) {
	if o.Parent != nil && !o.Parent.Leaf.IsCA {
		return nil, errors.New("testcert: the parent certificate is not a CA")
	}
	var key crypto.Signer
	var err error
	if o.RSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("testcert: generate key: %w", err)
	}
	serial := big.NewInt(o.Serial)
	if o.Serial == 0 {
		// Positive and at most 62 bits, so that it fits an int64.
		if serial, err = rand.Int(rand.Reader, big.NewInt(1<<62)); err != nil {
			return nil, fmt.Errorf("testcert: serial number: %w", err)
		}
		serial.Add(serial, big.NewInt(1))
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "gotwistd test " + strconv.FormatInt(serial.Int64(), 10)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  o.CA,
	}
	if o.CA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if o.RSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	hosts := o.Hosts
	if len(hosts) == 0 {
		hosts = defaultHosts
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	parent, signer := tmpl, key
	if o.Parent != nil {
		parent, signer = o.Parent.Leaf, o.Parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("testcert: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testcert: parse certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("testcert: marshal key: %w", err)
	}
	return &Cert{
		Leaf:    leaf,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}, nil
}

// TLS returns the certificate and key for a tls.Config's Certificates.
func (c *Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Leaf.Raw}, PrivateKey: c.Key, Leaf: c.Leaf}
}

// Pool returns a pool that trusts the certificate, for a client's RootCAs.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Leaf)
	return p
}

// Write writes the certificate to dir/cert.pem (mode 0644) and the key to
// dir/key.pem (0600), and returns the two paths. Each file is written to a
// temporary file first and renamed into place, so that a server reloading
// its certificate while Write replaces it never reads half a file.
func (c *Cert) Write(dir string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := writeFile(certFile, c.CertPEM, 0o644); err != nil {
		return "", "", err
	}
	if err := writeFile(keyFile, c.KeyPEM, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// writeFile writes data to path through path.tmp and a rename.
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("testcert: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("testcert: %w", err)
	}
	return nil
}
