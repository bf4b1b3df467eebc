package hostile

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCGISideBySideTwistd runs the same scripts, in the same directory,
// under twistd3 (which runs *.cgi by default) and under gotwistd --cgi,
// and compares status, the headers scripts set, and body. Where gotwistd
// differs on purpose, the case says so and checks both sides' answers;
// twistd's side of those is logged, not judged (it is twistd's behaviour,
// and may change with its version).
func TestCGISideBySideTwistd(t *testing.T) {
	twistd, err := exec.LookPath("twistd3")
	if err != nil {
		t.Skip("twistd3 is not installed (Debian package python3-twisted)")
	}
	ct := newCGITree(t)
	cmd := exec.Command(twistd, "--nodaemon", "--pidfile=", "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", ct.root)
	cmd.Dir = t.TempDir()
	tw := startProcess(t, cmd, 1)
	gw := startCGI(t, ct, "--listen", "tcp:0:interface=127.0.0.1", "--cgi")
	client := &http.Client{Timeout: 20 * time.Second, CheckRedirect: noRedirect, Transport: &http.Transport{DisableKeepAlives: true}}

	type answer struct {
		status int
		header map[string]string // the headers compared; "" for absent
		body   string            // compared when not "-"
	}
	got := func(s *server, method, path, body string, hdr map[string]string, keys []string) answer {
		var rd *strings.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		var resp *http.Response
		var b string
		if rd != nil {
			resp, b = call(t, client, method, s.url(path), rd, hdr)
		} else {
			resp, b = call(t, client, method, s.url(path), nil, hdr)
		}
		a := answer{status: resp.StatusCode, header: map[string]string{}, body: b}
		for _, k := range keys {
			a.header[k] = strings.Join(resp.Header.Values(k), ", ")
		}
		return a
	}
	// envLines drops the lines of env.cgi's output that differ for reasons
	// other than CGI (the port, the server's name).
	envLines := func(body string) string {
		var keep []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "SERVER_SOFTWARE=") || strings.HasPrefix(l, "SERVER_PORT=") || strings.HasPrefix(l, "HTTP_HOST=") {
				continue
			}
			keep = append(keep, l)
		}
		return strings.Join(keep, "\n")
	}
	keys := []string{"Content-Type", "Location", "Set-Cookie", "X-Script", "X-Method"}
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		// differs explains a deliberate difference; twistd and ours are
		// then each side's answer. Otherwise both must equal ours.
		differs        string
		twistd, ours   answer
		compareEnvOnly bool
	}{
		{name: "meta-variables", method: "GET", path: "/env.cgi?a=1", hdr: map[string]string{"Proxy": "http://evil:3128", "X-Test": "t"},
			compareEnvOnly: true,
			differs:        "CONTENT_LENGTH: twistd sets 0 without a body, gotwistd leaves it unset (RFC 3875 4.1.2)",
			twistd:         answer{status: 200, body: "CONTENT_LENGTH=0"}, ours: answer{status: 200, body: "CONTENT_LENGTH=<unset>"}},
		{name: "search-string arguments", method: "GET", path: "/env.cgi?foo+bar", compareEnvOnly: true,
			differs: "twistd passes an ISINDEX query as arguments; gotwistd never does (the argument injection of CVE-2012-1823)",
			twistd:  answer{status: 200, body: "args=2"}, ours: answer{status: 200, body: "args=0"}},
		{name: "PATH_INFO", method: "GET", path: "/env.cgi/x/y", compareEnvOnly: true,
			differs: "twistd 22.4 fails (500, a TypeError in twcgi) on any PATH_INFO",
			twistd:  answer{status: 500, body: "-"}, ours: answer{status: 200, body: "PATH_INFO=/x/y"}},
		{name: "POST to a Python script", method: "POST", path: "/form.cgi", body: "a=1&b=two",
			hdr:  map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			ours: answer{status: 200, header: map[string]string{"Content-Type": "application/json", "Set-Cookie": "a=1, b=2"}, body: `{"fields": {"a": ["1"], "b": ["two"]}, "method": "POST"}` + "\n"}},
		{name: "Status", method: "GET", path: "/status.cgi",
			ours: answer{status: 404, header: map[string]string{"Content-Type": "text/plain", "X-Script": "status"}, body: "nothing here\n"}},
		{name: "client redirect", method: "GET", path: "/redirect.cgi",
			ours: answer{status: 302, header: map[string]string{"Location": "http://example.com/elsewhere"}, body: ""}},
		{name: "HEAD", method: "HEAD", path: "/head.cgi",
			ours: answer{status: 200, header: map[string]string{"Content-Type": "text/plain", "X-Method": "HEAD"}, body: ""}},
		{name: "204", method: "GET", path: "/nocontent.cgi", ours: answer{status: 204, body: ""}},
		{name: "working directory", method: "GET", path: "/sub/where.cgi",
			ours: answer{status: 200, header: map[string]string{"Content-Type": "text/plain"}, body: filepath.Join(ct.root, "sub") + "\n"}},
		{name: "local redirect", method: "GET", path: "/local.cgi",
			differs: "twistd sends a lone Location: /path as a 302; gotwistd serves the path (RFC 3875 6.2.2)",
			twistd:  answer{status: 302, header: map[string]string{"Location": "/hello.txt"}, body: "-"},
			ours:    answer{status: 200, header: map[string]string{"Location": ""}, body: "hello file\n"}},
		{name: "nph script", method: "GET", path: "/nph-accepted.cgi",
			differs: "twistd ignores an nph script's status line (200); gotwistd parses it",
			twistd:  answer{status: 200, body: "accepted\n"}, ours: answer{status: 202, body: "accepted\n"}},
		{name: "crash before headers", method: "GET", path: "/crash.cgi",
			differs: "twistd answers 500 (its CGI Script Error page); gotwistd 502 Bad Gateway",
			twistd:  answer{status: 500, body: "-"}, ours: answer{status: 502, body: "-"}},
		{name: "malformed header", method: "GET", path: "/badheader.cgi",
			differs: "twistd logs and skips a malformed header line (200); gotwistd answers 502",
			twistd:  answer{status: 200, body: "body\n"}, ours: answer{status: 502, body: "-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := got(gw, tc.method, tc.path, tc.body, tc.hdr, keys)
			w := got(tw, tc.method, tc.path, tc.body, tc.hdr, keys)
			match := func(a answer, want answer) bool {
				if a.status != want.status {
					return false
				}
				for k, v := range want.header {
					if a.header[k] != v {
						return false
					}
				}
				switch {
				case want.body == "-":
					return true
				case tc.compareEnvOnly:
					return strings.Contains(a.body, want.body+"\n")
				}
				return a.body == want.body
			}
			if !match(o, tc.ours) {
				t.Errorf("gotwistd: %d %q %q, want %d %q %q", o.status, o.header, o.body, tc.ours.status, tc.ours.header, tc.ours.body)
			}
			if tc.differs == "" {
				if w.status != o.status || w.body != o.body {
					t.Errorf("twistd: %d %q, gotwistd: %d %q", w.status, w.body, o.status, o.body)
				}
				for _, k := range keys {
					if w.header[k] != o.header[k] {
						t.Errorf("%s: twistd %q, gotwistd %q", k, w.header[k], o.header[k])
					}
				}
				return
			}
			if tc.compareEnvOnly && tc.name == "meta-variables" {
				// All but the documented line are the same.
				ow := strings.Replace(envLines(o.body), "CONTENT_LENGTH=<unset>", "CONTENT_LENGTH=0", 1)
				if envLines(w.body) != ow {
					t.Errorf("meta-variables differ beyond CONTENT_LENGTH:\ntwistd:\n%s\ngotwistd:\n%s", w.body, o.body)
				}
			}
			if !match(w, tc.twistd) {
				t.Logf("twistd no longer answers as documented (%s): %d %q %q", tc.differs, w.status, w.header, w.body)
			}
			t.Logf("differs on purpose: %s", tc.differs)
		})
	}

	t.Run("a child holding stdout", func(t *testing.T) {
		// twistd waits for every holder of the script's stdout: its answer
		// never ends while the child lives. gotwistd kills the group.
		pidFile := filepath.Join(ct.root, "fork.pid")
		o := got(gw, "GET", "/fork.cgi", "", nil, nil)
		if o.status != 200 || o.body != "parent done\n" {
			t.Errorf("gotwistd: %d %q", o.status, o.body)
		}
		procGone(t, pidIn(t, pidFile))
		os.Remove(pidFile)
		short := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := short.Get(tw.url("/fork.cgi"))
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if pid, perr := os.ReadFile(pidFile); perr == nil {
			var p int
			if _, serr := fmt.Sscan(string(pid), &p); serr == nil && p > 0 {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		t.Logf("twistd3, 3 s into /fork.cgi: %v", err)
	})
}
