package endpoint

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gotwistd/gotwistd/internal/testcert"
)

// listen parses s and listens, failing the test on error; the listener is
// closed at the end of the test.
func listen(t *testing.T, s string) *Listener {
	t.Helper()
	return listenFrom(t, nil, s)
}

// listenFrom is listen with the systemd sockets of src (nil: the
// process's own).
func listenFrom(t *testing.T, src socketSource, s string) *Listener {
	t.Helper()
	l, err := parseFrom(t, src, s).Listen(context.Background())
	if err != nil {
		t.Fatalf("Listen(%s): %v", s, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// listenErr parses s and returns the error of Listen, which must fail.
func listenErr(t *testing.T, s string) error {
	t.Helper()
	return listenErrFrom(t, nil, s)
}

// listenErrFrom is listenErr with the systemd sockets of src.
func listenErrFrom(t *testing.T, src socketSource, s string) error {
	t.Helper()
	l, err := parseFrom(t, src, s).Listen(context.Background())
	if err == nil {
		l.Close()
		t.Fatalf("Listen(%s) succeeded, want an error", s)
	}
	return err
}

// parseFrom parses s, failing the test on error, and gives the endpoint
// and every endpoint it wraps the systemd sockets of src.
func parseFrom(t *testing.T, src socketSource, s string) *Endpoint {
	t.Helper()
	e, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	for in := e; in != nil; in = in.Inner {
		in.sockets = src
	}
	return e
}

// serve runs an HTTP server on ln answering every request with body and
// the protocol it came over.
func serve(t *testing.T, ln net.Listener, tlsConfig *tls.Config, body string) {
	t.Helper()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, body+" "+r.Proto)
		}),
		TLSConfig: tlsConfig,
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if tlsConfig != nil {
			srv.ServeTLS(ln, "", "")
		} else {
			srv.Serve(ln)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
}

// get fetches url through client and returns the body.
func get(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func plainClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// listenQueue reads a listening socket's backlog as the kernel has it
// (the Send-Q column of ss).
func listenQueue(t *testing.T, args ...string) int {
	t.Helper()
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) is not installed")
	}
	out, err := exec.Command("ss", append([]string{"-lnH"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ss %v: %v", args, err)
	}
	f := strings.Fields(string(out))
	for i, w := range f {
		if w == "LISTEN" && i+2 < len(f) {
			n, err := strconv.Atoi(f[i+2])
			if err != nil {
				t.Fatalf("ss output %q: %v", out, err)
			}
			return n
		}
	}
	t.Fatalf("ss %v found no listening socket: %q", args, out)
	return 0
}

func TestListenTCP(t *testing.T) {
	tests := []struct {
		name, endpoint, host string
		backlog              int
	}{
		{"default backlog", "tcp:0:interface=127.0.0.1", "127.0.0.1", 50},
		{"backlog 7", "tcp:0:interface=127.0.0.1:backlog=7", "127.0.0.1", 7},
		{"positional", "tcp:0:127.0.0.1:9", "127.0.0.1", 9},
		{"tcp6", `tcp6:0:backlog=11:interface=\:\:1`, "::1", 11},
		{"ipv6 interface on tcp", `tcp:0:interface=\:\:1`, "::1", 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.host, ":") {
				skipWithoutIPv6(t)
			}
			l := listen(t, tt.endpoint)
			if l.Packet != nil || l.TLS != nil || l.AcceptOnce {
				t.Errorf("tcp listener has Packet %v, TLS %v, AcceptOnce %v", l.Packet, l.TLS, l.AcceptOnce)
			}
			port := l.Stream.Addr().(*net.TCPAddr).Port
			if port == 0 {
				t.Fatal("port 0 was not replaced by a real port")
			}
			if got := l.Description(); got != strconv.Itoa(port) {
				t.Errorf("Description() = %q, want %q", got, strconv.Itoa(port))
			}
			serve(t, l.Stream, nil, "hello")
			url := "http://" + net.JoinHostPort(tt.host, strconv.Itoa(port)) + "/"
			if got := get(t, plainClient(), url); got != "hello HTTP/1.1" {
				t.Errorf("GET = %q", got)
			}
			if got := listenQueue(t, "-t", "sport = :"+strconv.Itoa(port)); got != tt.backlog {
				t.Errorf("kernel backlog = %d, want %d", got, tt.backlog)
			}
		})
	}
}

