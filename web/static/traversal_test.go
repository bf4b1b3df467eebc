package static

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

const secret = "TOPSECRET-7f3a9c"

// traversalTree builds base/root (served) next to base/secret.txt and
// base/outside/secret.txt, with root/link-out pointing at base/outside and
// root/link-secret at base/secret.txt.
func traversalTree(t testing.TB) (base, root string) {
	base = t.TempDir()
	root = filepath.Join(base, "root")
	writeTree(t, base, map[string]string{
		"secret.txt":         secret,
		"outside/secret.txt": secret,
		"root/a.txt":         "public",
		"root/dir/b.txt":     "public b",
		"root/.hidden":       secret,
		"root/.git/config":   secret,
	})
	for link, target := range map[string]string{
		"root/link-out":    filepath.Join(base, "outside"),
		"root/link-secret": "../secret.txt",
		"root/dir/up":      "../..",
	} {
		if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	return base, root
}

// rawGet sends target verbatim on the request line, so that no client
// cleans or re-encodes it.
func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestTraversal ports the idea of net/http's TestServeFile_DotDot: every
// variant is refused (400, 403 or 404) and never shows a file outside the
// root, or a dotfile.
func TestTraversal(t *testing.T) {
	t.Parallel()
	base, root := traversalTree(t)
	abs := filepath.ToSlash(filepath.Join(base, "secret.txt"))
	cases := []struct {
		name   string
		target string
		// viaLink: the target reaches outside only through a symbolic
		// link, which is refused only with NoFollowSymlinks.
		viaLink bool
		// dotfile: the target is a dotfile inside the root, served with
		// ServeDotfiles.
		dotfile bool
	}{
		{"dotdot", "/../secret.txt", false, false},
		{"dotdot only", "/..", false, false},
		{"dotdot slash", "/../", false, false},
		{"nested dotdot", "/dir/../../secret.txt", false, false},
		{"dotdot at end", "/dir/..", false, false},
		{"dot segment", "/./a.txt", false, false},
		{"encoded dotdot", "/%2e%2e/secret.txt", false, false},
		{"encoded dotdot upper", "/%2E%2E/secret.txt", false, false},
		{"half encoded dotdot", "/.%2e/secret.txt", false, false},
		{"half encoded dotdot 2", "/%2e./secret.txt", false, false},
		{"encoded slash", "/..%2fsecret.txt", false, false},
		{"encoded slash upper", "/..%2Fsecret.txt", false, false},
		{"fully encoded", "/%2e%2e%2fsecret.txt", false, false},
		{"encoded slash in dir", "/dir%2f..%2f..%2fsecret.txt", false, false},
		{"encoded slash to real file", "/dir%2fb.txt", false, false},
		{"double encoded", "/%252e%252e/secret.txt", false, false},
		{"encoded backslash", "/..%5csecret.txt", false, false},
		{"backslash", "/..\\secret.txt", false, false},
		{"backslashes", "/dir\\..\\..\\secret.txt", false, false},
		{"NUL", "/a.txt%00", false, false},
		{"NUL before ext", "/a.txt%00.html", false, false},
		{"NUL in dotdot", "/..%00/secret.txt", false, false},
		{"overlong dot", "/%c0%ae%c0%ae/secret.txt", false, false},
		{"overlong slash", "/..%c0%afsecret.txt", false, false},
		{"overlong 3 byte dot", "/%e0%80%ae%e0%80%ae/secret.txt", false, false},
		{"invalid utf8", "/%ff%fe", false, false},
		{"absolute path", "/" + abs, false, false},
		{"double slash absolute", "/" + "/" + abs, false, false},
		{"double slash etc", "//etc/passwd", false, false},
		{"etc passwd", "/etc/passwd", false, false},
		{"slashes then dotdot", "///../secret.txt", false, false},
		{"absolute form dotdot", "http://x/../secret.txt", false, false},
		{"absolute form encoded", "http://x/%2e%2e/secret.txt", false, false},
		{"dotfile", "/.hidden", false, true},
		{"encoded dotfile", "/%2ehidden", false, true},
		{"encoded letter dotfile", "/.%68idden", false, true},
		{"dot dir", "/.git/config", false, true},
		{"dotfile via dotdot", "/dir/../.hidden", false, true},
		{"well-known dotdot", "/.well-known/../secret.txt", false, false},
		{"link out", "/link-out/secret.txt", true, false},
		{"link to secret", "/link-secret", true, false},
		{"link up", "/dir/up/secret.txt", true, false},
		{"link up listing", "/dir/up/", true, false},
		{"link out listing", "/link-out/", true, false},
	}
	run := func(t *testing.T, cfg Config, nofollow bool) {
		t.Helper()
		s := newTestServer(t, cfg)
		addr := strings.TrimPrefix(s.URL, "http://")
		if code, body := rawGet(t, addr, "/a.txt"); code != 200 || body != "public" {
			t.Fatalf("control request: %d %q", code, body)
		}
		for _, tc := range cases {
			if tc.viaLink && !nofollow || tc.dotfile && cfg.ServeDotfiles {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				code, body := rawGet(t, addr, tc.target)
				if code != 400 && code != 403 && code != 404 {
					t.Errorf("GET %s: status %d, want 400, 403 or 404", tc.target, code)
				}
				if strings.Contains(body, secret) {
					t.Errorf("GET %s: served the secret", tc.target)
				}
			})
		}
	}
	t.Run("follow", func(t *testing.T) { run(t, Config{Root: root}, false) })
	// With dotfiles served, "..", "." and friends are refused on their
	// own, not as names starting with a dot.
	t.Run("follow dotfiles", func(t *testing.T) { run(t, Config{Root: root, ServeDotfiles: true}, false) })
	t.Run("nofollow dotfiles", func(t *testing.T) {
		run(t, Config{Root: root, ServeDotfiles: true, NoFollowSymlinks: true}, true)
	})
	t.Run("nofollow", func(t *testing.T) { run(t, Config{Root: root, NoFollowSymlinks: true}, true) })
	t.Run("nofollow walk", func(t *testing.T) {
		run(t, Config{Root: root, NoFollowSymlinks: true, seams: seams{forceWalk: true}}, true)
	})
}

