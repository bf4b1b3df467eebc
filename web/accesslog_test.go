package web

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/logfile"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// fixedTime is the moment of twisted-reference.md's transcript.
var fixedTime = time.Date(2026, 11, 23, 20, 0, 49, 0, time.UTC)

func fixedClock() time.Time { return fixedTime }

type logCase struct {
	name   string
	ip     string // RemoteAddr
	unix   bool
	method string
	uri    string
	proto  string
	header http.Header
	status int
	size   int64
}

var logCases = []logCase{
	{name: "twisted transcript", ip: "127.0.0.1:40000", method: "GET", uri: "/a.txt", proto: "HTTP/1.1",
		header: http.Header{"Referer": {"http://r/"}, "User-Agent": {"UA"}}, status: 200, size: 6},
	{name: "no referer or agent", ip: "192.0.2.7:1", method: "GET", uri: "/", proto: "HTTP/1.0", status: 200, size: 160},
	{name: "empty agent", ip: "192.0.2.7:1", method: "GET", uri: "/", proto: "HTTP/1.1",
		header: http.Header{"User-Agent": {""}}, status: 200, size: 1},
	{name: "head has no length", ip: "127.0.0.1:2", method: "HEAD", uri: "/a.txt", proto: "HTTP/1.1", status: 200, size: 0},
	{name: "not modified", ip: "127.0.0.1:2", method: "GET", uri: "/a.txt", proto: "HTTP/1.1", status: 304},
	{name: "ipv6 client", ip: "[::1]:5555", method: "GET", uri: "/x?a=b&c=d", proto: "HTTP/1.1", status: 404, size: 145},
	{name: "unix socket client", ip: "@", unix: true, method: "GET", uri: "/", proto: "HTTP/1.1", status: 200, size: 12},
	{name: "http2 range", ip: "10.0.0.1:443", method: "GET", uri: "/big.iso", proto: "HTTP/2.0", status: 206, size: 10485760},
	{name: "http3", ip: "10.0.0.1:443", method: "GET", uri: "/", proto: "HTTP/3.0", status: 200, size: 5},
	{name: "quotes and backslashes", ip: "127.0.0.1:1", method: "GET", uri: "/", proto: "HTTP/1.1",
		header: http.Header{"User-Agent": {`Mozilla "5.0" \ it's`}}, status: 200, size: 1},
	{name: "line breaks cannot forge lines", ip: "127.0.0.1:1", method: "GET", uri: "/", proto: "HTTP/1.1",
		header: http.Header{"Referer": {"a\r\n\"127.0.0.1\" - - forged\tx"}}, status: 200, size: 1},
	{name: "bytes outside ascii", ip: "127.0.0.1:1", method: "GET", uri: "/caf\xc3\xa9?\x00\x7f", proto: "HTTP/1.1",
		header: http.Header{"User-Agent": {"\xff\x01"}}, status: 400, size: 11},
	{name: "odd method", ip: "127.0.0.1:1", method: "PROPFIND", uri: "*", proto: "HTTP/1.1", status: 405, size: 233},
}

func (c logCase) request() *http.Request {
	u, _ := url.ParseRequestURI("/")
	h := c.header
	if h == nil {
		h = http.Header{}
	}
	return &http.Request{Method: c.method, RequestURI: c.uri, URL: u, Proto: c.proto, Header: h, RemoteAddr: c.ip}
}

func (c logCase) line(a *accessLog) string {
	ip := "-"
	if !c.unix {
		ip = clientIP(c.ip)
	}
	return string(appendCombined(nil, a.timestamp(), ip, c.request(), c.status, c.size))
}

// TestCombinedGolden checks whole access lines against
// testdata/combined.golden (run with -update to rewrite it).
func TestCombinedGolden(t *testing.T) {
	a := newAccessLog(nil, nil, fixedClock)
	var b strings.Builder
	for _, c := range logCases {
		b.WriteString("# " + c.name + "\n" + c.line(a) + "\n")
	}
	golden := filepath.Join("testdata", "combined.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("access lines differ from %s:\n%s", golden, b.String())
	}
	// The transcript in twisted-reference.md, byte for byte.
	const twistd = `"127.0.0.1" - - [23/Nov/2026:20:00:49 +0000] "GET /a.txt HTTP/1.1" 200 6 "http://r/" "UA"`
	if got := logCases[0].line(a); got != twistd {
		t.Errorf("got  %s\nwant %s", got, twistd)
	}
}

