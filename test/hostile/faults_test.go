package hostile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// waitLog waits until the server's log matches re, and returns the match.
func waitLog(t *testing.T, s *server, re *regexp.Regexp, within time.Duration) []string {
	t.Helper()
	var m []string
	switch s.log.Wait(within, s.exit, func(log string) bool { m = re.FindStringSubmatch(log); return m != nil }) {
	case testbin.ErrExited:
		t.Fatalf("the server exited (%v) before logging %q:\n%s", s.proc.Err, re, s.log.Tail(30))
	case testbin.ErrTimeout:
		t.Fatalf("the server did not log %q within %v:\n%s", re, within, s.log.Tail(30))
	}
	return m
}

// get fetches path on a new connection with the given User-Agent and
// returns the status.
func get(t *testing.T, s *server, path, agent string) int {
	t.Helper()
	s.alive()
	c, err := net.DialTimeout("tcp", s.addr(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", path, agent)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAccessLogDiskFull puts the access log on a small tmpfs and fills
// it: the server keeps answering every request, says once in the main log
// that access lines are being dropped, and once, with their number, when
// they are written again. Every request is then either a whole line of
// the access log or counted as dropped: none is lost without a word.
func TestAccessLogDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("disk full: needs root, to mount a small tmpfs")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("disk full: cannot mount a tmpfs (%v): %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	accessLog := filepath.Join(dir, "access.log")
	tr := newTree(t)
	s := start(t, nil, "--listen", "tcp:0:interface=127.0.0.1", "--path", tr.root, "--logfile", accessLog)

	sent := 0
	request := func() {
		t.Helper()
		sent++
		if code := get(t, s, "/", fmt.Sprintf("fault-test %d", sent)); code != 200 {
			t.Fatalf("request %d: status %d, want 200", sent, code)
		}
	}
	for range 5 {
		request()
	}
	// Those five reach the file within a second (the buffer's flush).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(accessLog); strings.Contains(string(b), `"fault-test 5"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first access lines did not reach %s within 10 s", accessLog)
		}
	}

	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := filler.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the tmpfs: %v", err)
			}
			break
		}
	}
	filler.Close()

	dropping := regexp.MustCompile(`cannot write the access log; dropping access lines until it works again`)
	again := regexp.MustCompile(`writing the access log again; (\d+) access lines were dropped`)
	// Lines are written when the buffer is full or a second after the
	// first: keep asking until a write has failed.
	for deadline := time.Now().Add(30 * time.Second); !dropping.MatchString(s.log.String()); {
		if time.Now().After(deadline) {
			t.Fatalf("no access-log failure reported after %d requests on a full disk:\n%s", sent, s.log.Tail(20))
		}
		request()
	}
	for range 20 {
		request()
	}
	if err := os.Remove(filepath.Join(dir, "filler")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !again.MatchString(s.log.String()); {
		if time.Now().After(deadline) {
			t.Fatalf("the access log was not written again after the disk was freed:\n%s", s.log.Tail(20))
		}
		request()
	}
	for range 5 {
		request()
	}
	s.stop() // writes out the buffered lines
	if s.proc.Err != nil {
		t.Errorf("the server exited with %v", s.proc.Err)
	}
	log := s.log.String()
	if n := len(dropping.FindAllString(log, -1)); n != 1 {
		t.Errorf("the main log says %d times that access lines are dropped, want once", n)
	}
	m := again.FindAllStringSubmatch(log, -1)
	if len(m) != 1 {
		t.Fatalf("the main log says %d times that the access log is written again, want once", len(m))
	}
	dropped, _ := strconv.Atoi(m[0][1])

	b, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^"127\.0\.0\.1" - - \[[^]]+\] "GET / HTTP/1\.1" 200 \d+ "-" "fault-test (\d+)"$`)
	whole, torn := 0, 0
	seen := map[int]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			whole++
			n, _ := strconv.Atoi(m[1])
			seen[n] = true
			continue
		}
		torn++
		if !strings.HasPrefix(`"127.0.0.1" - - [`, l) && !strings.HasPrefix(l, `"127.0.0.1" - - [`) {
			t.Errorf("access log line %q is neither a request's line nor the start of one cut short by the full disk", l)
		}
	}
	t.Logf("%d requests: %d access lines written, %d dropped (the main log's count), %d line cut short", sent, whole, dropped, torn)
	if torn > 1 {
		t.Errorf("%d lines cut short, want at most the one the disk filled up in", torn)
	}
	if dropped == 0 || whole+dropped != sent {
		t.Errorf("%d requests, but %d access lines and %d dropped: every request must be a line or counted", sent, whole, dropped)
	}
	for _, n := range []int{1, sent} {
		if !seen[n] {
			t.Errorf("no access line for request %d (before the disk filled, or after it was freed)", n)
		}
	}
}

// cpuTicks is the user and system time of process pid, in clock ticks
// (1/100 s on Linux).
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// TestOpenFilesLimit runs the server with a small open-files limit
// (prlimit, as LimitNOFILE= does) and opens more connections than it may
// hold: it says once that it is at the limit, does not spin on the
// listening socket meanwhile (little CPU time, few retries), and once
// descriptors are free again it serves the request that waited in the
// listen queue, and everyone after it.
func TestOpenFilesLimit(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("open-files limit: needs /proc")
	}
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("open-files limit: prlimit is not installed (util-linux)")
	}
	const limit = 40
	for _, e := range engines(t) {
		t.Run(e.name, func(t *testing.T) {
			tr := newTree(t)
			wrapper := []string{"prlimit", fmt.Sprintf("--nofile=%d:%d", limit, limit), "--"}
			args := append([]string{"--listen", "tcp:0:interface=127.0.0.1", "--path", tr.root, "--no-access-log"}, e.args...)
			s := startCmd(t, wrapper, nil, args...)

			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for range limit + 20 { // accepted until the limit, then queued
				c, err := net.DialTimeout("tcp", s.addr(), 5*time.Second)
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				held = append(held, c)
			}
			atLimit := regexp.MustCompile(`Cannot accept connections on \S+: accept4: too many open files \(open-files limit ` + strconv.Itoa(limit) + `\); they wait in the listen queue`)
			waitLog(t, s, atLimit, 15*time.Second)

			pending, err := net.DialTimeout("tcp", s.addr(), 5*time.Second)
			if err != nil {
				t.Fatalf("dial at the limit: %v", err)
			}
			defer pending.Close()
			io.WriteString(pending, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

			// A busy accept loop would burn a core for as long as the
			// limit holds; backing off to a retry a second, the server
			// uses next to nothing. The bound is generous: a quarter of
			// the window.
			const window = 2 * time.Second
			before, begin := cpuTicks(t, s.pid()), time.Now()
			time.Sleep(window) // a measurement window, not a synchronisation
			used := time.Duration(cpuTicks(t, s.pid())-before) * 10 * time.Millisecond
			elapsed := time.Since(begin)
			t.Logf("at the limit: %v of CPU time in %v", used, elapsed.Round(time.Millisecond))
			if used > elapsed/4 {
				t.Errorf("at the open-files limit the server used %v of CPU in %v: a busy accept loop", used, elapsed)
			}

			for _, c := range held {
				c.Close()
			}
			held = nil
			pending.SetReadDeadline(time.Now().Add(20 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(pending), nil)
			if err != nil {
				t.Fatalf("the request queued at the limit got no answer once descriptors were free: %v\n%s", err, s.log.Tail(20))
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != indexBody {
				t.Errorf("the request queued at the limit: %d %q, want 200 and the index", resp.StatusCode, body)
			}
			checkServes(t, s)

			again := regexp.MustCompile(`Accepting connections on \S+ again, after (\S+) and (\d+) retries`)
			m := waitLog(t, s, again, 15*time.Second)
			d, err := time.ParseDuration(m[1])
			retries, _ := strconv.Atoi(m[2])
			t.Logf("%s", m[0])
			// 5 ms doubling to 1 s: 8 retries in the first 1.3 s, then
			// one a second. A busy loop retries thousands of times.
			if err != nil || float64(retries) > 10+2*d.Seconds() {
				t.Errorf("%d retries in %v at the limit: the accept loop does not back off", retries, m[1])
			}
			log := s.log.String()
			if n := len(atLimit.FindAllString(log, -1)); n != 1 {
				t.Errorf("the log says %d times that the limit is reached, want once", n)
			}
			for _, noise := range []string{"Accept error", "accept error"} {
				if strings.Contains(log, noise) {
					t.Errorf("the log has a line a retry (%q):\n%s", noise, testbin.Tail(log, 20))
				}
			}

			// The engine's event loops, if the limit kept them from being
			// made, are made once descriptors are free: keep a
			// connection busy until the log says so.
			if strings.Contains(log, "h1: no event loop") {
				c, err := net.Dial("tcp", s.addr())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				br := bufio.NewReader(c)
				made := false
				for deadline := time.Now().Add(15 * time.Second); !made && time.Now().Before(deadline); {
					// A file the engine's FastHandler answers: the
					// connection then goes to a loop at once.
					io.WriteString(c, "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("keep-alive request: %v", err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					made = strings.Contains(s.log.String(), "h1: event loops made, after all")
				}
				if !made {
					t.Errorf("the event loops missing since the limit were not made once descriptors were free:\n%s", s.log.Tail(20))
				}
			}
			s.alive()
		})
	}
}

// TestUnreadablePath starts the server as root with -u nobody and a
// --path that nobody may not enter: it still starts (and answers 403, as
// the permissions say), but logs one warning naming the user and the
// directory in the way. A --path nobody may read gives no warning.
func TestUnreadablePath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("unreadable --path: needs root, to start as root and run as nobody")
	}
	tr := newTree(t) // base is 0755
	mk := func(dir string, mode os.FileMode) string {
		p := filepath.Join(tr.base, dir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "index.html"), []byte(indexBody), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	locked := mk("locked", 0o700)
	outer := filepath.Join(tr.base, "outer")
	inner := mk("outer/www", 0o755)
	if err := os.Chmod(outer, 0o700); err != nil {
		t.Fatal(err)
	}
	listOnly := mk("listonly", 0o711) // searchable, not readable: only listings are refused

	warning := regexp.MustCompile(`--path (\S+) cannot be served as user nobody \(uid 65534, gid 65534\): the directory (\S+) is not searchable by that user, so every request will be answered 403 Forbidden`)
	tests := []struct {
		name    string
		path    string
		blocked string // the directory the warning names; "" for no warning
		status  int    // of GET /
	}{
		{"0700 root directory", locked, locked, 403},
		{"0700 parent directory", inner, outer, 403},
		{"readable", tr.root, "", 200},
		{"searchable only", listOnly, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, []string{"-u", "nobody", "-g", "nogroup"}, "--listen", "tcp:0:interface=127.0.0.1", "--path", tt.path)
			if code := get(t, s, "/", "unreadable-path-test"); code != tt.status {
				t.Errorf("GET /: %d, want %d", code, tt.status)
			}
			// The access line comes after any warning at start.
			waitLog(t, s, regexp.MustCompile(`"unreadable-path-test"`), 15*time.Second)
			log := s.log.String()
			m := warning.FindAllStringSubmatch(log, -1)
			if tt.blocked == "" {
				if len(m) != 0 || strings.Contains(log, "cannot be served") {
					t.Errorf("a warning for a --path nobody can serve:\n%s", testbin.Tail(log, 20))
				}
				return
			}
			if len(m) != 1 {
				t.Fatalf("%d warnings about --path, want one:\n%s", len(m), testbin.Tail(log, 20))
			}
			if m[0][1] != tt.path || m[0][2] != tt.blocked {
				t.Errorf("the warning names --path %s and directory %s, want %s and %s", m[0][1], m[0][2], tt.path, tt.blocked)
			}
			t.Logf("%s", m[0][0])
		})
	}
}
