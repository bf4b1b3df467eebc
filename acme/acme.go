// Package acme obtains and renews a TLS certificate from an ACME
// certificate authority (RFC 8555: Let's Encrypt, or a test CA such as
// Pebble) for the le: and lets: endpoints of package endpoint. It answers
// the CA's http-01 challenge through HTTPHandler (on a plain HTTP
// listener of the same server) and its tls-alpn-01 challenge through
// GetCertificate (on the TLS listener itself), keeps the account key and
// the certificate in a directory that survives restarts, and renews the
// certificate in the background once two thirds of its lifetime have
// passed, swapping it for new handshakes without touching open
// connections. A renewal that fails keeps the old certificate and is
// retried.
//
// The directory holds one subdirectory per CA (named after its directory
// URL), holding account.key (the account's ECDSA P-256 key, PEM) and
// HOST.pem (the certificate chain then its private key, PEM, for the first
// of the hosts). Files are written to a temporary name and renamed, so a
// failed or interrupted issuance leaves nothing half-written.
//
// It is built on golang.org/x/crypto/acme.
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
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// ALPNProto is the ALPN protocol of the tls-alpn-01 challenge (RFC 8737);
// a TLS listener must offer it for GetCertificate to answer the CA.
const ALPNProto = xacme.ALPNProto

// ChallengePath is the URL path prefix of http-01 challenges.
const ChallengePath = "/.well-known/acme-challenge/"

// Config says what certificate to get from which CA, and where to keep it.
type Config struct {
	// Dir is the directory of the account key and certificates. It is
	// created (mode 0700) when the first file is written.
	Dir string
	// Hosts are the DNS names of the certificate. Required.
	Hosts []string
	// CA is the ACME directory URL. Required.
	CA string
	// Email is the account's contact address; "" for none.
	Email string
	// HTTPClient talks to the CA. Nil: a client with a 30 s timeout per
	// request that trusts the system's roots (SSL_CERT_FILE and
	// SSL_CERT_DIR add others).
	HTTPClient *http.Client
}

// Manager holds the certificate of one le: endpoint, obtains it and renews
// it. Its methods are safe for concurrent use.
type Manager struct {
	cfg   Config
	dir   string // cfg.Dir plus the CA's subdirectory
	cert  atomic.Pointer[tls.Certificate]
	http1 atomic.Bool // a plain HTTP listener answers http-01
	log   atomic.Pointer[slog.Logger]
	first chan struct{} // closed once there is a certificate
	once  sync.Once

	mu       sync.Mutex
	tokens   map[string]string           // http-01: token -> key authorization
	alpn     map[string]*tls.Certificate // tls-alpn-01: host -> challenge certificate
	problem  string                      // the last renewal's failure, "" when fine
	obtainMu sync.Mutex                  // one issuance at a time
}

// New returns the manager of cfg and loads the certificate cached in its
// directory, if there is one that is still valid and covers every host.
// It makes no network request. An unreadable cache is an error; a missing
// one is not (Obtain then gets a certificate).
func New(cfg Config) (*Manager, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("acme: no hosts to get a certificate for")
	}
	if cfg.CA == "" {
		return nil, errors.New("acme: no CA directory URL")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("acme: certificate directory %s: %w", cfg.Dir, err)
	}
	cfg.Dir = dir
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	m := &Manager{
		cfg:    cfg,
		dir:    filepath.Join(dir, caDirName(cfg.CA)),
		tokens: map[string]string{},
		alpn:   map[string]*tls.Certificate{},
		first:  make(chan struct{}),
	}
	c, err := m.loadCached()
	if err != nil {
		return nil, err
	}
	if c != nil {
		m.store(c)
	}
	return m, nil
}

// store serves c from now on.
func (m *Manager) store(c *tls.Certificate) {
	m.cert.Store(c)
	m.once.Do(func() { close(m.first) })
}

// firstWait bounds how long a handshake waits for the first certificate;
// a variable for tests.
var firstWait = 2 * time.Minute

