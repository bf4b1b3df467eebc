//go:build unix

package cgi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/web/static"
)

// envOf parses env.cgi's output.
func envOf(t *testing.T, body string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("env.cgi printed %q", l)
		}
		m[k] = v
	}
	return m
}

// gone waits until process pid no longer runs (exited or a zombie),
// failing after 20 s: a SIGKILL takes effect when the process is next
// scheduled, not when kill(2) returns.
func gone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err == nil {
			// pid (comm) STATE ...: the state follows the last ')'.
			s := string(stat)
			if i := strings.LastIndexByte(s, ')'); i >= 0 && strings.HasPrefix(s[i+1:], " Z") {
				return
			}
		} else if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %q", path, b)
	}
	return pid
}

// TestScripts runs the scripts of testdata through a static handler with a
// Runner (as uid 65534 when the test runs as root).
func TestScripts(t *testing.T) {
	if asNobody(t) {
		return
	}
	s := newSite(t, Config{Timeout: time.Minute, MaxBody: 1 << 20, ServerSoftware: "gotwistd/test"})

	t.Run("meta-variables", func(t *testing.T) {
		resp, body := do(t, "GET", s.url+"/env.cgi/a/b%20c/?x=1&y=%2F", nil,
			http.Header{"Proxy": {"http://evil:3128"}, "X-Test": {"one", "two"}})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("GET env.cgi = %d %q", resp.StatusCode, resp.Header)
		}
		env := envOf(t, body)
		port := strings.TrimPrefix(s.url, "http://127.0.0.1:")
		want := map[string]string{
			"GATEWAY_INTERFACE": "CGI/1.1",
			"SERVER_SOFTWARE":   "gotwistd/test",
			"SERVER_NAME":       "127.0.0.1",
			"SERVER_PORT":       port,
			"SERVER_PROTOCOL":   "HTTP/1.1",
			"REQUEST_METHOD":    "GET",
			"SCRIPT_NAME":       "/env.cgi",
			"PATH_INFO":         "/a/b c/",
			"PATH_TRANSLATED":   s.root + "/a/b c",
			"QUERY_STRING":      "x=1&y=%2F",
			"REMOTE_ADDR":       "127.0.0.1",
			"CONTENT_TYPE":      "<unset>",
			"CONTENT_LENGTH":    "<unset>",
			"HTTP_HOST":         "127.0.0.1:" + port,
			"HTTP_PROXY":        "<unset>", // httpoxy
			"HTTP_X_TEST":       "one, two",
			"HTTPS":             "<unset>",
			"NOTIFY_SOCKET":     "<unset>", // the server's environment stays its own
			"cwd":               s.root,
			"args":              "0",
			"body":              "",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s = %q, want %q", k, env[k], v)
			}
		}
	})

	t.Run("cwd is the script's directory", func(t *testing.T) {
		_, body := do(t, "GET", s.url+"/sub/where.cgi", nil, nil)
		if body != filepath.Join(s.root, "sub")+"\n" {
			t.Errorf("cwd = %q", body)
		}
	})

	t.Run("POST form to a Python script", func(t *testing.T) {
		resp, body := do(t, "POST", s.url+"/form.cgi?q=1", strings.NewReader("name=gotwistd&lang=go"),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("POST form.cgi = %d %q %q", resp.StatusCode, resp.Header, body)
		}
		if got := resp.Header.Values("Set-Cookie"); strings.Join(got, "|") != "a=1|b=2" {
			t.Errorf("Set-Cookie = %q", got)
		}
		var got struct {
			Method string
			Fields map[string][]string
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if got.Method != "POST" || got.Fields["name"][0] != "gotwistd" || got.Fields["lang"][0] != "go" || got.Fields["q"][0] != "1" {
			t.Errorf("form.cgi saw %+v", got)
		}
	})

	t.Run("body in memory and in a file", func(t *testing.T) {
		for _, n := range []int{1, memBody, memBody + 1, 300 << 10} {
			_, body := do(t, "POST", s.url+"/body.cgi", strings.NewReader(strings.Repeat("x", n)), nil)
			if want := fmt.Sprintf("length=%d read=%d\n", n, n); body != want {
				t.Errorf("%d bytes: %q, want %q", n, body, want)
			}
		}
	})

	t.Run("body over the limit is 413", func(t *testing.T) {
		resp, body := do(t, "POST", s.url+"/body.cgi", strings.NewReader(strings.Repeat("x", 1<<20+1)), nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || strings.Contains(body, "length=") {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
	})

	t.Run("Status", func(t *testing.T) {
		resp, body := do(t, "GET", s.url+"/status.cgi", nil, nil)
		if resp.StatusCode != 404 || body != "nothing here\n" || resp.Header.Get("X-Script") != "status" ||
			resp.Header.Get("Status") != "" {
			t.Errorf("= %d %q %q", resp.StatusCode, resp.Header, body)
		}
	})

	t.Run("client redirect", func(t *testing.T) {
		resp, _ := do(t, "GET", s.url+"/redirect.cgi", nil, nil)
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "http://example.com/elsewhere" {
			t.Errorf("= %d %q", resp.StatusCode, resp.Header)
		}
	})

	t.Run("local redirect", func(t *testing.T) {
		resp, body := do(t, "GET", s.url+"/local.cgi", nil, nil)
		if resp.StatusCode != 200 || body != "hello file\n" || resp.Header.Get("Location") != "" {
			t.Errorf("= %d %q %q", resp.StatusCode, resp.Header, body)
		}
	})

	t.Run("nph script", func(t *testing.T) {
		resp, body := do(t, "GET", s.url+"/nph-accepted.cgi", nil, nil)
		if resp.StatusCode != 202 || body != "accepted\n" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("= %d %q %q", resp.StatusCode, resp.Header, body)
		}
	})

	t.Run("204", func(t *testing.T) {
		resp, body := do(t, "GET", s.url+"/nocontent.cgi", nil, nil)
		if resp.StatusCode != 204 || body != "" {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		resp, body := do(t, "HEAD", s.url+"/head.cgi", nil, nil)
		if resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Method") != "HEAD" {
			t.Errorf("= %d %q %q", resp.StatusCode, resp.Header, body)
		}
	})

	t.Run("Range and conditions go to the script", func(t *testing.T) {
		resp, body := do(t, "GET", s.url+"/head.cgi", nil, http.Header{"Range": {"bytes=0-1"}, "If-None-Match": {"*"}})
		if resp.StatusCode != 200 || body != "body of GET\n" {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
	})

	for _, tc := range []struct{ script, log string }{
		{"crash.cgi", "exit status 3"},
		{"badheader.cgi", "has no colon"},
		{"hugeheader.cgi", "larger than"},
	} {
		t.Run("502 for "+tc.script, func(t *testing.T) {
			resp, body := do(t, "GET", s.url+"/"+tc.script, nil, nil)
			if resp.StatusCode != 502 || strings.Contains(body, "secret") || strings.Contains(body, "Traceback") ||
				!strings.Contains(body, "Bad Gateway") {
				t.Errorf("= %d %q", resp.StatusCode, body)
			}
			if s.log.count("CGI /"+tc.script+": bad output (502)") != 1 || s.log.count(tc.log) < 1 {
				t.Errorf("log: %q", s.log.all())
			}
		})
	}

	t.Run("stderr to the log, bounded", func(t *testing.T) {
		_, body := do(t, "GET", s.url+"/stderr.cgi", nil, nil)
		if body != "ok\n" {
			t.Errorf("body %q", body)
		}
		if n := s.log.count("CGI /stderr.cgi stderr: stderr line "); n != MaxStderrLines {
			t.Errorf("%d stderr lines logged, want %d", n, MaxStderrLines)
		}
		if s.log.count("CGI /stderr.cgi stderr: stderr line 0") != 1 || s.log.count("the rest is not logged") != 1 {
			t.Errorf("log: %q", s.log.all())
		}
		if s.log.count("CGI /crash.cgi stderr: Traceback: internal secret detail") != 1 {
			t.Errorf("crash.cgi's stderr is not in the log: %q", s.log.all())
		}
	})

	t.Run("not executable", func(t *testing.T) {
		resp, body := do(t, "GET", s.url+"/noexec.cgi", nil, nil)
		if resp.StatusCode != 500 || strings.Contains(body, "ran") {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
		if s.log.count("chmod +x") != 1 {
			t.Errorf("log: %q", s.log.all())
		}
	})

	t.Run("output is streamed", func(t *testing.T) {
		fifo := filepath.Join(s.root, "stream.fifo")
		must(t, syscall.Mkfifo(fifo, 0o666))
		resp, err := http.Get(s.url + "/stream.cgi")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		first, err := br.ReadString('\n')
		if err != nil || first != "first\n" {
			t.Fatalf("first line %q, %v", first, err)
		}
		// The script is blocked until now: its first line came while it ran.
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, "go")
		f.Close()
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "second go\n" {
			t.Errorf("rest %q, %v", rest, err)
		}
	})

	t.Run("a child that outlives the script is killed", func(t *testing.T) {
		resp, body := do(t, "GET", s.url+"/fork.cgi", nil, nil)
		if resp.StatusCode != 200 || body != "parent done\n" {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
		gone(t, readPid(t, filepath.Join(s.root, "fork.pid")))
	})

	t.Run("a script that never exits is killed with its group", func(t *testing.T) {
		short := newSite(t, Config{Timeout: 300 * time.Millisecond})
		resp, body := do(t, "GET", short.url+"/forever.cgi", nil, nil)
		if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "Gateway Timeout") {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
		gone(t, readPid(t, filepath.Join(short.root, "forever.pid")))
		if short.log.count("killed after 300ms (--cgi-timeout) before its headers ended") != 1 {
			t.Errorf("log: %q", short.log.all())
		}
	})

	t.Run("a timeout after the headers cuts the response", func(t *testing.T) {
		short := newSite(t, Config{Timeout: 300 * time.Millisecond})
		resp, err := http.Get(short.url + "/stall.cgi")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "partial\n" || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("= %d %q, %v; want the first line, then a cut", resp.StatusCode, body, err)
		}
		if short.log.count("CGI /stall.cgi: killed after 300ms (--cgi-timeout); response cut short") != 1 {
			t.Errorf("log: %q", short.log.all())
		}
	})

	t.Run("more scripts than MaxProcs", func(t *testing.T) {
		one := newSite(t, Config{MaxProcs: 1})
		fifo := filepath.Join(one.root, "stream.fifo")
		must(t, syscall.Mkfifo(fifo, 0o666))
		resp, err := http.Get(one.url + "/stream.cgi")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if l, _ := br.ReadString('\n'); l != "first\n" {
			t.Fatalf("first line %q", l)
		}
		// stream.cgi runs (blocked on its fifo): no room for another.
		busy, body := do(t, "GET", one.url+"/head.cgi", nil, nil)
		if busy.StatusCode != 503 || busy.Header.Get("Retry-After") != "1" || strings.Contains(body, "body of") {
			t.Errorf("second script: %d %q %q", busy.StatusCode, busy.Header, body)
		}
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		must(t, err)
		fmt.Fprintln(f, "go")
		f.Close()
		if rest, _ := io.ReadAll(br); string(rest) != "second go\n" {
			t.Errorf("rest %q", rest)
		}
		resp.Body.Close()
		// The slot is free once the first response has ended.
		if again, body := do(t, "GET", one.url+"/head.cgi", nil, nil); again.StatusCode != 200 || body != "body of GET\n" {
			t.Errorf("after: %d %q", again.StatusCode, body)
		}
		if one.log.count("1 scripts already running (--cgi-max-procs): 503") != 1 {
			t.Errorf("log: %q", one.log.all())
		}
	})

	t.Run("a client that leaves kills the script", func(t *testing.T) {
		fifo := filepath.Join(s.root, "stream.fifo")
		if err := syscall.Mkfifo(fifo, 0o666); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
		// stream.cgi waits on the fifo after its first line; the client
		// reads that line and goes.
		resp, err := http.Get(s.url + "/stream.cgi")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if l, _ := br.ReadString('\n'); l != "first\n" {
			t.Fatalf("first line %q", l)
		}
		resp.Body.Close()
		http.DefaultClient.CloseIdleConnections()
		// Once the script is killed, nothing reads the fifo: opening it
		// for writing without blocking then fails with ENXIO.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			if errors.Is(err, syscall.ENXIO) {
				break
			}
			if err == nil {
				f.Close()
			}
			if time.Now().After(deadline) {
				t.Fatal("stream.cgi still reads its fifo after its client left")
			}
		}
	})
}

