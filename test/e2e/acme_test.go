//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	pebbleOnce sync.Once
	pebbleBin  string
	pebbleDir  string // the pebble module's directory (its test certificates)
	pebbleErr  error
)

// pebbleBinary builds Pebble, Let's Encrypt's test CA (a tool dependency
// in go.mod), once, and returns its path on the host.
func pebbleBinary(t *testing.T) string {
	t.Helper()
	gotwistdBinary(t) // makes buildDir
	pebbleOnce.Do(func() {
		pebbleBin = filepath.Join(buildDir, "pebble")
		cmd := exec.Command("go", "build", "-o", pebbleBin, "github.com/letsencrypt/pebble/v2/cmd/pebble")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			pebbleErr = fmt.Errorf("go build pebble: %v\n%s", err, out)
			return
		}
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
		if err != nil {
			pebbleErr = fmt.Errorf("go list pebble: %w", err)
			return
		}
		pebbleDir = strings.TrimSpace(string(out))
	})
	if pebbleErr != nil {
		t.Fatal(pebbleErr)
	}
	return pebbleBin
}

const pebbleUnit = `[Unit]
Description=Pebble, a test ACME CA

[Service]
ExecStart=/usr/local/bin/pebble -config /etc/pebble/pebble.json
Environment=PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0
`

// TestACMEUnits: the units `gotwistd units` writes for an le: endpoint, in
// a real systemd, with Pebble in the box as the CA. The first HTTPS
// connection starts the socket-activated service, which gets its
// certificate (Pebble validates http-01 on the port 80 socket) and answers
// that very connection over HTTP/2; the certificate lands in the
// service's StateDirectory=, and a restart serves it without a new order.
func TestACMEUnits(t *testing.T) {
	t.Parallel()
	box, page := tutorialBox(t)
	bin := pebbleBinary(t)
	must(t, box.CopyFile(bin, "/usr/local/bin/pebble", 0o755))
	certs := filepath.Join(pebbleDir, "test", "certs")
	must(t, box.CopyFile(filepath.Join(certs, "pebble.minica.pem"), "/etc/pebble/minica.pem", 0o644))
	must(t, box.CopyFile(filepath.Join(certs, "localhost", "cert.pem"), "/etc/pebble/cert.pem", 0o644))
	must(t, box.CopyFile(filepath.Join(certs, "localhost", "key.pem"), "/etc/pebble/key.pem", 0o600))
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
		"certificate": "/etc/pebble/cert.pem", "privateKey": "/etc/pebble/key.pem",
		"httpPort": 80, "tlsPort": 443, "keyAlgorithm": "ecdsa",
		"profiles": map[string]any{"default": map[string]any{"description": "e2e", "validityPeriod": 3600}},
	}})
	must(t, box.WriteFile("/etc/pebble/pebble.json", cfg, 0o644))
	must(t, box.WriteFile("/etc/systemd/system/pebble.service", []byte(pebbleUnit), 0o644))
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", "pebble.service")
	if err := eventually(20*time.Second, func() error {
		_, err := box.Curl("https://127.0.0.1:15000/roots/0", "--cacert", "/etc/pebble/minica.pem", "--output", "/etc/pebble/root.pem")
		return err
	}); err != nil {
		j, _ := box.Journal("pebble.service")
		t.Fatalf("Pebble did not come up: %v\n%s", err, j)
	}

	out, err := box.Run("gotwistd", "units", "--name", "site", "--path", "/srv/www/www.example.com/static",
		"--listen", "tcp:80", "--listen", `le:/var/lib/site/acme:tcp:443:hosts=localhost:ca=https\://127.0.0.1\:14000/dir`,
		"--out", "/etc/systemd/system")
	if err != nil {
		t.Fatalf("gotwistd units: %v\n%s", err, out)
	}
	// The service trusts Pebble's own HTTPS listener, as it would trust a
	// real CA's through the system's roots.
	must(t, box.WriteFile("/etc/systemd/system/site.service.d/pebble.conf",
		[]byte("[Service]\nEnvironment=SSL_CERT_FILE=/etc/pebble/minica.pem\n"), 0o644))
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "enable", "--now", "site.socket")
	wantContains(t, "service status before the first connection", status(t, box, "site.service"), "Active: inactive (dead)")

	// The first connection, HTTPS, starts the service and waits for the
	// certificate it gets.
	https := func() string {
		t.Helper()
		out, err := box.Curl("https://localhost/", "--cacert", "/etc/pebble/root.pem", "--http2", "--write-out", "\n%{http_version}")
		if err != nil {
			st, _ := box.Status("site.service")
			j, _ := box.Journal("site.service")
			t.Fatalf("curl https://localhost/: %v\n%s\n%s\n%s", err, out, st, j)
		}
		return out
	}
	if out := https(); out != string(page)+"\n2" {
		t.Errorf("first HTTPS answer %q, want the page over HTTP/2", out)
	}
	wantContains(t, "service status", status(t, box, "site.service"), "Active: active (running)", `Status: "serving /srv/www`)
	waitJournal(t, box, "site.service", "Answering the http-01 challenge for localhost.", "Got the certificate of localhost",
		`"GET /.well-known/acme-challenge/`, `"GET / HTTP/2.0" 200`)
	ls, err := box.Run("ls", "/var/lib/private/site/acme/127.0.0.1_14000-dir")
	must(t, err)
	wantContains(t, "the StateDirectory", ls, "account.key", "localhost.pem")

	// Plain HTTP redirects.
	out, _ = box.Run("curl", "--silent", "--include", "http://localhost/a?b")
	wantContains(t, "plain HTTP", out, "301 Moved Permanently", "Location: https://localhost/a?b")

	// A restart serves the cached certificate: Pebble gets no new order.
	orders := func() int {
		j, _ := box.Journal("pebble.service")
		return strings.Count(j, "Added order")
	}
	before := orders()
	systemctl(t, box, "restart", "site.service")
	if out := https(); out != string(page)+"\n2" {
		t.Errorf("HTTPS after the restart %q", out)
	}
	waitJournal(t, box, "site.service", "Serving the cached certificate of localhost")
	if n := orders(); n != before || n == 0 {
		t.Errorf("Pebble has %d orders after the restart, %d before", n, before)
	}
	systemctl(t, box, "stop", "site.socket", "site.service")
	sockWantCleanStop(t, box, "site.service")
}
