//go:build linux

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/gotwistd/gotwistd/internal/testcert"
)

// Debian's curl has no HTTP/3, so the tests fetch over HTTP/3 with quic-go,
// from inside the box (its own network namespace): the test binary is
// copied into the box and run there with sockH3Env set, which makes it an
// HTTP/3 client instead of a test run:
//
//	GOTWISTD_E2E_H3GET=/etc/ssl/certs/ca.pem h3get https://localhost/
//
// prints the response's protocol and status on one line, then the body;
// any failure is a message on stderr and exit status 1.
const sockH3Env = "GOTWISTD_E2E_H3GET"

// sockH3Path is where the HTTP/3 client is installed in a box.
const sockH3Path = "/usr/local/bin/h3get"

func init() {
	// Runs before the testing package parses its flags: in the box, the
	// test binary is the client and nothing else.
	if ca := os.Getenv(sockH3Env); ca != "" {
		if err := sockH3Get(ca, os.Args[1:], os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "h3get: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// sockH3Get fetches args[0] over HTTP/3, trusting the certificates in the
// PEM file ca, and writes "PROTO STATUS\n" and the body to w.
func sockH3Get(ca string, args []string, w io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: %s=CA.pem h3get URL", sockH3Env)
	}
	pemData, err := os.ReadFile(ca)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		return fmt.Errorf("%s: no certificate", ca)
	}
	// A busy 2-core machine can be slower than quic-go's 5 s default.
	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		QUICConfig:      &quic.Config{HandshakeIdleTimeout: 30 * time.Second, MaxIdleTimeout: 30 * time.Second},
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read the body: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s %d\n%s", resp.Proto, resp.StatusCode, body)
	return err
}

// sockInstallH3 copies this test binary into the box as the HTTP/3 client.
func sockInstallH3(t *testing.T, box *Box) {
	t.Helper()
	self, err := os.Executable()
	must(t, err)
	must(t, box.CopyFile(self, sockH3Path, 0o755))
}

// sockH3 fetches url over HTTP/3 from inside the box, trusting the CA file
// ca (a path in the box), and returns the protocol, the status line's code
// and the body.
func sockH3(box *Box, ca, url string) (proto string, code string, body string, err error) {
	out, err := box.Run("env", sockH3Env+"="+ca, "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true", sockH3Path, url)
	if err != nil {
		return "", "", "", err
	}
	head, body, ok := strings.Cut(out, "\n")
	proto, code, ok2 := strings.Cut(head, " ")
	if !ok || !ok2 {
		return "", "", "", fmt.Errorf("h3get %s: output %q", url, out)
	}
	return proto, code, body, nil
}

// sockCertOnce makes the certificate sockCert returns, once per test
// process. A CA, so that curl (OpenSSL) accepts it as the trust anchor for
// itself.
var sockCertOnce = sync.OnceValues(func() (*testcert.Cert, error) {
	return testcert.New(testcert.Options{Serial: 1, CA: true})
})

// sockCert returns a self-signed certificate for localhost, 127.0.0.1 and
// ::1, and its ECDSA key, in PEM; made once per test process.
func sockCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	c, err := sockCertOnce()
	if err != nil {
		t.Fatalf("make a test certificate: %v", err)
	}
	return c.CertPEM, c.KeyPEM
}
