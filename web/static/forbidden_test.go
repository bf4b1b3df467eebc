//go:build unix

package static

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestForbidden checks twistd's 403 page for permission errors on real
// files. Root is exempt from permission checks, so as root the test runs
// itself again in a child process as uid/gid 65534 (nobody).
func TestForbidden(t *testing.T) {
	if os.Geteuid() == 0 {
		runAsNobody(t, "TestForbidden")
		return
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"secret.txt":     "SECRET",
		"cached.txt":     "CACHED",
		"noread/f.txt":   "F",
		"nosearch/f.txt": "F",
		"ok.txt":         "OK",
	})
	must(t, os.Chmod(filepath.Join(root, "secret.txt"), 0))
	must(t, os.Chmod(filepath.Join(root, "noread"), 0o311))
	must(t, os.Chmod(filepath.Join(root, "nosearch"), 0o600))
	t.Cleanup(func() {
		os.Chmod(filepath.Join(root, "noread"), 0o755)
		os.Chmod(filepath.Join(root, "nosearch"), 0o755)
	})
	for _, nofollow := range []bool{false, true} {
		s := newTestServerNow(t, Config{Root: root, NoFollowSymlinks: nofollow}, laterClock)
		name := map[bool]string{false: "follow", true: "nofollow"}[nofollow]
		t.Run(name, func(t *testing.T) {
			runCases(t, s, []serveCase{
				{name: "unreadable file", path: "/secret.txt", code: 403, body: str(forbiddenPage),
					want: map[string]string{"Content-Type": "text/html; charset=utf-8", "Content-Length": "163"}},
				{name: "unreadable file HEAD", method: "HEAD", path: "/secret.txt", code: 403, body: str("")},
				{name: "unreadable file 304", path: "/secret.txt", hdr: map[string]string{"If-None-Match": "*"}, code: 403},
				{name: "unreadable dir listing", path: "/noread/", code: 403, body: str(forbiddenPage)},
				{name: "readable file in unreadable dir", path: "/noread/f.txt", code: 200, body: str("F")},
				{name: "unsearchable dir", path: "/nosearch/f.txt", code: 403, body: str(forbiddenPage)},
				{name: "control", path: "/ok.txt", code: 200, body: str("OK")},
				{name: "listing lists unreadable file", path: "/", code: 200, check: func(t *testing.T, _ *http.Response, body string) {
					if !strings.Contains(body, "secret.txt") {
						t.Error("unreadable file not listed")
					}
				}},
			})
		})
		// A file cached in memory that becomes unreadable is 403 at once.
		t.Run(name+" cached then chmod", func(t *testing.T) {
			p := filepath.Join(root, "cached.txt")
			must(t, os.Chmod(p, 0o644))
			if _, body := s.do(t, "GET", "/cached.txt", nil); body != "CACHED" {
				t.Fatalf("body %q", body)
			}
			must(t, os.Chmod(p, 0))
			if resp, _ := s.do(t, "GET", "/cached.txt", nil); resp.StatusCode != 403 {
				t.Errorf("after chmod 0: %d, want 403", resp.StatusCode)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runAsNobody runs test in a copy of this test binary as uid/gid 65534 and
// fails if it does not pass there.
func runAsNobody(t *testing.T, test string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", "static-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o777))
	bin := filepath.Join(dir, "static.test")
	copyFile(t, exe, bin)
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s as uid 65534: %v\n%s", test, err, out)
	}
	t.Logf("passed as uid 65534")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	must(t, out.Close())
}