func skipWithoutIPv6(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
}

func TestListenTCP6IsIPv6Only(t *testing.T) {
	skipWithoutIPv6(t)
	l := listen(t, "tcp6:0")
	port := strconv.Itoa(l.Stream.Addr().(*net.TCPAddr).Port)
	if c, err := net.Dial("tcp4", "127.0.0.1:"+port); err == nil {
		c.Close()
		t.Error("tcp6 endpoint accepted an IPv4 connection")
	}
	c, err := net.Dial("tcp6", "[::1]:"+port)
	if err != nil {
		t.Fatalf("tcp6 endpoint refused an IPv6 connection: %v", err)
	}
	c.Close()
}

func TestListenTCPErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	tests := []struct {
		name, endpoint string
		want           []string
	}{
		{"in use", "tcp:" + port + ":interface=127.0.0.1",
			[]string{"endpoint tcp:" + port + ":interface=127.0.0.1: port " + port + " is already in use: stop the server using it", "address already in use"}},
		{"foreign interface", "tcp:0:interface=192.0.2.1",
			[]string{"the interface address is not on this machine"}},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct {
			name, endpoint string
			want           []string
		}{"privileged", "tcp:80:interface=127.0.0.1", []string{"port 80 is privileged", "CAP_NET_BIND_SERVICE"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := listenErr(t, tt.endpoint)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestListenUNIX(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, opts string
		mode       os.FileMode
		backlog    int
		lock       bool
	}{
		{"defaults", "", 0o666, 50, true},
		{"mode 600", ":mode=600", 0o600, 50, true},
		{"mode 0640 backlog 9", ":mode=0640:backlog=9", 0o640, 9, true},
		{"no lock", ":lockfile=0:mode=660", 0o660, 50, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "s"+strconv.Itoa(i)+".sock")
			l := listen(t, "unix:"+escape(path)+tt.opts)
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != tt.mode {
				t.Errorf("socket file mode = %v, want socket %v", fi.Mode(), tt.mode)
			}
			target, err := os.Readlink(path + ".lock")
			if tt.lock && target != strconv.Itoa(os.Getpid()) {
				t.Errorf("lock %s.lock -> %q (%v), want our pid %d", path, target, err, os.Getpid())
			}
			if !tt.lock && err == nil {
				t.Errorf("lockfile=0 made a lock file")
			}
			if got, want := l.Description(), "'"+path+"'"; got != want {
				t.Errorf("Description() = %q, want %q", got, want)
			}
			serve(t, l.Stream, nil, "unix")
			if got := get(t, unixClient(path), "http://x/"); got != "unix HTTP/1.1" {
				t.Errorf("GET = %q", got)
			}
			if got := listenQueue(t, "-x", "src", path); got != tt.backlog {
				t.Errorf("kernel backlog = %d, want %d", got, tt.backlog)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + ".lock"} {
				if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s is still there after Close (%v)", p, err)
				}
			}
		})
	}
}

