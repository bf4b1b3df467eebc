package hostile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// cgiTree is a copy of web/cgi's test scripts, writable by the scripts
// (they leave pid files), next to a directory outside the root with a
// script that must never run.
type cgiTree struct {
	root, outside string
}

// scriptMarker is what the script outside the root would print.
const scriptMarker = "OUTSIDE-SCRIPT-RAN-93be"

func newCGITree(t *testing.T) *cgiTree {
	t.Helper()
	base, err := os.MkdirTemp("", "gotwistd-hostile-cgi-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	must(t, os.Chmod(base, 0o755))
	ct := &cgiTree{root: filepath.Join(base, "www"), outside: filepath.Join(base, "outside")}
	src := filepath.Join("..", "..", "web", "cgi", "testdata")
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(ct.root, rel)
		if d.IsDir() {
			if err := os.MkdirAll(to, 0o777); err != nil {
				return err
			}
			return os.Chmod(to, 0o777)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, b, info.Mode().Perm()); err != nil {
			return err
		}
		return os.Chmod(to, info.Mode().Perm())
	})
	must(t, err)
	// Old enough to be cached, so plain files take the engines' fast
	// paths: a script must not, whatever the cache holds.
	old := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, filepath.WalkDir(ct.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	}))
	must(t, os.MkdirAll(ct.outside, 0o755))
	evil := "#!/bin/sh\ntouch \"$(dirname \"$0\")/ran\" 2>/dev/null\nprintf 'Content-Type: text/plain\\n\\n" + scriptMarker + "\\n'\n"
	must(t, os.WriteFile(filepath.Join(ct.outside, "evil.cgi"), []byte(evil), 0o755))
	must(t, os.Symlink(filepath.Join(ct.outside, "evil.cgi"), filepath.Join(ct.root, "evil.cgi")))
	must(t, os.Symlink("../outside", filepath.Join(ct.root, "outdir")))
	return ct
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startCGI runs gotwistd on tree's root with webArgs, dropping to nobody
// when the test runs as root (scripts never run as root), and returns
// once it has.
func startCGI(t *testing.T, ct *cgiTree, webArgs ...string) *server {
	t.Helper()
	var global []string
	if os.Geteuid() == 0 {
		global = []string{"-u", "nobody", "-g", "nogroup"}
	}
	s := start(t, global, append(webArgs, "--path", ct.root)...)
	if os.Geteuid() == 0 {
		waitDropped(t, s)
	}
	return s
}

