//go:build unix

package cgi

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gotwistd/gotwistd/web/static"
)

// asNobody reruns test in a copy of this test binary as uid/gid 65534
// when the test runs as root (scripts never run as root), and reports
// whether it did: the caller then returns.
func asNobody(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return false
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("cannot find the test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", "cgi-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o777))
	bin := filepath.Join(dir, "cgi.test")
	copyFile(t, exe, bin, 0o755)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Dir = wd // testdata is read from here: world-readable in a checkout
	// NOTIFY_SOCKET: the server's own environment must not reach scripts.
	cmd.Env = append(os.Environ(), "TMPDIR="+dir, "NOTIFY_SOCKET=/run/systemd/notify-cgi-test")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s as uid 65534: %v\n%s", t.Name(), err, out)
	}
	t.Logf("passed as uid 65534:\n%s", out)
	return true
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode fs.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	must(t, out.Close())
	must(t, os.Chmod(to, mode))
}

// copyTestdata copies testdata into a fresh directory, keeping each
// file's mode; directories are writable by all, so scripts can leave pid
// files there.
func copyTestdata(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must(t, os.Chmod(root, 0o777))
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata", p)
		to := filepath.Join(root, rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			if err := os.Mkdir(to, 0o777); err != nil {
				return err
			}
			return os.Chmod(to, 0o777)
		}
		if rel == "fuzz" || strings.HasPrefix(rel, "fuzz/") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		copyFile(t, p, to, info.Mode().Perm())
		return nil
	})
	must(t, err)
	return root
}

// logRec keeps every log line's message.
type logRec struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRec) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRec) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Message)
	return nil
}
func (r *logRec) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRec) WithGroup(string) slog.Handler      { return r }

func (r *logRec) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// count is how many lines contain s.
func (r *logRec) count(s string) int {
	n := 0
	for _, l := range r.all() {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// site is a static handler with CGI over a copy of testdata, served on a
// loopback port.
type site struct {
	root string
	url  string
	log  *logRec
}

func newSite(t *testing.T, cfg Config) *site {
	t.Helper()
	root := copyTestdata(t)
	rec := &logRec{}
	cfg.Log = slog.New(rec)
	h, err := static.New(static.Config{Root: root, CGI: New(cfg), ErrorLog: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &site{root: root, url: srv.URL, log: rec}
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, method, url string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
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
