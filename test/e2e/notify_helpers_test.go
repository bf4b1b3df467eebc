//go:build linux

package e2e

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gotwistd/gotwistd/internal/testcert"
)

// notifyDebsEnv names the directory of the systemd >= 253 packages the
// Type=notify-reload case unpacks into its box;
// testdata/notify/fetch-systemd-backports.sh fills it (./scripts/test
// runs it).
const notifyDebsEnv = "GOTWISTD_E2E_SYSTEMD_DEBS"

// notifyDebsDefault is where fetch-systemd-backports.sh puts them by default.
const notifyDebsDefault = "/var/cache/gotwistd-e2e/systemd-backports"

// notifyBox boots a box with the freshly built gotwistd as /usr/bin/gotwistd,
// the tutorial's page as /srv/www/index.html, and the unit files named
// (from testdata/notify/) in /etc/systemd/system, daemon-reloaded.
func notifyBox(t *testing.T, cfg Config, units ...string) *Box {
	t.Helper()
	SkipUnlessRoot(t)
	bin := gotwistdBinary(t)
	box := Start(t, cfg)
	must(t, box.CopyFile(bin, "/usr/bin/gotwistd", 0o755))
	must(t, box.CopyFile("testdata/index.html", "/srv/www/index.html", 0o644))
	for _, u := range units {
		must(t, box.CopyFile(filepath.Join("testdata", "notify", u), "/etc/systemd/system/"+u, 0o644))
	}
	systemctl(t, box, "daemon-reload")
	return box
}

// notifyCert makes a self-signed certificate for localhost and 127.0.0.1
// with the given serial number, and returns it and its key in PEM.
func notifyCert(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	c, err := testcert.New(testcert.Options{Hosts: []string{"localhost", "127.0.0.1"}, Serial: serial})
	must(t, err)
	return c.CertPEM, c.KeyPEM
}

// notifyInstallCert writes a certificate with the given serial as
// /etc/www/cert.pem and its key as /etc/www/key.pem in the box, each
// through a temporary file and a rename, as a certificate renewal does.
func notifyInstallCert(t *testing.T, box *Box, serial int64) {
	t.Helper()
	cert, key := notifyCert(t, serial)
	for name, data := range map[string][]byte{"cert.pem": cert, "key.pem": key} {
		must(t, box.WriteFile("/etc/www/"+name+".new", data, 0o600))
		_, err := box.Run("mv", "-f", "/etc/www/"+name+".new", "/etc/www/"+name)
		must(t, err)
	}
}