// caDirName turns a directory URL into a file name:
// https://acme-v02.api.letsencrypt.org/directory gives
// "acme-v02.api.letsencrypt.org-directory".
func caDirName(ca string) string {
	u, err := url.Parse(ca)
	s := ca
	if err == nil {
		s = u.Host + u.Path
	}
	var b strings.Builder
	for _, r := range strings.Trim(s, "/") {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		case r == '/':
			b.WriteByte('-')
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "ca"
	}
	return b.String()
}

func (m *Manager) certFile() string    { return filepath.Join(m.dir, m.cfg.Hosts[0]+".pem") }
func (m *Manager) accountFile() string { return filepath.Join(m.dir, "account.key") }

// CertFile is the file the certificate is kept in.
func (m *Manager) CertFile() string { return m.certFile() }

// loadCached reads the cached certificate; nil when there is none usable.
func (m *Manager) loadCached() (*tls.Certificate, error) {
	b, err := os.ReadFile(m.certFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acme: read cached certificate: %w", err)
	}
	c, err := tls.X509KeyPair(b, b)
	if err != nil {
		// A damaged cache is replaced by a new certificate.
		return nil, nil
	}
	if !m.usable(c.Leaf, time.Now()) {
		return nil, nil
	}
	return &c, nil
}

// usable reports whether leaf is valid at now and names every host.
func (m *Manager) usable(leaf *x509.Certificate, now time.Time) bool {
	if leaf == nil || now.Before(leaf.NotBefore) || !now.Before(leaf.NotAfter) {
		return false
	}
	for _, h := range m.cfg.Hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// Hosts are the names of the certificate.
func (m *Manager) Hosts() []string { return slices.Clone(m.cfg.Hosts) }

// CA is the ACME directory URL.
func (m *Manager) CA() string { return m.cfg.CA }

// Certificate returns the certificate served now, or nil before the first
// one is obtained.
func (m *Manager) Certificate() *tls.Certificate { return m.cert.Load() }

// HasValidCertificate reports whether a certificate that is valid now is
// being served.
func (m *Manager) HasValidCertificate() bool {
	c := m.cert.Load()
	return c != nil && m.usable(c.Leaf, time.Now())
}

// EnableHTTP01 tells the manager that HTTPHandler is reachable by the CA
// on port 80 (a plain HTTP listener of the same server), so it answers
// the http-01 challenge; without it the manager answers tls-alpn-01 only.
func (m *Manager) EnableHTTP01() { m.http1.Store(true) }

// SetLogger makes the manager log what it answers and obtains to l.
func (m *Manager) SetLogger(l *slog.Logger) { m.log.Store(l) }

func (m *Manager) logger() *slog.Logger {
	if l := m.log.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// GetCertificate is a tls.Config.GetCertificate: the tls-alpn-01
// challenge certificate for the CA's validation handshakes, the
// certificate otherwise.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if slices.Contains(hello.SupportedProtos, ALPNProto) {
		m.mu.Lock()
		c := m.alpn[strings.ToLower(hello.ServerName)]
		m.mu.Unlock()
		if c == nil {
			return nil, fmt.Errorf("acme: no tls-alpn-01 challenge pending for %q", hello.ServerName)
		}
		m.logger().Info(fmt.Sprintf("Answering a tls-alpn-01 validation handshake for %s from %s.", hello.ServerName, hello.Conn.RemoteAddr()))
		return c, nil
	}
	c := m.cert.Load()
	if c == nil {
		// A client that came before the first certificate (the one whose
		// connection started a socket-activated service) waits for it.
		t := time.NewTimer(firstWait)
		defer t.Stop()
		var gone <-chan struct{}
		if ctx := hello.Context(); ctx != nil {
			gone = ctx.Done()
		}
		select {
		case <-m.first:
			c = m.cert.Load()
		case <-gone:
		case <-t.C:
		}
	}
	if c == nil {
		return nil, fmt.Errorf("acme: no certificate for %s yet", strings.Join(m.cfg.Hosts, ", "))
	}
	return c, nil
}

// ServeChallenge answers an http-01 challenge request for one of this
// manager's tokens and reports whether it did.
func (m *Manager) ServeChallenge(w http.ResponseWriter, r *http.Request) bool {
	token, ok := strings.CutPrefix(r.URL.Path, ChallengePath)
	if !ok {
		return false
	}
	m.mu.Lock()
	resp, ok := m.tokens[token]
	m.mu.Unlock()
	if !ok {
		return false
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(resp))
	return true
}