// TestEscapeMatchesTwisted compares appendEscaped with Twisted's own
// twisted.web.http._escape, when python3-twisted is installed.
func TestEscapeMatchesTwisted(t *testing.T) {
	python := "/usr/bin/python3" // the one python3-twisted installs into
	if _, err := os.Stat(python); err != nil {
		if python, err = exec.LookPath("python3"); err != nil {
			t.Skip("python3 not installed: cannot compare with Twisted")
		}
	}
	inputs := []string{"plain", `a"b`, `a'b`, `a'"b`, `back\slash`, "\t\n\r", "\x00\x01\x1f\x7f\x80\xff", "caf\xc3\xa9", "", " ~"}
	var in strings.Builder
	for _, s := range inputs {
		in.WriteString(hex.EncodeToString([]byte(s)) + "\n")
	}
	cmd := exec.Command(python, "-c", `
import sys
try:
    from twisted.web.http import _escape
except ImportError:
    sys.exit(3)
for line in sys.stdin.read().split("\n")[:-1]:
    print(_escape(bytes.fromhex(line)))
`)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		t.Skip("python3-twisted not installed: cannot compare with Twisted")
	}
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(want) != len(inputs) {
		t.Fatalf("python3 printed %d lines for %d inputs", len(want), len(inputs))
	}
	for i, s := range inputs {
		if got := string(appendEscaped(nil, s)); got != want[i] {
			t.Errorf("escape(%q) = %s, Twisted says %s", s, got, want[i])
		}
	}
}

func TestClientIP(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:80":      "127.0.0.1",
		"[::1]:80":          "::1",
		"[fe80::1%eth0]:80": "fe80::1%eth0",
		"":                  "-",
		"@":                 "-",
		"/run/x.sock":       "-",
		":80":               "-",
	} {
		if got := clientIP(in); got != want {
			t.Errorf("clientIP(%q) = %q, want %q", in, got, want)
		}
	}
}

// fileAccessLog returns an access log writing to access.log in a new
// temporary directory, stamped by fixedClock, and that file's path.
func fileAccessLog(t *testing.T) (*accessLog, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "access.log")
	f, err := logfile.Open(path, logfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return newAccessLog(f, slog.New(slog.DiscardHandler), fixedClock), path
}

// TestAccessLogFile checks buffering, reopening after a rename (logrotate)
// and the flush on close.
func TestAccessLogFile(t *testing.T) {
	a, path := fileAccessLog(t)
	c := logCases[0]
	a.log(c.request(), "127.0.0.1", 200, 6)
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("line written before a flush: %q", b)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := a.reopen(); err != nil {
		t.Fatal(err)
	}
	a.log(c.request(), "127.0.0.2", 200, 6)
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	a.log(c.request(), "127.0.0.3", 200, 6) // after close: dropped, no panic
	want1 := c.line(a) + "\n"
	want2 := strings.Replace(want1, "127.0.0.1", "127.0.0.2", 1)
	if b, _ := os.ReadFile(path + ".1"); string(b) != want1 {
		t.Errorf("access.log.1 = %q, want %q", b, want1)
	}
	if b, _ := os.ReadFile(path); string(b) != want2 {
		t.Errorf("access.log = %q, want %q", b, want2)
	}
}