// staleSocket leaves a socket file at path that nothing listens on, as a
// crashed server does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestListenUNIXLock(t *testing.T) {
	t.Run("stale socket and stale lock are replaced", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "www.sock")
		staleSocket(t, path)
		if err := os.Symlink(strconv.Itoa(deadPid(t)), path+".lock"); err != nil {
			t.Fatal(err)
		}
		l := listen(t, "unix:"+escape(path))
		serve(t, l.Stream, nil, "fresh")
		if got := get(t, unixClient(path), "http://x/"); got != "fresh HTTP/1.1" {
			t.Errorf("GET = %q", got)
		}
	})
	t.Run("stale socket without lock file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "www.sock")
		staleSocket(t, path)
		listen(t, "unix:"+escape(path))
	})
	t.Run("lock held by a live process", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "www.sock")
		staleSocket(t, path)
		ppid := os.Getppid()
		if err := os.Symlink(strconv.Itoa(ppid), path+".lock"); err != nil {
			t.Fatal(err)
		}
		err := listenErr(t, "unix:"+escape(path))
		want := path + " is in use: process " + strconv.Itoa(ppid) + " holds its lock " + path + ".lock"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
		if _, err := os.Lstat(path); err != nil {
			t.Errorf("the socket file of the live owner was removed: %v", err)
		}
		if target, _ := os.Readlink(path + ".lock"); target != strconv.Itoa(ppid) {
			t.Errorf("the live lock was changed to %q", target)
		}
	})
	t.Run("second listener in this process", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "www.sock")
		listen(t, "unix:"+escape(path))
		err := listenErr(t, "unix:"+escape(path))
		if !strings.Contains(err.Error(), "already in use by this process") {
			t.Errorf("error %q", err)
		}
	})
	t.Run("live socket of a server without lock", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "www.sock")
		other, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		err = listenErr(t, "unix:"+escape(path))
		if !strings.Contains(err.Error(), "another process accepts connections on it") {
			t.Errorf("error %q", err)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "www.sock")
		if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := listenErr(t, "unix:"+escape(path))
		if !strings.Contains(err.Error(), "exists and is not a socket") {
			t.Errorf("error %q", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "data" {
			t.Error("a regular file was removed or changed")
		}
	})
	t.Run("lockfile=0 and an existing socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "www.sock")
		staleSocket(t, path)
		err := listenErr(t, "unix:"+escape(path)+":lockfile=0")
		if !strings.Contains(err.Error(), "already exists: remove it, or use lockfile=1") {
			t.Errorf("error %q", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nodir", "www.sock")
		err := listenErr(t, "unix:"+escape(path)+":lockfile=0")
		if !strings.Contains(err.Error(), "does not exist: create it") {
			t.Errorf("error %q", err)
		}
	})
}

func TestListenUNIXAbstract(t *testing.T) {
	name := "@gotwistd-test-" + strconv.Itoa(os.Getpid())
	l := listen(t, "unix:"+escape(name))
	serve(t, l.Stream, nil, "abstract")
	if got := get(t, unixClient(name), "http://x/"); got != "abstract HTTP/1.1" {
		t.Errorf("GET = %q", got)
	}
}

// certFiles is a key and certificate written to disk.
type certFiles struct {
	key, cert, both string // paths: key only, certificate only, both
	x509            *x509.Certificate
	made            *testcert.Cert // to sign others with
}

// makeCert writes a certificate for 127.0.0.1, ::1 and localhost, signed by
// signer (self-signed when nil), as name-key.pem, name-cert.pem and
// name.pem (key and certificate in one file) in dir.
func makeCert(t *testing.T, dir, name string, serial int64, isCA bool, signer *certFiles) *certFiles {
	t.Helper()
	o := testcert.Options{Serial: serial, CA: isCA}
	if signer != nil {
		o.Parent = signer.made
	}
	made, err := testcert.New(o)
	if err != nil {
		t.Fatal(err)
	}
	c := &certFiles{
		key:  filepath.Join(dir, name+"-key.pem"),
		cert: filepath.Join(dir, name+"-cert.pem"),
		both: filepath.Join(dir, name+".pem"),
		x509: made.Leaf,
		made: made,
	}
	for path, data := range map[string][]byte{c.key: made.KeyPEM, c.cert: made.CertPEM, c.both: append(append([]byte{}, made.KeyPEM...), made.CertPEM...)} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// tlsClient trusts roots and speaks h2 and http/1.1.
func tlsClient(roots ...*x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
	}}
}

