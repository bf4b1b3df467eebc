package static

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startTwistd runs "twistd3 -n --pidfile= web --listen tcp:PORT --path dir"
// and returns its base URL; the process is killed when the test ends.
func startTwistd(t *testing.T, dir string) string {
	t.Helper()
	twistd, err := exec.LookPath("twistd3")
	if err != nil {
		t.Skip("twistd3 is not on PATH (apt-get install python3-twisted to compare with twistd)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var out bytes.Buffer
	cmd := exec.Command(twistd, "-n", "--pidfile=", "web",
		"--listen", fmt.Sprintf("tcp:%d:interface=127.0.0.1", port), "--path", dir)
	cmd.Dir = t.TempDir()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Wait until twistd accepts connections, or has exited.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("twistd3 exited before listening:\n%s", out.String())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("twistd3 did not listen on %s:\n%s", addr, out.String())
		}
	}
	return "http://" + addr
}

// TestSideBySideTwistd sends the same requests to twistd3 and to the
// handler, serving the same directory, and compares status codes, every
// header twistd sends (but Date and Server) and, where they are twistd's
// pages, the bodies. Documented differences are listed per case.
func TestSideBySideTwistd(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.txt":              "hello world\n",
		"page.html":          "<p>page</p>",
		"t.tar.gz":           "not really gzip",
		"noext":              "x",
		"sub/x.css":          "body{}",
		"sub/deeper/y.json":  "{}",
		"sub/we<i>rd & q.js": "w",
		"withidx/index.html": "IDX",
		"emptydir/":          "",
		"sp ace.txt":         "s",
	})
	tw := startTwistd(t, root)
	// twistd's listing page is the one compared, byte for byte.
	ours := newTestServer(t, Config{Root: root, Listing: ListingTwistd})
	twc := &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, _ := ours.do(t, "GET", "/a.txt", nil)
	lastMod := resp.Header.Get("Last-Modified")

	cases := []struct {
		name, method, path string
		hdr                map[string]string
		// skip lists twistd headers not compared (documented differences).
		skip []string
		// body: compare bodies too.
		body bool
	}{
		{name: "root listing", path: "/", body: true},
		{name: "sub listing", path: "/sub/", body: true},
		{name: "listing with query", path: "/sub/?q=%3Cx%3E", body: true},
		{name: "HEAD listing", method: "HEAD", path: "/sub/"},
		{name: "file", path: "/a.txt", body: true},
		{name: "HEAD file", method: "HEAD", path: "/a.txt"},
		{name: "html file", path: "/page.html", body: true},
		{name: "no extension", path: "/noext", body: true},
		// twistd sends Content-Type application/x-tar and
		// Content-Encoding gzip, so clients unpack the archive; we send it
		// as itself (TestServe's "tar.gz sent as itself").
		{name: "gz file", path: "/t.tar.gz", body: true, skip: []string{"Content-Type", "Content-Encoding"}},
		{name: "escaped name", path: "/sp%20ace.txt", body: true},
		{name: "index", path: "/withidx/", body: true},
		{name: "single range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-3"}, body: true},
		{name: "suffix range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=-5"}, body: true},
		// The boundary and the part header layout differ; parts are
		// compared below.
		{name: "multi range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1,4-5"}, skip: []string{"Content-Type", "Content-Length"}},
		{name: "unsatisfiable range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=100-200"}, body: true},
		{name: "malformed range", path: "/a.txt", hdr: map[string]string{"Range": "bytes=abc"}, body: true},
		{name: "HEAD with range", method: "HEAD", path: "/a.txt", hdr: map[string]string{"Range": "bytes=0-1"}},
		// twistd sends "Content-Length: 0" with 304.
		{name: "not modified", path: "/a.txt", hdr: map[string]string{"If-Modified-Since": lastMod}, skip: []string{"Content-Length"}, body: true},
		{name: "modified", path: "/a.txt", hdr: map[string]string{"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}, body: true},
		{name: "404", path: "/nope", body: true},
		{name: "HEAD 404", method: "HEAD", path: "/nope"},
		{name: "file with slash 404", path: "/a.txt/", body: true},
		{name: "405", method: "POST", path: "/a.txt", body: true},
		{name: "dir redirect", path: "/sub", body: true},
		{name: "dir redirect with query", path: "/sub?x=1&y=2", body: true},
		{name: "HEAD dir redirect", method: "HEAD", path: "/sub"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req, err := http.NewRequest(method, tw+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			want, err := twc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var wantBody bytes.Buffer
			wantBody.ReadFrom(want.Body)
			want.Body.Close()
			got, gotBody := ours.do(t, method, tc.path, tc.hdr)
			if got.StatusCode != want.StatusCode {
				t.Fatalf("status %d, twistd %d", got.StatusCode, want.StatusCode)
			}
			for k, v := range want.Header {
				if k == "Date" || k == "Server" || contains(tc.skip, k) {
					continue
				}
				if g := got.Header[k]; strings.Join(g, ", ") != strings.Join(v, ", ") {
					t.Errorf("%s: %q, twistd %q", k, g, v)
				}
			}
			if tc.body && gotBody != wantBody.String() {
				t.Errorf("body differs:\nours:   %q\ntwistd: %q", trunc(gotBody), trunc(wantBody.String()))
			}
			if tc.name == "multi range" {
				gotParts := readParts(t, got, gotBody)
				wantParts := readParts(t, want, wantBody.String())
				if fmt.Sprint(gotParts) != fmt.Sprint(wantParts) {
					t.Errorf("parts %v, twistd %v", gotParts, wantParts)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