// TestAccessLogTimedFlush checks that a line reaches the file without
// further traffic.
func TestAccessLogTimedFlush(t *testing.T) {
	a, path := fileAccessLog(t)
	a.flushDelay = 10 * time.Millisecond
	defer a.close()
	a.log(logCases[0].request(), "127.0.0.1", 200, 6)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(path); bytes.HasSuffix(b, []byte("\"UA\"\n")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the buffered line never reached the file")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAccessLogAllocations keeps access logging cheap: formatting and
// buffering a line to a file allocates nothing.
func TestAccessLogAllocations(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race")
	}
	f, err := logfile.Open(filepath.Join(t.TempDir(), "access.log"), logfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := newAccessLog(f, slog.New(slog.DiscardHandler), fixedClock)
	defer a.close()
	r := logCases[0].request()
	a.log(r, "127.0.0.1", 200, 6)
	if n := testing.AllocsPerRun(1000, func() { a.log(r, "127.0.0.1", 200, 6) }); n != 0 {
		t.Errorf("logging a request allocates %v times, want 0", n)
	}
}

func BenchmarkAccessLog(b *testing.B) {
	f, err := logfile.Open(filepath.Join(b.TempDir(), "access.log"), logfile.Options{})
	if err != nil {
		b.Fatal(err)
	}
	a := newAccessLog(f, slog.New(slog.DiscardHandler), time.Now)
	defer a.close()
	r := logCases[0].request()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.log(r, "127.0.0.1", 200, 6)
		}
	})
}

// escapeByByte is appendEscaped's rule one byte at a time, as Python's
// repr states it: the reference FuzzEscape holds appendEscaped to.
func escapeByByte(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '"':
			b.WriteString(`\` + string(c))
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// FuzzEscape: appendEscaped, which copies runs of plain bytes whole,
// escapes every byte as the byte-at-a-time rule does, after what the
// buffer held.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", `a"b\c`, "\t\n\r\x00\x7f\x80\xff", "caf\xc3\xa9", `"`, "x\x01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendEscaped([]byte("pre"), s)), "pre"+escapeByByte(s); got != want {
			t.Errorf("appendEscaped(%q) = %q, want %q", s, got, want)
		}
	})
}

// TestStatusField: the status is written as its decimal digits, whatever
// its width.
func TestStatusField(t *testing.T) {
	for _, status := range []int{0, 7, 99, 100, 200, 304, 431, 999, 1000, 12345} {
		line := string(appendFields(nil, []byte("[ts]"), "ip", "GET", "/", "HTTP/2.0", "-", "-", status, 0))
		if want := fmt.Sprintf(`HTTP/2.0" %d -`, status); !strings.Contains(line, want) {
			t.Errorf("status %d: %s, want it to contain %s", status, line, want)
		}
	}
}

// TestAccessLogConcurrent: lines logged at once by many goroutines, with
// full buffers written out while others fill the next, and a reopen and
// flushes in between, all reach the files whole, each goroutine's in the
// order it logged them. One line is larger than a buffer.
func TestAccessLogConcurrent(t *testing.T) {
	a, path := fileAccessLog(t)
	const workers, lines = 8, 3000
	huge := strings.Repeat("a", accessBufferSize+100)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				agent := "-"
				if w == 0 && i == lines/2 {
					agent = huge
				}
				a.logFields("127.0.0.1", "GET", fmt.Sprintf("/w%d/%d", w, i), "HTTP/2.0", "-", agent, 200, 6)
				switch {
				case w == 1 && i == lines/3:
					if err := os.Rename(path, path+".1"); err != nil {
						t.Error(err)
					}
					if err := a.reopen(); err != nil {
						t.Error(err)
					}
				case w == 2 && i%500 == 0:
					a.flush()
				}
			}
		}()
	}
	wg.Wait()
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, p := range []string{path + ".1", path} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	next := make([]int, workers)
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(string(all), "\n"), "\n") {
		var w, i int
		if _, err := fmt.Sscanf(line, `"127.0.0.1" - - [23/Nov/2026:20:00:49 +0000] "GET /w%d/%d HTTP/2.0" 200 6`, &w, &i); err != nil {
			t.Fatalf("line %d torn or wrong: %.120q (%v)", n, line, err)
		}
		if w < 0 || w >= workers || i != next[w] {
			t.Fatalf("line %d: worker %d's line %d, want its line %d", n, w, i, next[w])
		}
		next[w]++
		n++
	}
	if n != workers*lines {
		t.Errorf("%d lines, want %d", n, workers*lines)
	}
}