func TestListenSSL(t *testing.T) {
	dir := t.TempDir()
	c := makeCert(t, dir, "srv", 1, false, nil)
	tests := []struct {
		name, endpoint string
	}{
		{"key and cert", "ssl:0:interface=127.0.0.1:privateKey=" + escape(c.key) + ":certKey=" + escape(c.cert)},
		{"one file", "ssl:0:interface=127.0.0.1:privateKey=" + escape(c.both)},
		{"positional", "ssl:0:" + escape(c.key) + ":" + escape(c.cert) + "::127.0.0.1"},
		{"dhParameters ignored", "ssl:0:interface=127.0.0.1:privateKey=" + escape(c.both) + ":dhParameters=/nonexistent/dh.pem"},
		{"ssl over tcp", "ssl:tcp:0:interface=127.0.0.1:privateKey=" + escape(c.both)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t, tt.endpoint)
			if l.TLS == nil {
				t.Fatal("ssl listener has no TLS config")
			}
			if got := strings.Join(l.TLS.NextProtos, ","); got != "h2,http/1.1" {
				t.Errorf("NextProtos = %q", got)
			}
			if l.TLS.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x", l.TLS.MinVersion)
			}
			// The stream is not wrapped: a raw read sees a TLS handshake.
			if _, ok := l.Stream.(*net.TCPListener); !ok {
				t.Errorf("Stream is %T, want the unwrapped *net.TCPListener", l.Stream)
			}
			serve(t, l.Stream, l.TLS, "secure")
			addr := l.Stream.Addr().String()
			if got := get(t, tlsClient(c.x509), "https://"+addr+"/"); got != "secure HTTP/2.0" {
				t.Errorf("GET = %q, want HTTP/2 via ALPN", got)
			}
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool(c.x509), NextProtos: []string{"h2"}})
			if err != nil {
				t.Fatal(err)
			}
			st := conn.ConnectionState()
			conn.Close()
			if st.NegotiatedProtocol != "h2" || st.Version < tls.VersionTLS12 {
				t.Errorf("negotiated %q over %x", st.NegotiatedProtocol, st.Version)
			}
		})
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func TestSSLRefusesOldTLS(t *testing.T) {
	c := makeCert(t, t.TempDir(), "srv", 1, false, nil)
	l := listen(t, "ssl:0:interface=127.0.0.1:privateKey="+escape(c.both))
	serve(t, l.Stream, l.TLS, "x")
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		conn, err := tls.Dial("tcp", l.Stream.Addr().String(), &tls.Config{RootCAs: pool(c.x509), MinVersion: v, MaxVersion: v})
		if err == nil {
			conn.Close()
			t.Errorf("TLS version %x was accepted", v)
		}
	}
	cbc := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	conn, err := tls.Dial("tcp", l.Stream.Addr().String(), &tls.Config{RootCAs: pool(c.x509), MaxVersion: tls.VersionTLS12, CipherSuites: cbc})
	if err == nil {
		conn.Close()
		t.Error("a CBC cipher suite was accepted")
	}
}

