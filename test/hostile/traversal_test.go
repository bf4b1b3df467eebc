package hostile

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// passwdLine is in /etc/passwd on every Linux system.
const passwdLine = "root:x:0:0:"

// TestTraversal sends every way out of --path we know as a raw request
// line to the real binary, so that the HTTP/1 engine's parsing is part of
// what is tested and no client cleans the path first: each is refused with
// 400, 403 or 404 and never shows a secret, with and without
// --no-follow-symlinks, with each HTTP/1 engine.
func TestTraversal(t *testing.T) {
	tr := newTree(t)
	abs := tr.base + "/secret.txt"
	type tcase struct {
		name, target string
		// link: reaches outside only through a symbolic link, which
		// gotwistd follows by default (as twistd does); refused with
		// --no-follow-symlinks.
		link bool
	}
	cases := []tcase{
		{name: "dotdot", target: "/../secret.txt"},
		{name: "dotdot twice", target: "/../../secret.txt"},
		{name: "dotdot alone", target: "/.."},
		{name: "dotdot in a subdirectory", target: "/sub/../../secret.txt"},
		{name: "dotdot after a file", target: "/sub/page.html/../../../secret.txt"},
		{name: "dot then dotdot", target: "/./../secret.txt"},
		{name: "dotdot dot slashes", target: "/..././secret.txt"},
		{name: "four dots", target: "/....//secret.txt"},
		{name: "encoded dotdot", target: "/%2e%2e/secret.txt"},
		{name: "encoded dotdot upper case", target: "/%2E%2E/secret.txt"},
		{name: "half encoded dotdot", target: "/.%2e/secret.txt"},
		{name: "encoded slash", target: "/..%2fsecret.txt"},
		{name: "encoded slash upper case", target: "/..%2Fsecret.txt"},
		{name: "everything encoded", target: "/%2e%2e%2f%2e%2e%2fsecret.txt"},
		{name: "encoded slash in a subdirectory", target: "/sub%2f..%2f..%2fsecret.txt"},
		{name: "encoded slash to a real file", target: "/sub%2fpage.html"},
		{name: "double encoded dotdot", target: "/%252e%252e/secret.txt"},
		{name: "double encoded slash", target: "/..%252fsecret.txt"},
		{name: "IIS unicode escape", target: "/%u002e%u002e/secret.txt"},
		{name: "backslash", target: `/..\secret.txt`},
		{name: "backslashes", target: `/sub\..\..\secret.txt`},
		{name: "encoded backslash", target: "/..%5csecret.txt"},
		{name: "encoded backslash upper case", target: "/%2e%2e%5Csecret.txt"},
		{name: "leading backslash", target: `\..\secret.txt`},
		{name: "semicolon parameter", target: "/..;/secret.txt"},
		{name: "encoded NUL", target: "/index.html%00"},
		{name: "encoded NUL before an extension", target: "/index.html%00.txt"},
		{name: "encoded NUL in dotdot", target: "/..%00/secret.txt"},
		{name: "raw NUL", target: "/index.html\x00.txt"},
		{name: "raw NUL in dotdot", target: "/.\x00./secret.txt"},
		{name: "overlong dot", target: "/%c0%ae%c0%ae/secret.txt"},
		{name: "overlong slash", target: "/..%c0%afsecret.txt"},
		{name: "overlong dot, 3 bytes", target: "/%e0%80%ae%e0%80%ae/secret.txt"},
		{name: "overlong backslash", target: "/..%c1%9csecret.txt"},
		{name: "raw overlong dot", target: "/\xc0\xae\xc0\xae/secret.txt"},
		{name: "raw overlong slash", target: "/..\xc0\xafsecret.txt"},
		{name: "invalid UTF-8", target: "/%ff%fe"},
		{name: "absolute path", target: abs},
		{name: "absolute path, double slash", target: "/" + abs},
		{name: "absolute path, encoded slashes", target: strings.ReplaceAll(abs, "/", "%2f")},
		{name: "etc passwd", target: "/etc/passwd"},
		{name: "double slash etc passwd", target: "//etc/passwd"},
		{name: "dotdots to etc passwd", target: "/../../../../../../../../etc/passwd"},
		{name: "encoded dotdots to etc passwd", target: "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"},
		{name: "slashes then dotdot", target: "///../secret.txt"},
		{name: "relative target", target: "../secret.txt"},
		{name: "absolute form with dotdot", target: "http://x/../secret.txt"},
		{name: "absolute form encoded", target: "http://x/%2e%2e/secret.txt"},
		{name: "absolute form with a file authority", target: "file:///etc/passwd"},
		{name: "dotdot in the query is only a query", target: "/nonexistent?../secret.txt"},
		{name: "dotfile", target: "/.secret"},
		{name: "encoded dotfile", target: "/%2esecret"},
		{name: "dotfile with an encoded letter", target: "/.%73ecret"},
		{name: "dot directory", target: "/.git/config"},
		{name: "nested dotfile", target: "/sub/.htpasswd"},
		{name: "dotfile through dotdot", target: "/sub/../.secret"},
		{name: "well-known then dotdot", target: "/.well-known/../secret.txt"},
		{name: "well-known then dotfile", target: "/.well-known/../.secret"},
		{name: "link out of the root", target: "/out.txt", link: true},
		{name: "absolute link out of the root", target: "/abs.txt", link: true},
		{name: "linked directory out of the root", target: "/outdir/secret.txt", link: true},
		{name: "listing of a linked directory", target: "/outdir/", link: true},
		{name: "link out, encoded", target: "/%6fut.txt", link: true},
	}
	// Controls: what must still be served, so that refusals above are not
	// the result of a broken setup.
	controls := []struct{ target, body string }{
		{"/", indexBody},
		{"/index.html", indexBody},
		{"//index.html", indexBody},
		{"/sub//page.html", "sub page\n"},
		{"/%69ndex.html", indexBody},
		{"/.well-known/a.txt", "well-known\n"},
		{"http://x/index.html", indexBody},
	}
	type mode struct {
		name     string
		args     []string
		nofollow bool
	}
	var modes []mode
	for _, e := range engines(t) {
		modes = append(modes, mode{e.name, e.args, false},
			mode{e.name + ", no-follow-symlinks", append([]string{"--no-follow-symlinks"}, e.args...), true})
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			s := start(t, nil, append([]string{"--listen", "tcp:0:interface=127.0.0.1", "--path", tr.root}, mode.args...)...)
			for _, c := range controls {
				status, body := rawGet(t, s, c.target)
				if status != 200 || body != c.body {
					t.Fatalf("control GET %q: %d %q, want 200 %q", c.target, status, body, c.body)
				}
			}
			for _, c := range cases {
				if c.link && !mode.nofollow {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					status, body := rawGet(t, s, c.target)
					if status != 400 && status != 403 && status != 404 {
						t.Errorf("GET %q: status %d, want 400, 403 or 404", c.target, status)
					}
					if strings.Contains(body, marker) || strings.Contains(body, passwdLine) {
						t.Errorf("GET %q: served a secret:\n%s", c.target, body)
					}
				})
			}
			if mode.nofollow {
				// Links inside the root are refused too.
				if status, _ := rawGet(t, s, "/in.txt"); status != 403 && status != 404 {
					t.Errorf("GET /in.txt (a link inside the root) with --no-follow-symlinks: %d, want 403 or 404", status)
				}
			} else {
				// twistd follows links; so does gotwistd by default.
				if status, body := rawGet(t, s, "/in.txt"); status != 200 || body != indexBody {
					t.Errorf("GET /in.txt (a link inside the root): %d %q", status, body)
				}
			}
			checkServes(t, s)
		})
	}
}

// rawGet sends `GET target HTTP/1.1` with target verbatim and returns the
// status and body; a connection closed without a response counts as 400.
func rawGet(t *testing.T, s *server, target string) (int, string) {
	t.Helper()
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
	ex := rawExchange(t, s.addr(), []byte(req), true, 10*time.Second)
	if ex.timedOut {
		t.Fatalf("GET %q: no answer within 10 s", target)
	}
	rs, err := responses(ex.data, "GET")
	if err != nil {
		t.Fatalf("GET %q: %v\n%q", target, err, clip(ex.data))
	}
	if len(rs) == 0 {
		return 400, ""
	}
	if len(rs) > 1 {
		t.Errorf("GET %q: %d responses to one request", target, len(rs))
	}
	return rs[0].status, rs[0].body
}