// TestPathOutsideRoot: a script reached through a link that leaves the
// root is refused, and does not run.
func TestPathOutsideRoot(t *testing.T) {
	if asNobody(t) {
		return
	}
	s := newSite(t, Config{})
	outside := t.TempDir()
	script := "#!/bin/sh\ntouch \"" + outside + "/ran\"\nprintf 'Content-Type: text/plain\\n\\nran\\n'\n"
	must(t, os.WriteFile(filepath.Join(outside, "evil.cgi"), []byte(script), 0o755))
	must(t, os.Symlink(filepath.Join(outside, "evil.cgi"), filepath.Join(s.root, "evil.cgi")))
	must(t, os.Symlink(outside, filepath.Join(s.root, "outdir")))
	must(t, os.Symlink("env.cgi", filepath.Join(s.root, "inside.cgi")))
	for _, p := range []string{"/evil.cgi", "/outdir/evil.cgi", "/outdir/evil.cgi/x"} {
		for _, m := range []string{"GET", "POST"} {
			resp, body := do(t, m, s.url+p, nil, nil)
			if resp.StatusCode != 403 || strings.Contains(body, "ran") {
				t.Errorf("%s %s = %d %q", m, p, resp.StatusCode, body)
			}
		}
	}
	for _, p := range []string{"/../evil.cgi", "/%2e%2e/evil.cgi", "/sub/..%2fevil.cgi"} {
		resp, body := do(t, "GET", s.url+p, nil, nil)
		if resp.StatusCode != 404 || strings.Contains(body, "ran") {
			t.Errorf("GET %s = %d %q", p, resp.StatusCode, body)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "ran")); err == nil {
		t.Error("the script outside the root ran")
	}
	// A link that stays inside runs the script it names.
	resp, body := do(t, "GET", s.url+"/inside.cgi", nil, nil)
	if env := envOf(t, body); resp.StatusCode != 200 || env["SCRIPT_NAME"] != "/inside.cgi" {
		t.Errorf("GET /inside.cgi = %d %q", resp.StatusCode, body)
	}
}

// TestRefusedAsRoot: run as root, the Runner runs nothing and says why
// once.
func TestRefusedAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := copyTestdata(t)
	marker := filepath.Join(root, "ran")
	must(t, os.WriteFile(filepath.Join(root, "touch.cgi"), []byte("#!/bin/sh\ntouch ran\nprintf 'Status: 200 OK\\n\\n'\n"), 0o755))
	rec := &logRec{}
	h, err := static.New(static.Config{Root: root, CGI: New(Config{Log: slog.New(rec)})})
	must(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range 3 {
		resp, body := do(t, "GET", srv.URL+"/touch.cgi", nil, nil)
		if resp.StatusCode != 500 || strings.Contains(body, "root") {
			t.Errorf("= %d %q", resp.StatusCode, body)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the script ran as root")
	}
	if n := rec.count("refusing to run scripts as root"); n != 1 || rec.count("-u/--uid") != 1 {
		t.Errorf("%d refusal lines: %q", n, rec.all())
	}
}