func TestSSLExtraCertChain(t *testing.T) {
	dir := t.TempDir()
	ca := makeCert(t, dir, "ca", 10, true, nil)
	leaf := makeCert(t, dir, "leaf", 11, false, ca)
	l := listen(t, "ssl:0:interface=127.0.0.1:privateKey="+escape(leaf.key)+":certKey="+escape(leaf.cert)+":extraCertChain="+escape(ca.cert))
	serve(t, l.Stream, l.TLS, "x")
	conn, err := tls.Dial("tcp", l.Stream.Addr().String(), &tls.Config{RootCAs: pool(ca.x509)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peers := conn.ConnectionState().PeerCertificates
	if len(peers) != 2 || peers[0].SerialNumber.Int64() != 11 || peers[1].SerialNumber.Int64() != 10 {
		t.Errorf("server sent %d certificates, want leaf 11 then CA 10", len(peers))
	}
}

// serial returns the serial number of the certificate the server presents.
func serial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestReloadCertificates(t *testing.T) {
	dir := t.TempDir()
	first := makeCert(t, dir, "first", 1, false, nil)
	second := makeCert(t, dir, "second", 2, false, nil)
	live := filepath.Join(dir, "live.pem")
	copyFile(t, first.both, live)
	// Relative paths are resolved at Listen: a later chdir must not matter.
	t.Chdir(dir)
	l := listen(t, "ssl:0:interface=127.0.0.1:privateKey=live.pem")
	t.Chdir(t.TempDir())
	serve(t, l.Stream, l.TLS, "x")
	addr := l.Stream.Addr().String()
	if got := serial(t, addr); got != 1 {
		t.Fatalf("serial %d before reload, want 1", got)
	}
	copyFile(t, second.both, live)
	if got := serial(t, addr); got != 1 {
		t.Fatalf("serial %d before ReloadCertificates, want 1", got)
	}
	if err := l.ReloadCertificates(); err != nil {
		t.Fatal(err)
	}
	if got := serial(t, addr); got != 2 {
		t.Fatalf("serial %d after reload, want 2", got)
	}
	// A broken file: the error names it and the old certificate stays.
	if err := os.WriteFile(live, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := l.ReloadCertificates()
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "live.pem")) {
		t.Fatalf("ReloadCertificates of a broken file: %v", err)
	}
	if got := serial(t, addr); got != 2 {
		t.Fatalf("serial %d after a failed reload, want 2", got)
	}
	// A listener without TLS has nothing to reload.
	if err := listen(t, "tcp:0:interface=127.0.0.1").ReloadCertificates(); err != nil {
		t.Errorf("ReloadCertificates on tcp: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestListenSSLErrors(t *testing.T) {
	dir := t.TempDir()
	a := makeCert(t, dir, "a", 1, false, nil)
	b := makeCert(t, dir, "b", 2, false, nil)
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name, endpoint, want string
	}{
		{"missing key", "ssl:0:interface=127.0.0.1:privateKey=" + escape(missing),
			"privateKey file " + missing + " does not exist: create it or set privateKey= to the right file"},
		{"missing cert", "ssl:0:interface=127.0.0.1:privateKey=" + escape(a.key) + ":certKey=" + escape(missing),
			"certKey file " + missing + " does not exist"},
		{"missing chain", "ssl:0:interface=127.0.0.1:privateKey=" + escape(a.both) + ":extraCertChain=" + escape(missing),
			"extraCertChain file " + missing + " does not exist"},
		{"key does not match", "ssl:0:interface=127.0.0.1:privateKey=" + escape(a.key) + ":certKey=" + escape(b.cert),
			"load certificate " + b.cert + " with key " + a.key},
		{"chain without certificates", "ssl:0:interface=127.0.0.1:privateKey=" + escape(a.both) + ":extraCertChain=" + escape(a.key),
			"holds no PEM certificate"},
		{"quic missing key", "quic:0:interface=127.0.0.1:privateKey=" + escape(missing), "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := listenErr(t, tt.endpoint)
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "endpoint ") {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestListenSSLOverUNIX(t *testing.T) {
	dir := t.TempDir()
	c := makeCert(t, dir, "srv", 1, false, nil)
	path := filepath.Join(dir, "tls.sock")
	l := listen(t, "ssl:unix:"+escape(path)+":mode=600:privateKey="+escape(c.both))
	if l.TLS == nil || l.Description() != "'"+path+"'" {
		t.Fatalf("TLS %v, Description %q", l.TLS, l.Description())
	}
	serve(t, l.Stream, l.TLS, "tls-unix")
	client := tlsClient(c.x509)
	client.Transport.(*http.Transport).DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	if got := get(t, client, "https://localhost/"); got != "tls-unix HTTP/2.0" {
		t.Errorf("GET = %q", got)
	}
}

func TestListenQUIC(t *testing.T) {
	c := makeCert(t, t.TempDir(), "srv", 1, false, nil)
	l := listen(t, "quic:0:interface=127.0.0.1:privateKey="+escape(c.both))
	if l.Stream != nil {
		t.Error("quic listener has a Stream")
	}
	udp, ok := l.Packet.(*net.UDPConn)
	if !ok {
		t.Fatalf("Packet is %T, want *net.UDPConn", l.Packet)
	}
	port := udp.LocalAddr().(*net.UDPAddr).Port
	if port == 0 || l.Description() != strconv.Itoa(port) {
		t.Errorf("port %d, Description %q", port, l.Description())
	}
	if l.TLS == nil || l.TLS.MinVersion != tls.VersionTLS13 || strings.Join(l.TLS.NextProtos, ",") != "h3" {
		t.Fatalf("TLS config %+v, want TLS 1.3 and h3", l.TLS)
	}
	cert, err := l.TLS.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || cert == nil || cert.Leaf.SerialNumber.Int64() != 1 {
		t.Fatalf("GetCertificate = %v, %v", cert, err)
	}
	// The socket is a real UDP socket: a datagram sent to it arrives.
	client, err := net.Dial("udp", udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, _, err := l.Packet.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("ReadFrom = %q, %v", buf[:n], err)
	}
}

func TestListenerCloseTwice(t *testing.T) {
	l := listen(t, "tcp:0:interface=127.0.0.1")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Stream.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
}
