package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// certStore holds the certificate of an ssl or quic listener and swaps it
// atomically on reload.
type certStore struct {
	keyFile, certFile, chainFile string // absolute
	cur                          atomic.Pointer[tls.Certificate]
}

func newCertStore(e *Endpoint) (*certStore, error) {
	abs := func(p string) (string, error) {
		if p == "" {
			return "", nil
		}
		return filepath.Abs(p)
	}
	key := e.PrivateKey
	if key == "" {
		key = DefaultPrivateKey
	}
	cert := e.CertKey
	if cert == "" {
		cert = key
	}
	s := &certStore{}
	var err error
	if s.keyFile, err = abs(key); err != nil {
		return nil, err
	}
	if s.certFile, err = abs(cert); err != nil {
		return nil, err
	}
	if s.chainFile, err = abs(e.ExtraCertChain); err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// readPEM reads a PEM file, explaining the usual failures.
func readPEM(what, name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s file %s does not exist: create it or set %s= to the right file: %w", what, name, what, err)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("%s file %s is not readable by this user: fix its permissions: %w", what, name, err)
	case err != nil:
		return nil, fmt.Errorf("read %s file %s: %w", what, name, err)
	}
	return b, nil
}

// load reads the files and, if they make a valid certificate, installs it.
func (s *certStore) load() error {
	keyPEM, err := readPEM("privateKey", s.keyFile)
	if err != nil {
		return err
	}
	certPEM := keyPEM
	if s.certFile != s.keyFile {
		if certPEM, err = readPEM("certKey", s.certFile); err != nil {
			return err
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("load certificate %s with key %s: %w", s.certFile, s.keyFile, err)
	}
	if s.chainFile != "" {
		chainPEM, err := readPEM("extraCertChain", s.chainFile)
		if err != nil {
			return err
		}
		n := 0
		for rest := chainPEM; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			if _, err := x509.ParseCertificate(block.Bytes); err != nil {
				return fmt.Errorf("extraCertChain file %s: certificate %d: %w", s.chainFile, n+1, err)
			}
			cert.Certificate = append(cert.Certificate, block.Bytes)
			n++
		}
		if n == 0 {
			return fmt.Errorf("extraCertChain file %s holds no PEM certificate", s.chainFile)
		}
	}
	s.cur.Store(&cert)
	return nil
}

func (s *certStore) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load(), nil
}

// config returns the server TLS configuration: TLS 1.2 at least (1.3 for
// QUIC), only AEAD cipher suites with forward secrecy for TLS 1.2, Go's
// default key exchanges (X25519MLKEM768, X25519, P-256, ...).
func (s *certStore) config(quic bool) *tls.Config {
	return tlsConfig(s.get, quic)
}

// tlsConfig is the server TLS configuration of ssl, quic and le listeners,
// serving the certificates get returns.
func tlsConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error), quic bool) *tls.Config {
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: get,
		NextProtos:     []string{"h2", "http/1.1"},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
	if quic {
		c.MinVersion = tls.VersionTLS13
		c.NextProtos = []string{"h3"}
		c.CipherSuites = nil
	}
	return c
}