// Problem is the failure of the last renewal, "" when it succeeded or none
// has failed yet.
func (m *Manager) Problem() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.problem
}

// RenewAt is when the certificate is due for renewal: once two thirds of
// its lifetime have passed. The zero time when there is no certificate.
func (m *Manager) RenewAt() time.Time {
	c := m.cert.Load()
	if c == nil || c.Leaf == nil {
		return time.Time{}
	}
	life := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)
	return c.Leaf.NotBefore.Add(life * 2 / 3)
}

// Obtain gets a new certificate from the CA: it registers the account
// (once), orders the certificate, answers the challenges, stores the
// result and serves it for new handshakes. On error the certificate
// served before, if any, stays.
func (m *Manager) Obtain(ctx context.Context) error {
	m.obtainMu.Lock()
	defer m.obtainMu.Unlock()
	c, err := m.obtain(ctx)
	if err != nil {
		return fmt.Errorf("get a certificate for %s from %s: %w", strings.Join(m.cfg.Hosts, ","), m.cfg.CA, explain(err))
	}
	m.store(c)
	return nil
}

// explain makes the usual network failures say what they mean.
func explain(err error) error {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &oe) && oe.Op == "dial":
		return fmt.Errorf("the CA is unreachable: %w", err)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the CA did not answer in time: %w", err)
	}
	return err
}

// obtain gets a new certificate for the configured hosts: it registers
// (or finds) the account, orders, answers the challenges, finalizes, and
// stores the chain with its key.
func (m *Manager) obtain(ctx context.Context) (*tls.Certificate, error) {
	client, err := m.register(ctx)
	if err != nil {
		return nil, err
	}
	order, err := client.AuthorizeOrder(ctx, xacme.DomainIDs(m.cfg.Hosts...))
	if err != nil {
		return nil, fmt.Errorf("order: %w", err)
	}
	for _, u := range order.AuthzURLs {
		if err := m.authorize(ctx, client, u); err != nil {
			return nil, err
		}
	}
	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	chain, err := m.finalize(ctx, client, order.URI, certKey)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("the CA sent a bad certificate: %w", err)
	}
	if !m.usable(leaf, time.Now()) {
		return nil, fmt.Errorf("the CA sent a certificate that does not cover %s now (valid %s to %s)",
			strings.Join(m.cfg.Hosts, ", "), leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	if err := m.storeCert(chain, certKey); err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: certKey, Leaf: leaf}, nil
}