// notifyDial connects to addr ("127.0.0.1:8443") in the box's network
// namespace from this process: a locked thread enters the namespace,
// creates and connects the socket, and returns to the host's. The
// connection then works from any goroutine, so a test can keep one open
// across what it does to the box.
func notifyDial(t *testing.T, box *Box, addr string) net.Conn {
	t.Helper()
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", box.PID()))
	must(t, err)
	defer target.Close()
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer home.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("enter the box's network namespace: %w", err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		done <- result{c, err}
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		// Otherwise the thread stays locked and ends with this goroutine.
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("connect to %s in the box: %v", addr, r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c
}

// notifyClient is one HTTP/1.1 keep-alive connection into the box, over TLS
// or not.
type notifyClient struct {
	conn net.Conn
	br   *bufio.Reader
}

// notifyConnect opens a notifyClient to addr in the box; with useTLS it
// makes the handshake (HTTP/1.1 by ALPN) and trusts any certificate, since
// the tests compare the certificates' serial numbers themselves.
func notifyConnect(t *testing.T, box *Box, addr string, useTLS bool) *notifyClient {
	t.Helper()
	c := notifyDial(t, box, addr)
	must(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	if useTLS {
		tc := tls.Client(c, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake with %s in the box: %v", addr, err)
		}
		c = tc
	}
	return &notifyClient{conn: c, br: bufio.NewReader(c)}
}

// serial is the serial number of the certificate the server presented.
func (c *notifyClient) serial(t *testing.T) int64 {
	t.Helper()
	tc, ok := c.conn.(*tls.Conn)
	if !ok {
		t.Fatal("not a TLS connection")
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		t.Fatal("the server presented no certificate")
	}
	return certs[0].SerialNumber.Int64()
}

// get sends GET path on the connection (keeping it alive) and returns the
// status and body.
func (c *notifyClient) get(path string) (int, string, error) {
	if _, err := fmt.Fprintf(c.conn, "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: gotwistd-e2e\r\n\r\n", path); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// notifyShow returns several properties of a unit as a map
// (systemctl show -p A -p B ...).
func notifyShow(t *testing.T, box *Box, unit string, props ...string) map[string]string {
	t.Helper()
	args := []string{"show", unit}
	for _, p := range props {
		args = append(args, "-p", p)
	}
	out := systemctl(t, box, args...)
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// notifyUsec reads a ...Monotonic property (microseconds).
func notifyUsec(t *testing.T, m map[string]string, prop string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(m[prop], 10, 64)
	if err != nil {
		t.Fatalf("%s=%q is not a number of microseconds", prop, m[prop])
	}
	return v
}

// notifyDebs returns the systemd >= 253 packages to unpack into a box, or
// skips t with a message saying how to get them.
func notifyDebs(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv(notifyDebsEnv)
	if dir == "" {
		dir = notifyDebsDefault
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	sys, _ := filepath.Glob(filepath.Join(dir, "systemd_*.deb"))
	if len(sys) == 0 {
		t.Skipf("e2e: no systemd >= 253 packages in %s (set %s to another directory): "+
			"./scripts/test downloads them from bookworm-backports with "+
			"test/e2e/testdata/notify/fetch-systemd-backports.sh, and could not here; "+
			"skipping the Type=notify-reload case (Debian 12's own systemd 252 lacks it)", dir, notifyDebsEnv)
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skipf("e2e: dpkg-deb is needed to unpack %s: %v", dir, err)
	}
	return debs
}

// notifyUnpack returns a Config.Overlay that unpacks the packages into the
// box's upper dir (without running their maintainer scripts), moving what
// they ship under /bin, /sbin, /lib and /lib64 to where those link on a
// merged-/usr host, so the host's links keep working in the box.
func notifyUnpack(debs []string) func(upper string) error {
	return func(upper string) error {
		staging, err := os.MkdirTemp(upper, ".debs-")
		if err != nil {
			return err
		}
		for _, deb := range debs {
			if out, err := exec.Command("dpkg-deb", "-x", deb, staging).CombinedOutput(); err != nil {
				return fmt.Errorf("dpkg-deb -x %s: %w: %s", deb, err, out)
			}
		}
		for _, top := range []string{"bin", "sbin", "lib", "lib64", "lib32", "libx32"} {
			link, err := os.Readlink("/" + top)
			if err != nil || filepath.IsAbs(link) {
				continue // not a merged-/usr link here: unpack as is
			}
			src := filepath.Join(staging, top)
			if _, err := os.Lstat(src); err != nil {
				continue
			}
			if err := notifyMerge(src, filepath.Join(staging, link)); err != nil {
				return err
			}
		}
		if err := notifyMerge(staging, upper); err != nil {
			return err
		}
		return nil
	}
}

// notifyMerge moves the tree src into dst, merging directories; a file
// already in dst stays (so the box's masks win over the packages' files).
// src is gone afterwards.
func notifyMerge(src, dst string) error {
	if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.Rename(src, dst)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		di, err := os.Lstat(d)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := os.Rename(s, d); err != nil {
				return err
			}
		case err != nil:
			return err
		case e.IsDir() && di.IsDir():
			if err := notifyMerge(s, d); err != nil {
				return err
			}
		}
	}
	return os.RemoveAll(src)
}