// TestAccessLogFull: lines that cannot be written (a full disk: the log is
// a symbolic link to /dev/full) are dropped and counted; the main log says
// so once, and once more with the count when the file can be written
// again (the link now names a regular file, reopened as on SIGUSR1).
func TestAccessLogFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	dir := t.TempDir()
	path, good := filepath.Join(dir, "access.log"), filepath.Join(dir, "good.log")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	f, err := logfile.Open(path, logfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &logRecorder{}
	a := newAccessLog(f, slog.New(recHandler{rec: rec, system: systemAccess}), fixedClock)
	r := logCases[0].request()
	for range 3 {
		a.log(r, "127.0.0.1", 200, 6)
	}
	a.flush()
	a.log(r, "127.0.0.1", 200, 6)
	a.flush()
	want := []string{"[" + systemAccess + "] cannot write the access log; dropping access lines until it works again"}
	if got := rec.all(); !slices.Equal(got, want) {
		t.Errorf("main log while full: %q, want %q", got, want)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(good, path); err != nil {
		t.Fatal(err)
	}
	a.log(r, "127.0.0.1", 200, 6) // dropped: reopen flushes first
	if err := a.reopen(); err != nil {
		t.Fatal(err)
	}
	a.log(r, "127.0.0.2", 200, 6)
	a.flush()
	want = append(want, "["+systemAccess+"] writing the access log again; 5 access lines were dropped")
	if got := rec.all(); !slices.Equal(got, want) {
		t.Errorf("main log: %q, want %q", got, want)
	}
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	line := strings.Replace(logCases[0].line(a), "127.0.0.1", "127.0.0.2", 1) + "\n"
	if b, _ := os.ReadFile(good); string(b) != line {
		t.Errorf("access log after recovery = %q, want %q", b, line)
	}
	if got := rec.all(); len(got) != 2 {
		t.Errorf("close after recovery logged %q", got[2:])
	}
}

// TestAccessLogEngineTime: a line the fast path logs carries the time the
// engine read the request at, with the real clock; a clock of the tests'
// own (the seam) wins over it.
func TestAccessLogEngineTime(t *testing.T) {
	read := time.Date(2026, 12, 7, 15, 4, 5, 0, time.UTC).UnixNano()
	for _, tc := range []struct {
		name  string
		clock func() time.Time
		at    int64
		want  string
	}{
		{name: "real clock, engine's time", at: read, want: "[07/Dec/2026:15:04:05 +0000]"},
		{name: "real clock, no engine time", at: 0, want: time.Now().UTC().Format("[02/Jan/2006:")},
		{name: "the tests' clock", clock: fixedClock, at: read, want: "[23/Nov/2026:20:00:49 +0000]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			f, err := logfile.Open(path, logfile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			a := newAccessLog(f, slog.New(slog.DiscardHandler), tc.clock)
			a.logFieldsAt(tc.at, "127.0.0.1", "GET", "/", "HTTP/2.0", "-", "-", 200, 1)
			if err := a.close(); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			if !strings.Contains(string(b), " "+tc.want) {
				t.Errorf("line %q, want the time %s", b, tc.want)
			}
		})
	}
}

// BenchmarkEscape: appendEscaped on the fields of a typical line, a
// browser's User-Agent and a short path.
func BenchmarkEscape(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"},
		{"path", "/small.html"},
		{"escapes", "caf\xc3\xa9 \"quoted\" back\\slash"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 512)
			b.SetBytes(int64(len(bc.s)))
			for b.Loop() {
				buf = appendEscaped(buf[:0], bc.s)
			}
		})
	}
}

// TestEscapeEveryPosition: a byte that needs escaping is found at every
// offset of a word and of the tail plainPrefix leaves, next to the bytes
// on either side of each boundary of the rule (0x1f/0x20, 0x7e/0x7f/0x80,
// 0x21/0x22/0x23, 0x5b/0x5c/0x5d).
func TestEscapeEveryPosition(t *testing.T) {
	probes := []byte{0x00, 0x1f, 0x20, 0x21, '"', 0x23, 0x5b, '\\', 0x5d, 0x7e, 0x7f, 0x80, 0xff, '\t', '\n', '\r'}
	for _, c := range probes {
		for n := 1; n <= 19; n++ {
			for p := 0; p < n; p++ {
				b := []byte(strings.Repeat("a", n))
				b[p] = c
				s := string(b)
				if got, want := string(appendEscaped(nil, s)), escapeByByte(s); got != want {
					t.Errorf("appendEscaped(%q) = %q, want %q", s, got, want)
				}
			}
		}
	}
}