// call sends one request with client and returns the response and body.
func call(t *testing.T, client *http.Client, method, url string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp, string(b)
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// TestCGIEngines runs scripts, and refuses them without --cgi, on every
// engine: gotwistd's and net/http's HTTP/1.1, gotwistd's and net/http's
// HTTP/2, and HTTP/3. Each refused script is asked for twice, so the
// second request can take the engines' cached-file fast paths.
func TestCGIEngines(t *testing.T) {
	ct := newCGITree(t)
	c := rsaCert(t)
	dir := t.TempDir()
	must(t, os.Chmod(dir, 0o755))
	certFile, keyFile, err := c.Write(dir)
	must(t, err)
	must(t, os.Chmod(keyFile, 0o644)) // readable after the drop to nobody (a test key)
	roots := x509.NewCertPool()
	roots.AddCert(c.Leaf)
	ssl := "ssl:0:interface=127.0.0.1:privateKey=" + keyFile + ":certKey=" + certFile
	quicEP := "quic:0:interface=127.0.0.1:privateKey=" + keyFile + ":certKey=" + certFile
	h1 := &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirect, Transport: &http.Transport{}}
	h2 := &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirect,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	h3t := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, QUICConfig: &quic.Config{HandshakeIdleTimeout: 30 * time.Second}}
	t.Cleanup(func() { h3t.Close() })
	h3 := &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirect, Transport: h3t}
	for _, e := range []struct {
		name   string
		args   []string
		scheme string
		client *http.Client
		proto  string
	}{
		{"HTTP/1.1 gotwistd", []string{"--listen", "tcp:0:interface=127.0.0.1"}, "http", h1, "HTTP/1.1"},
		{"HTTP/1.1 net/http", []string{"--listen", "tcp:0:interface=127.0.0.1", "--http1-engine=net/http"}, "http", h1, "HTTP/1.1"},
		{"HTTP/2 gotwistd", []string{"--listen", ssl}, "https", h2, "HTTP/2.0"},
		{"HTTP/2 net/http", []string{"--listen", ssl, "--http2-engine=net/http"}, "https", h2, "HTTP/2.0"},
		{"HTTP/3", []string{"--listen", quicEP}, "https", h3, "HTTP/3.0"},
	} {
		t.Run(e.name, func(t *testing.T) {
			off := startCGI(t, ct, e.args...)
			base := e.scheme + "://" + off.addr()
			for _, req := range []struct {
				method, path string
				hdr          map[string]string
			}{
				{"GET", "/env.cgi", nil}, {"GET", "/env.cgi", nil}, {"HEAD", "/env.cgi", nil},
				{"GET", "/env.cgi", map[string]string{"Range": "bytes=0-10"}},
				{"GET", "/env.cgi", map[string]string{"If-None-Match": "*"}},
				{"POST", "/env.cgi", nil}, {"GET", "/sub/where.cgi/x", nil},
			} {
				resp, body := call(t, e.client, req.method, base+req.path, nil, req.hdr)
				if resp.StatusCode != 403 || strings.Contains(body, "printf") || resp.Proto != e.proto {
					t.Errorf("without --cgi: %s %s %v = %s %d %q", req.method, req.path, req.hdr, resp.Proto, resp.StatusCode, body)
				}
			}
			if resp, body := call(t, e.client, "GET", base+"/hello.txt", nil, nil); resp.StatusCode != 200 || body != "hello file\n" {
				t.Errorf("GET /hello.txt = %d %q", resp.StatusCode, body)
			}
			if n := strings.Count(off.log.String(), "refusing /env.cgi (403)"); n != 1 {
				t.Errorf("%d refusal lines for env.cgi, want 1:\n%s", n, off.log)
			}
			off.stop()

			on := startCGI(t, ct, append(e.args, "--cgi")...)
			base = e.scheme + "://" + on.addr()
			resp, body := call(t, e.client, "GET", base+"/env.cgi/p?q=1", nil, nil)
			for _, want := range []string{"SERVER_PROTOCOL=" + e.proto, "PATH_INFO=/p", "QUERY_STRING=q=1", "REQUEST_METHOD=GET"} {
				if resp.StatusCode != 200 || !strings.Contains(body, want+"\n") {
					t.Errorf("GET /env.cgi/p?q=1 = %d, no %s in %q", resp.StatusCode, want, body)
				}
			}
			if e.scheme == "https" && !strings.Contains(body, "HTTPS=on\n") {
				t.Errorf("no HTTPS=on in %q", body)
			}
			resp, body = call(t, e.client, "POST", base+"/form.cgi", strings.NewReader("a=1&b=two"),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			if resp.StatusCode != 200 || body != `{"fields": {"a": ["1"], "b": ["two"]}, "method": "POST"}`+"\n" {
				t.Errorf("POST /form.cgi = %d %q", resp.StatusCode, body)
			}
			resp, body = call(t, e.client, "HEAD", base+"/head.cgi", nil, nil)
			if resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Method") != "HEAD" {
				t.Errorf("HEAD /head.cgi = %d %q %q", resp.StatusCode, resp.Header, body)
			}
			resp, body = call(t, e.client, "GET", base+"/crash.cgi", nil, nil)
			if resp.StatusCode != 502 || strings.Contains(body, "secret") {
				t.Errorf("GET /crash.cgi = %d %q", resp.StatusCode, body)
			}
			if resp, _ := call(t, e.client, "POST", base+"/hello.txt", strings.NewReader("x"), nil); resp.StatusCode != 405 {
				t.Errorf("POST /hello.txt = %d, want 405", resp.StatusCode)
			}
		})
	}
}

// procGone waits until process pid no longer runs (exited, or a zombie
// left to init), failing after 20 s: SIGKILL takes effect when the
// process is next scheduled, not when kill(2) returns.
func procGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if s := string(stat); err == nil {
			if i := strings.LastIndexByte(s, ')'); i >= 0 && strings.HasPrefix(s[i+1:], " Z") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
	}
}

func pidIn(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %q", path, b)
	}
	return pid
}