// checkRel asserts the invariants of a path mapPath accepted.
func checkRel(t *testing.T, h *Handler, target, rel string) {
	t.Helper()
	if rel == "" {
		return
	}
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		t.Fatalf("%q mapped to non-local %q", target, rel)
	}
	for i, seg := range strings.Split(rel, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			t.Fatalf("%q mapped to %q with segment %q", target, rel, seg)
		case strings.ContainsAny(seg, "\\\x00"):
			t.Fatalf("%q mapped to %q with a backslash or NUL", target, rel)
		case !utf8.ValidString(seg):
			t.Fatalf("%q mapped to invalid UTF-8 %q", target, rel)
		case seg[0] == '.' && !h.serveDotfiles && !(i == 0 && seg == ".well-known"):
			t.Fatalf("%q mapped to dotfile path %q", target, rel)
		}
	}
	full := filepath.Join(h.root, filepath.FromSlash(rel))
	if !strings.HasPrefix(full, h.root+string(filepath.Separator)) {
		t.Fatalf("%q mapped outside the root: %q", target, full)
	}
}

// FuzzURLPath: whatever the request target, the mapping stays below Root
// and no response carries a file from outside it.
func FuzzURLPath(f *testing.F) {
	for _, s := range []string{"/", "/a.txt", "/../secret.txt", "/%2e%2e/secret.txt", "/dir%2f..%2f..%2fsecret.txt",
		"/..%5csecret.txt", "/%c0%ae%c0%ae/", "/.hidden", "/.well-known/x", "//etc/passwd", "/link-out/secret.txt",
		"/dir/up/secret.txt", "http://h/%2e%2e/x", "/a%00", "/dir/./b.txt"} {
		f.Add(s)
	}
	_, root := traversalTree(f)
	var handlers []*Handler
	for _, cfg := range []Config{
		{Root: root},
		{Root: root, NoFollowSymlinks: true},
		{Root: root, ServeDotfiles: true, NoFollowSymlinks: true, AllowIgnoreExt: true},
	} {
		h, err := New(cfg)
		if err != nil {
			f.Fatal(err)
		}
		handlers = append(handlers, h)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		for i, h := range handlers {
			rel, _, ok := h.mapPath(u)
			if ok {
				checkRel(t, h, target, rel)
			}
			req := &http.Request{Method: "GET", URL: u, RequestURI: target, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if strings.Contains(rec.Body.String(), secret) {
				// Handler 0 follows links out of the root on purpose, and
				// handler 2 serves the dotfiles holding the secret.
				allowed := ok && (i == 0 && throughLink(h.root, rel) || i == 2 && strings.Contains("/"+rel, "/."))
				if !allowed {
					t.Fatalf("handler %d served the secret for %q (rel %q)", i, target, rel)
				}
			}
		}
	})
}

// throughLink reports whether some prefix of rel below root is a symbolic
// link.
func throughLink(root, rel string) bool {
	p := root
	for _, seg := range strings.Split(rel, "/") {
		p = filepath.Join(p, seg)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return true
		}
	}
	return false
}