// register returns a client for the CA with the account registered (an
// existing one is fine), saving a newly made account key.
func (m *Manager) register(ctx context.Context) (*xacme.Client, error) {
	key, keyIsNew, err := m.accountKey()
	if err != nil {
		return nil, err
	}
	client := &xacme.Client{Key: key, DirectoryURL: m.cfg.CA, HTTPClient: m.cfg.HTTPClient, UserAgent: "gotwistd"}
	acct := &xacme.Account{}
	if m.cfg.Email != "" {
		acct.Contact = []string{"mailto:" + m.cfg.Email}
	}
	if _, err := client.Register(ctx, acct, xacme.AcceptTOS); err != nil && !errors.Is(err, xacme.ErrAccountAlreadyExists) {
		return nil, fmt.Errorf("register the account: %w", err)
	}
	if keyIsNew {
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := m.write(m.accountFile(), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
	}
	return client, nil
}

// finalize waits for the order at orderURL to be ready, sends a CSR for
// certKey and returns the issued chain (never empty).
func (m *Manager) finalize(ctx context.Context, client *xacme.Client, orderURL string, certKey *ecdsa.PrivateKey) ([][]byte, error) {
	// orderURL is kept: orders fetched later may not carry it.
	order, err := client.WaitOrder(ctx, orderURL)
	if err != nil {
		return nil, fmt.Errorf("order: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: m.cfg.Hosts[0]},
		DNSNames: m.cfg.Hosts,
	}, certKey)
	if err != nil {
		return nil, err
	}
	chain, _, err := client.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
	if err != nil {
		// A CA that finalizes asynchronously without a Location header
		// (Pebble) leaves CreateOrderCert no order URL to poll: poll the
		// one the order came from.
		o, werr := waitIssued(ctx, client, orderURL)
		if werr != nil {
			return nil, fmt.Errorf("finalize the order: %w (then: %w)", err, werr)
		}
		if chain, err = client.FetchCert(ctx, o.CertURL, true); err != nil {
			return nil, fmt.Errorf("fetch the certificate: %w", err)
		}
	}
	if len(chain) == 0 {
		return nil, errors.New("the CA sent no certificate")
	}
	return chain, nil
}

// storeCert writes the chain and its key to the certificate file, PEM.
func (m *Manager) storeCert(chain [][]byte, certKey *ecdsa.PrivateKey) error {
	var file []byte
	for _, der := range chain {
		file = append(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(certKey)
	if err != nil {
		return err
	}
	file = append(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	return m.write(m.certFile(), file)
}

// authorize answers one authorization's challenge: http-01 when a plain
// listener serves HTTPHandler, else tls-alpn-01.
func (m *Manager) authorize(ctx context.Context, client *xacme.Client, u string) error {
	z, err := client.GetAuthorization(ctx, u)
	if err != nil {
		return fmt.Errorf("authorization: %w", err)
	}
	if z.Status == xacme.StatusValid {
		return nil
	}
	host := z.Identifier.Value
	want := []string{"tls-alpn-01"}
	if m.http1.Load() {
		want = []string{"http-01", "tls-alpn-01"}
	}
	var chal *xacme.Challenge
	for _, w := range want {
		for _, c := range z.Challenges {
			if c.Type == w && chal == nil {
				chal = c
			}
		}
	}
	if chal == nil {
		return fmt.Errorf("the CA offers no challenge for %s that gotwistd answers (%s)", host, strings.Join(want, ", "))
	}
	switch chal.Type {
	case "http-01":
		resp, err := client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.tokens[chal.Token] = resp
		m.mu.Unlock()
		defer func() {
			m.mu.Lock()
			delete(m.tokens, chal.Token)
			m.mu.Unlock()
		}()
	case "tls-alpn-01":
		c, err := client.TLSALPN01ChallengeCert(chal.Token, host)
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.alpn[host] = &c
		m.mu.Unlock()
		defer func() {
			m.mu.Lock()
			delete(m.alpn, host)
			m.mu.Unlock()
		}()
	}
	m.logger().Info(fmt.Sprintf("Answering the %s challenge for %s.", chal.Type, host))
	if _, err := client.Accept(ctx, chal); err != nil {
		return fmt.Errorf("%s challenge for %s: %w", chal.Type, host, err)
	}
	if _, err := client.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("%s challenge for %s: %w", chal.Type, host, err)
	}
	return nil
}

// accountKey loads the account key, or makes a new one (not yet saved).
func (m *Manager) accountKey() (*ecdsa.PrivateKey, bool, error) {
	b, err := os.ReadFile(m.accountFile())
	if errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return k, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the account key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, false, fmt.Errorf("account key %s holds no PEM block: remove it to make a new account", m.accountFile())
	}
	k, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, false, fmt.Errorf("account key %s: %w: remove it to make a new account", m.accountFile(), err)
	}
	return k, false, nil
}

// write writes a file of the directory atomically, mode 0600, creating
// the directories (0700) it needs.
func (m *Manager) write(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return fmt.Errorf("create the certificate directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// waitIssued polls an order until the CA has issued its certificate.
func waitIssued(ctx context.Context, client *xacme.Client, u string) (*xacme.Order, error) {
	for {
		o, err := client.GetOrder(ctx, u)
		if err != nil {
			return nil, err
		}
		switch o.Status {
		case xacme.StatusValid:
			if o.CertURL == "" {
				return nil, errors.New("the order is valid but names no certificate")
			}
			return o, nil
		case xacme.StatusInvalid:
			return nil, &xacme.OrderError{OrderURL: u, Status: o.Status, Problem: o.Error}
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