// TestCGIHostile attacks --cgi: scripts outside the root, bodies over the
// limit, a script that never exits, one that writes endless headers, and
// one that leaves a child behind. The server answers each as it should,
// kills what must die, and keeps serving.
func TestCGIHostile(t *testing.T) {
	ct := newCGITree(t)
	s := startCGI(t, ct, "--listen", "tcp:0:interface=127.0.0.1", "--cgi", "--cgi-timeout", "1s", "--cgi-max-body", "100000")
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirect, Transport: &http.Transport{DisableKeepAlives: true}}

	t.Run("scripts outside the root", func(t *testing.T) {
		for _, p := range []string{"/evil.cgi", "/outdir/evil.cgi", "/outdir/evil.cgi/x", "/../outside/evil.cgi",
			"/%2e%2e/outside/evil.cgi", "/sub/..%2f..%2foutside/evil.cgi", "/sub/%2e%2e/%2e%2e/outside/evil.cgi"} {
			for _, m := range []string{"GET", "POST"} {
				raw := m + " " + p + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
				ex := rawExchange(t, s.addr(), []byte(raw), false, 10*time.Second)
				rs, err := responses(ex.data, m)
				if err != nil || len(rs) != 1 || (rs[0].status != 403 && rs[0].status != 404 && rs[0].status != 400 && rs[0].status != 405) ||
					strings.Contains(rs[0].body, scriptMarker) {
					t.Errorf("%s %s: %v %+v", m, p, err, rs)
				}
			}
		}
		if _, err := os.Stat(filepath.Join(ct.outside, "ran")); err == nil {
			t.Error("the script outside the root ran")
		}
	})

	t.Run("body over the limit", func(t *testing.T) {
		resp, body := call(t, client, "POST", s.url("/body.cgi"), strings.NewReader(strings.Repeat("x", 100001)), nil)
		if resp.StatusCode != 413 || strings.Contains(body, "length=") {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
		// Announced but never sent: answered at once, nothing waits for it.
		raw := "POST /body.cgi HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nxx"
		ex := rawExchange(t, s.addr(), []byte(raw), false, 10*time.Second)
		if rs, err := responses(ex.data, "POST"); err != nil || len(rs) != 1 || rs[0].status != 413 || !ex.closed {
			t.Errorf("1 GB announced: %v %+v closed=%v", err, rs, ex.closed)
		}
		resp, body = call(t, client, "POST", s.url("/body.cgi"), strings.NewReader(strings.Repeat("x", 100000)), nil)
		if resp.StatusCode != 200 || body != "length=100000 read=100000\n" {
			t.Errorf("at the limit: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("a body that never comes", func(t *testing.T) {
		// The script is not started until the body is in; the read is
		// bounded by --cgi-timeout.
		raw := "POST /body.cgi HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nonly this"
		ex := rawExchange(t, s.addr(), []byte(raw), false, 20*time.Second)
		rs, err := responses(ex.data, "POST")
		if err != nil || len(rs) != 1 || rs[0].status != 400 || !ex.closed {
			t.Errorf("%v %+v closed=%v", err, rs, ex.closed)
		}
	})

	t.Run("a script that never exits", func(t *testing.T) {
		resp, body := call(t, client, "GET", s.url("/forever.cgi"), nil, nil)
		if resp.StatusCode != 504 || !strings.Contains(body, "Gateway Timeout") {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
		procGone(t, pidIn(t, filepath.Join(ct.root, "forever.pid")))
	})

	t.Run("endless headers", func(t *testing.T) {
		resp, body := call(t, client, "GET", s.url("/hugeheader.cgi"), nil, nil)
		if resp.StatusCode != 502 || strings.Contains(body, "aaaa") {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
	})

	t.Run("a child that outlives its script", func(t *testing.T) {
		resp, body := call(t, client, "GET", s.url("/fork.cgi"), nil, nil)
		if resp.StatusCode != 200 || body != "parent done\n" {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
		procGone(t, pidIn(t, filepath.Join(ct.root, "fork.pid")))
	})

	t.Run("still serving", func(t *testing.T) {
		s.alive()
		if resp, body := call(t, client, "GET", s.url("/hello.txt"), nil, nil); resp.StatusCode != 200 || body != "hello file\n" {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
		log := s.log.String()
		for _, want := range []string{"[gotwistd.web.twcgi#error] CGI /forever.cgi: killed after 1s (--cgi-timeout)",
			"CGI /hugeheader.cgi: bad output (502): header block larger than 65536 bytes"} {
			if !strings.Contains(log, want) {
				t.Errorf("no %q in the log:\n%s", want, log)
			}
		}
	})
}

// TestCGIAsRoot: a server that stays root runs no script, and says how to
// fix it.
func TestCGIAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ct := newCGITree(t)
	s := start(t, nil, "--listen", "tcp:0:interface=127.0.0.1", "--path", ct.root, "--cgi")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, body := call(t, client, "GET", s.url("/fork.cgi"), nil, nil)
	if resp.StatusCode != 500 || strings.Contains(body, "root") {
		t.Errorf("= %d %q", resp.StatusCode, body)
	}
	if _, err := os.Stat(filepath.Join(ct.root, "fork.pid")); err == nil {
		t.Error("the script ran as root")
	}
	// The line is written as the 500 goes out: wait for it, not read the log at once.
	waitLog(t, s, regexp.MustCompile(`CGI: refusing to run scripts as root.*-u/--uid USER`), 15*time.Second)
}
