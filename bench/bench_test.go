package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseWrk(t *testing.T) {
	tests := []parseCase{
		{
			name: "summary line among wrk's table",
			out: `Running 5s test @ http://127.0.0.1:8080/small.html
  2 threads and 50 connections
Requests/sec:  95724.31
BENCH requests=478871 duration_us=5002712 bytes=128330000 connect=0 read=3 write=1 status=12 timeout=2 p50_us=480 p99_us=2100
`,
			want: loadResult{Requests: 478871, Seconds: 5.002712, Bytes: 128330000, Errors: 6, Non2xx: 12,
				P50: 480 * time.Microsecond, P99: 2100 * time.Microsecond},
		},
		{name: "no summary", out: "unable to connect to 127.0.0.1:1 Connection refused\n", wantErr: "no summary from wrk: unable to connect"},
		{name: "field missing", out: "BENCH requests=1 duration_us=1\n", wantErr: "wrk summary lacks bytes"},
		{name: "bad number", out: "BENCH requests=x\n", wantErr: `bad wrk summary field "requests=x"`},
	}
	testParse(t, parseWrk, tests)
}

func TestParseH2load(t *testing.T) {
	full := `starting benchmark...
TLS Protocol: TLSv1.3
Application protocol: h2

finished in 5.00s, 60862.40 req/s, 14.48MB/s
requests: 304312 total, 304812 started, 304312 done, 304300 succeeded, 10 failed, 2 errored, 0 timeout
status codes: 304290 2xx, 0 3xx, 6 4xx, 4 5xx
`
	tests := []parseCase{
		{name: "h2 run", out: full, want: loadResult{Requests: 304300, Seconds: 5, Errors: 12, Non2xx: 10}},
		{name: "milliseconds", out: strings.Replace(full, "finished in 5.00s", "finished in 250.00ms", 1),
			want: loadResult{Requests: 304300, Seconds: 0.25, Errors: 12, Non2xx: 10}},
		{name: "no ALPN", out: "No protocol negotiated. Exiting...\n", wantErr: "no HTTP/2 (no ALPN protocol negotiated)"},
		{name: "http/1.1 chosen", out: "Application protocol: http/1.1\n", wantErr: "no HTTP/2 (ALPN chose http/1.1)"},
		{name: "no summary", out: "connect: Connection refused\n", wantErr: "no summary from h2load"},
	}
	testParse(t, parseH2load, tests)
}

// parseCase is a load generator's output and what parsing it must give:
// want, or, when wantErr is set, an error containing wantErr.
type parseCase struct {
	name    string
	out     string
	want    loadResult
	wantErr string
}

// testParse runs parse on each case's output in a subtest of its own.
func testParse(t *testing.T, parse func(string) (loadResult, error), tests []parseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.out)
			if checkErr(t, err, tt.wantErr) {
				return
			}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// checkErr checks err against a case's wantErr and reports whether the
// case expected an error, so that there is nothing more to check. When
// wantErr is set, err must contain it; when it is empty, any err fails the
// test.
func checkErr(t *testing.T, err error, wantErr string) (wanted bool) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want it to contain %q", err, wantErr)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

func TestParseStatPgrp(t *testing.T) {
	tests := []struct {
		name  string
		stat  string
		pgrp  int
		state string
	}{
		{"plain", "1234 (nginx) S 1 1234 1234 0 -1", 1234, "S"},
		{"name with spaces and parens", "77 (a b) (c)) R 5 42 42 0", 42, "R"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pg, st, err := parseStatPgrp(tt.stat)
			if err != nil || pg != tt.pgrp || st != tt.state {
				t.Fatalf("got %d %q %v, want %d %q", pg, st, err, tt.pgrp, tt.state)
			}
		})
	}
	if _, _, err := parseStatPgrp("garbage"); err == nil {
		t.Fatal("no error for a stat line without ')'")
	}
}

func TestGroupMemOfThisProcess(t *testing.T) {
	// The test binary is in some process group; its memory must be found.
	pg, _, err := parseStatPgrp(mustRead(t, "/proc/self/stat"))
	if err != nil {
		t.Fatal(err)
	}
	m := groupMem(pg)
	if m.Procs < 1 || m.RSS <= 0 {
		t.Fatalf("groupMem(%d) = %+v, want at least this process", pg, m)
	}
	// A Go process has a heap: some anonymous memory, never more than RSS.
	if m.Anon <= 0 || m.Anon > m.RSS {
		t.Fatalf("groupMem(%d) = %+v, want 0 < Anon <= RSS", pg, m)
	}
}

func TestParseSmapsRollup(t *testing.T) {
	// gotwistd's, read after start (Linux 6.18).
	const real = `00400000-7ffef1b6c000 ---p 00000000 00:00 0                          [rollup]
Rss:               10424 kB
Pss:               10418 kB
Pss_Dirty:         10416 kB
Pss_Anon:           1320 kB
Pss_File:           9098 kB
Pss_Shmem:             0 kB
Shared_Clean:          8 kB
Private_Clean:         0 kB
Private_Dirty:     10416 kB
Referenced:        10424 kB
Anonymous:          1324 kB
AnonHugePages:         0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
`
	for _, tc := range []struct {
		name      string
		in        string
		pss, anon int64
	}{
		{"real", real, 10418 << 10, 1324 << 10},
		{"empty", "", 0, 0},
		{"no anonymous line (an old kernel)", "Rss: 8 kB\nPss: 4 kB\n", 4 << 10, 0},
		{"unreadable number", "Pss: x kB\nAnonymous: 12 kB\n", 0, 12 << 10},
		{"AnonHugePages is not Anonymous", "AnonHugePages: 2048 kB\n", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pss, anon := parseSmapsRollup(tc.in)
			if pss != tc.pss || anon != tc.anon {
				t.Errorf("parseSmapsRollup = %d, %d; want %d, %d", pss, anon, tc.pss, tc.anon)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"one", []float64{7}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Fatalf("median(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	if !math.IsNaN(median(nil)) {
		t.Fatal("median of nothing is not NaN")
	}
}

func TestThroughputStatSkipsBadRuns(t *testing.T) {
	runs := []loadResult{
		{Requests: 1000, Seconds: 1},
		{Requests: 3000, Seconds: 1},
		{Requests: 1000, Seconds: 1, Errors: 500}, // 50% errors: not counted
		{Requests: 2000, Seconds: 1, Non2xx: 1},   // 0.05%: counted
	}
	st := throughputStat(runs)
	if !st.ok || st.n != 3 || st.badRuns != 1 || st.med != 2000 || st.lo != 1000 || st.hi != 3000 {
		t.Fatalf("got %+v", st)
	}
}

func TestBestPeerIgnoresGotwistd(t *testing.T) {
	defs := []*serverDef{{name: "gotwistd"}, {name: "nginx", peer: true}, {name: "h2o", peer: true}}
	vals := map[string]float64{"gotwistd": 100, "nginx": 50, "h2o": 70}
	get := func(n string) (float64, bool) { v, ok := vals[n]; return v, ok }
	if v, who, ok := bestPeer(defs, get, false); !ok || who != "h2o" || v != 70 {
		t.Fatalf("highest: got %v %q %v", v, who, ok)
	}
	if v, who, ok := bestPeer(defs, get, true); !ok || who != "nginx" || v != 50 {
		t.Fatalf("lowest: got %v %q %v", v, who, ok)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(*config) bool
		wantErr string
	}{
		{"defaults", nil, func(c *config) bool {
			return c.rounds == 5 && c.duration == 5*time.Second && c.out == "bench/results" && c.want(caseH2) && c.wantServer("nginx")
		}, ""},
		{"quick", []string{"--quick"}, func(c *config) bool {
			return c.rounds == 1 && c.duration == time.Second && c.out == "bench/results-quick" && c.activationRuns == 3
		}, ""},
		{"quick keeps explicit rounds", []string{"--quick", "--rounds", "2"}, func(c *config) bool { return c.rounds == 2 }, ""},
		{"only", []string{"--only", "small,100k"}, func(c *config) bool {
			return c.want(caseSmall) && c.want(case100k) && !c.want(caseH2) && !c.want(caseLogs)
		}, ""},
		{"bare seconds", []string{"--duration", "3"}, func(c *config) bool { return c.duration == 3*time.Second }, ""},
		{"servers", []string{"--servers", "nginx"}, func(c *config) bool { return c.wantServer("nginx") && !c.wantServer("h2o") }, ""},
		{"unknown case", []string{"--only", "tiny"}, nil, `unknown case "tiny"`},
		{"unknown server", []string{"--servers", "apache"}, nil, `unknown server "apache"`},
		{"bad duration", []string{"--duration", "soon"}, nil, `--duration "soon"`},
		{"stray argument", []string{"small"}, nil, `unexpected argument "small"`},
		{"zero rounds", []string{"--rounds", "0"}, nil, "at least 1"},
		{"new cases by name", []string{"--only", "h3,h3-100k,br,br-js"}, func(c *config) bool {
			return c.want(caseH3) && c.want(caseH3100k) && c.want(caseBr) && c.want(caseBrJS) && !c.want(caseSmall)
		}, ""},
		{"baseline and engines", []string{"--baseline", "4b2cce7", "--baseline-bin", "/x/gotwistd", "--engines"}, func(c *config) bool {
			return c.baselineRev == "4b2cce7" && c.baselineBin == "/x/gotwistd" && c.engines
		}, ""},
		{"baseline bin without its revision", []string{"--baseline-bin", "/x/gotwistd"}, nil, "--baseline-bin needs --baseline REV"},
		{"baseline with a space", []string{"--baseline", "4b2c 7"}, nil, `--baseline "4b2c 7": want a git revision`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, io.Discard)
			if checkErr(t, err, tt.wantErr) {
				return
			}
			if !tt.check(c) {
				t.Fatalf("config not as expected: %+v", c)
			}
		})
	}
}

func TestSmallPageIs160Bytes(t *testing.T) {
	if n := len(smallPage()); n != smallSize || smallSize != 160 {
		t.Fatalf("small page is %d bytes, want 160", n)
	}
}

// TestHolderKeepsConnectionsOpen holds real connections to a real server and
// checks that they are all counted, stay open, and close on release.
func TestHolderKeepsConnectionsOpen(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 160))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	h := &holder{}
	res := h.hold(context.Background(), addr, "small.html", 50, 8, 30*time.Second)
	if res.Opened != 50 || res.Failed != 0 || res.First != nil {
		t.Fatalf("hold = %+v, want 50 opened", res)
	}
	if open := h.stillOpen(); open != 50 {
		t.Fatalf("stillOpen = %d, want 50", open)
	}
	srv.CloseClientConnections()
	deadline := time.Now().Add(10 * time.Second)
	for h.stillOpen() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stillOpen = %d after the server closed every connection, want 0", h.stillOpen())
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.release()
}

func TestHolderReportsRefusal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h := &holder{}
	res := h.hold(context.Background(), addr, "small.html", 5, 2, 10*time.Second)
	if res.Opened != 0 || res.Failed != 5 || res.First == nil {
		t.Fatalf("hold on a closed port = %+v, want 5 failures with an error", res)
	}
}

func TestChartScriptQuotesAndCovers(t *testing.T) {
	b := &bench{cfg: &config{rounds: 3}, env: &benchEnv{}}
	defs := []*serverDef{{name: "gotwistd"}, {name: "nginx", peer: true}}
	p := &passResult{cases: []string{caseSmall}, load: map[string]map[string][]loadResult{
		caseSmall: {"gotwistd": {{Requests: 100, Seconds: 1}}, "nginx": {{Requests: 200, Seconds: 1}}},
	}, errs: map[string]map[string]string{caseSmall: {}}}
	b.res = &results{cfg: b.cfg, defs: defs, passes: [2]*passResult{p, nil}, skipped: map[string]string{}}
	dir := t.TempDir()
	s := b.chartScript(dir, filepath.Join(dir, `a "b".png`))
	for _, want := range []string{`set output "`, `a \"b\".png"`, `("gotwistd" 0, "nginx" 1)`, "boxxyerror"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	data := mustRead(t, filepath.Join(dir, "panel0.dat"))
	if !strings.Contains(data, `0 100 14034728 "100"`) || !strings.Contains(data, `1 200 `) {
		t.Errorf("panel data:\n%s", data)
	}
}

func TestParseProcStatBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 2 30 5000 7 1 4 6 0 0\ncpu0 50 1 15 2500 3 0 2 3 0 0\n"
	got, err := parseProcStatBusy(stat)
	if err != nil || got != 100+2+30+1+4+6 {
		t.Fatalf("got %d, %v; want 143 (idle and iowait left out)", got, err)
	}
	if _, err := parseProcStatBusy("intr 1 2 3\n"); err == nil {
		t.Fatal("no error without a cpu line")
	}
}

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 7 and 5.
	stat := "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 100 1000 50"
	if got := parseStatCPU(stat); got != 12 {
		t.Fatalf("got %d, want 12", got)
	}
}

func TestPassOrder(t *testing.T) {
	off, on := []int{passLogsOff, passLogsOn}, []int{passLogsOn, passLogsOff}
	tests := []struct {
		name                  string
		round, server, passes int
		want                  []int
	}{
		{"logs off only", 0, 0, 1, []int{passLogsOff}},
		{"logs off only, later round", 3, 2, 1, []int{passLogsOff}},
		{"first server, first round", 0, 0, 2, off},
		{"first server, second round", 1, 0, 2, on},
		{"first server, third round", 2, 0, 2, off},
		{"second server, first round", 0, 1, 2, on},
		{"second server, second round", 1, 1, 2, off},
		{"third server, first round", 0, 2, 2, off},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := passOrder(tt.round, tt.server, tt.passes); !slices.Equal(got, tt.want) {
				t.Errorf("passOrder(%d, %d, %d) = %v, want %v", tt.round, tt.server, tt.passes, got, tt.want)
			}
		})
	}
}

// Over an even number of rounds, each server runs logs off first exactly as
// often as logs on first.
func TestPassOrderBalances(t *testing.T) {
	for server := 0; server < 6; server++ {
		first := map[int]int{}
		for round := 0; round < 4; round++ {
			first[passOrder(round, server, 2)[0]]++
		}
		if first[passLogsOff] != 2 || first[passLogsOn] != 2 {
			t.Errorf("server %d: first pass counts %v over 4 rounds, want 2 each", server, first)
		}
	}
}

func TestInstanceDirsDiffer(t *testing.T) {
	for _, name := range serverNames() {
		if off, on := instanceDir(name, false), instanceDir(name, true); off == on {
			t.Errorf("%s: logs-off and logs-on instances share the directory %q", name, off)
		}
	}
}

// TestYardsticksAnswerOnInheritedSocket builds the yardstick programs and
// starts each as systemd-socket-activate would, with a listening socket as
// fd 3: each must answer GET /small.html with the file, and say in one line
// what is wrong when started without the socket or the file.
func TestYardsticksAnswerOnInheritedSocket(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the yardsticks with")
	}
	bin := t.TempDir()
	build := exec.Command(goBin, "build", "-o", bin+"/", "./yardstick/...")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./yardstick/...: %v\n%s", err, out)
	}
	www := t.TempDir()
	page, file := smallPage(), filepath.Join(www, smallName)
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range yardstickNames {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			f, err := ln.(*net.TCPListener).File()
			ln.Close() // the child holds its own copy
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(filepath.Join(bin, name), file)
			cmd.ExtraFiles = []*os.File{f} // fd 3
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get("http://" + ln.Addr().String() + "/" + smallName)
			if err != nil {
				t.Fatalf("GET: %v (stderr: %s)", err, stderr.String())
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != string(page) {
				t.Errorf("got %s with %d bytes, want 200 with the %d-byte page", resp.Status, len(body), len(page))
			}
		})
		t.Run(name+" without a socket", func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, name), file)
			cmd.ExtraFiles = []*os.File{os.Stdin} // fd 3 is no socket
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v, want status 2; output %q", err, out)
			}
			if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "fd 3") {
				t.Errorf("output %q: want one line naming fd 3", out)
			}
		})
	}
}

func TestParseH3load(t *testing.T) {
	// The last line of bench/h3load's output, as its TestFormatResult pins it.
	out := `h3load: 50 connections x 10 streams for 5s: https://127.0.0.1:1/small.html
finished in 2.00s, 9599.50 req/s, 4204581 body bytes
H3LOAD requests=19199 duration_us=2000000 bytes=4204581 errors=3 non2xx=1 p50_us=1341 p99_us=6305 cpu_us=1530409
`
	tests := []parseCase{
		{name: "summary line", out: out, want: loadResult{Requests: 19199, Seconds: 2, Bytes: 4204581, Errors: 3, Non2xx: 1,
			P50: 1341 * time.Microsecond, P99: 6305 * time.Microsecond}},
		{name: "no summary", out: "h3load: error: URL \"x\": want https://HOST:PORT/PATH\n", wantErr: "no summary from h3load: h3load: error"},
		{name: "field missing", out: "H3LOAD requests=1 duration_us=1 bytes=0\n", wantErr: "h3load summary lacks errors"},
		{name: "bad number", out: "H3LOAD requests=1.5\n", wantErr: `bad h3load summary field "requests=1.5"`},
	}
	testParse(t, parseH3load, tests)
}

func TestClientShare(t *testing.T) {
	tests := []struct {
		name      string
		cpu, wall time.Duration
		ncpu      int
		want      float64
	}{
		{"one core of two", time.Second, time.Second, 2, 0.5},
		{"both cores", 4 * time.Second, 2 * time.Second, 2, 1},
		{"unknown cpu", 0, time.Second, 2, 0},
		{"no wall time", time.Second, 0, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientShare(tt.cpu, tt.wall, tt.ncpu); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompareColumns(t *testing.T) {
	p := newPassResult(false, []string{caseSmall, case100k, caseH2, caseTLS})
	p.load[caseSmall]["gotwistd"] = []loadResult{{Requests: 110, Seconds: 1}, {Requests: 120, Seconds: 1}, {Requests: 130, Seconds: 1}}
	p.load[caseSmall]["gotwistd@old"] = []loadResult{{Requests: 100, Seconds: 1}, {Requests: 100, Seconds: 1}, {Requests: 90, Seconds: 1}}
	p.load[case100k]["gotwistd"] = []loadResult{{Requests: 45, Seconds: 1}}
	p.load[case100k]["gotwistd@old"] = []loadResult{{Requests: 50, Seconds: 1}}
	p.load[caseH2]["gotwistd"] = []loadResult{{Requests: 10, Seconds: 1}}   // no baseline result
	p.load[caseTLS]["gotwistd"] = []loadResult{{Requests: 100, Seconds: 1}} // baseline's run all errors
	p.load[caseTLS]["gotwistd@old"] = []loadResult{{Requests: 100, Seconds: 1, Errors: 50}}
	rows := compareColumns(p, p.cases, "gotwistd", "gotwistd@old")
	want := []struct {
		c      string
		ratio  float64
		usable bool
	}{{caseSmall, 1.2, true}, {case100k, 0.9, true}, {caseH2, math.NaN(), false}, {caseTLS, math.NaN(), false}}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		if r.c != w.c || r.usable != w.usable || (w.usable && math.Abs(r.ratio-w.ratio) > 1e-9) || (!w.usable && !math.IsNaN(r.ratio)) {
			t.Errorf("row %d: got %s %v usable=%v, want %s %v usable=%v", i, r.c, r.ratio, r.usable, w.c, w.ratio, w.usable)
		}
	}
	if worst, c, ok := worstRatio(rows); !ok || c != case100k || math.Abs(worst-0.9) > 1e-9 {
		t.Fatalf("worst: %v %s %v, want 0.9 %s", worst, c, ok, case100k)
	}
	if _, _, ok := worstRatio(rows[2:]); ok {
		t.Fatal("worst of rows without a ratio reported one")
	}
}

func TestExtraDefsAndApplies(t *testing.T) {
	cfg := &config{gotwistd: "/nonexistent/gotwistd", baselineRev: "4b2cce7", engines: true}
	ds := extraDefs(cfg)
	names := map[string]*serverDef{}
	for _, d := range ds {
		if !d.extra || d.peer {
			t.Errorf("%s: extra=%v peer=%v, want an extra column that is no peer", d.name, d.extra, d.peer)
		}
		names[d.name] = d
	}
	base, h1, h2 := names["gotwistd@4b2cce7"], names["gotwistd h1=net/http"], names["gotwistd h2=net/http"]
	if base == nil || h1 == nil || h2 == nil || len(ds) != 3 {
		t.Fatalf("got %v", names)
	}
	if base.bin != "" {
		t.Errorf("baseline without --baseline-bin has bin %q", base.bin)
	}
	if strings.Join(h1.args, " ") != "--http1-engine=net/http" || strings.Join(h2.args, " ") != "--http2-engine=net/http" {
		t.Errorf("engine args: %v, %v", h1.args, h2.args)
	}
	for _, tt := range []struct {
		d    *serverDef
		c    string
		want bool
	}{
		{base, caseSmall, true}, {base, caseH3, true}, {base, caseH2, true},
		{h1, caseSmall, true}, {h1, caseClose, true}, {h1, caseTLS, true}, {h1, caseBrJS, true}, {h1, caseH2, false}, {h1, caseH3, false},
		{h2, caseH2, true}, {h2, caseTLS, true}, {h2, caseSmall, false}, {h2, caseH3100k, false},
	} {
		if got := tt.d.applies(tt.c); got != tt.want {
			t.Errorf("%s applies to %s: %v, want %v", tt.d.name, tt.c, got, tt.want)
		}
	}
	for _, d := range serverDefs("") {
		if got, want := d.applies(caseH3), d.name == "gotwistd" || d.name == "caddy"; got != want {
			t.Errorf("%s applies to h3: %v, want %v", d.name, got, want)
		}
		if !d.applies(caseBr) {
			t.Errorf("%s: not run in the br case", d.name)
		}
	}
	if ds := extraDefs(&config{}); len(ds) != 0 {
		t.Fatalf("no flags: %d extra columns", len(ds))
	}
}

func TestInstanceDirOfBaseline(t *testing.T) {
	for _, name := range []string{"gotwistd@origin/main", "gotwistd h1=net/http"} {
		if d := instanceDir(name, false); strings.Contains(d, "/") {
			t.Errorf("%s: directory %q has a slash", name, d)
		}
	}
}

func TestLoadArgsOfNewCases(t *testing.T) {
	b := &bench{cfg: &config{conns: 50, threads: 2, h2Streams: 10, h3load: "/w/h3load"}, env: &benchEnv{wrkLua: "/w/s.lua"}}
	got := strings.Join(b.wrkArgs(caseBrJS, 8080, 5*time.Second), " ")
	if want := "wrk -t 2 -c 50 -d 5s --timeout 10s -s /w/s.lua -H Accept-Encoding: br, gzip http://127.0.0.1:8080/app.js"; got != want {
		t.Errorf("br-js: %s\nwant %s", got, want)
	}
	got = strings.Join(b.h3loadArgs(caseH3100k, 8443, 5*time.Second), " ")
	if want := "/w/h3load -c 50 -m 10 -d 5s https://127.0.0.1:8443/100k.bin"; got != want {
		t.Errorf("h3-100k: %s\nwant %s", got, want)
	}
	got = strings.Join(b.wrkArgs(caseTLS10m, 8443, 5*time.Second), " ")
	if want := "wrk -t 2 -c 50 -d 5s --timeout 10s -s /w/s.lua https://127.0.0.1:8443/10m.bin"; got != want {
		t.Errorf("tls-10m: %s\nwant %s", got, want)
	}
	got = strings.Join(b.h2loadArgs(caseH2100k, 8443, 5*time.Second), " ")
	if want := "h2load -c 50 -m 10 -t 2 -D 5 https://127.0.0.1:8443/100k.bin"; got != want {
		t.Errorf("h2-100k: %s\nwant %s", got, want)
	}
	if v := caseValue(caseTLS10m, 100); fmtCase(caseTLS10m, v) != "1.05" {
		t.Errorf("tls-10m at 100 req/s shows %s GB/s, want 1.05", fmtCase(caseTLS10m, v))
	}
	for _, c := range throughputCases {
		if casePath[c] == "" || caseTitle[c] == "" || caseColumn[c] == "" {
			t.Errorf("case %s lacks a path, title or column", c)
		}
	}
}

func TestJSAsset(t *testing.T) {
	js := jsAsset()
	if len(js) != jsSize {
		t.Fatalf("%d bytes, want %d", len(js), jsSize)
	}
	if string(jsAsset()) != string(js) {
		t.Fatal("two calls gave different bytes: runs would not serve the same file")
	}
	var z strings.Builder
	gz := gzip.NewWriter(&z)
	gz.Write(js)
	gz.Close()
	// An application's bundle gzips to roughly a fifth to a third; random
	// bytes would not shrink, a repeated line would shrink to nothing.
	if r := float64(z.Len()) / float64(len(js)); r < 0.1 || r > 0.4 {
		t.Fatalf("gzip ratio %.2f, want 0.1-0.4", r)
	}
}

func TestWriteExtras(t *testing.T) {
	p := newPassResult(false, []string{caseSmall, caseH2})
	p.load[caseSmall]["gotwistd"] = []loadResult{{Requests: 110, Seconds: 1}}
	p.load[caseSmall]["gotwistd@abc"] = []loadResult{{Requests: 100, Seconds: 1}}
	p.load[caseSmall]["gotwistd h1=net/http"] = []loadResult{{Requests: 55, Seconds: 1}}
	p.load[caseH2]["gotwistd"] = []loadResult{{Requests: 200, Seconds: 1}}
	p.load[caseH2]["gotwistd@abc"] = []loadResult{{Requests: 250, Seconds: 1}}
	cfg := &config{gotwistd: "/x", baselineRev: "abc", engines: true}
	defs := append([]*serverDef{{name: "gotwistd"}}, extraDefs(cfg)...)
	b := &bench{res: &results{defs: defs, skipped: map[string]string{}, passes: [2]*passResult{p}}}
	var out strings.Builder
	b.writeExtras(func(f string, a ...any) { out.WriteString(fmt.Sprintf(f, a...) + "\n") })
	text := out.String()
	for _, want := range []string{
		"## gotwistd against gotwistd@abc (before → after, same rounds)",
		"| small req/s | 100 | 110 | 1.10× |",
		"| HTTPS h2 req/s | 250 | 200 | 0.80× |",
		"Lowest after ÷ before: 0.80× (HTTPS h2 req/s).",
		"## gotwistd with h1=net/http against its own engine",
		"| small req/s | 110 | 55 | 0.50× |",
		"## gotwistd with h2=net/http against its own engine",
		"| HTTPS h2 req/s | 200 | n/a | n/a |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	for _, sec := range strings.Split(text, "## ")[1:] {
		if strings.HasPrefix(sec, "gotwistd with h1=") && strings.Contains(sec, "HTTPS h2") {
			t.Errorf("the HTTP/1.1 engine's table has the HTTP/2 case:\n%s", sec)
		}
		if strings.HasPrefix(sec, "gotwistd with h2=") && strings.Contains(sec, "small req/s") {
			t.Errorf("the HTTP/2 engine's table has the small-page case:\n%s", sec)
		}
	}
}

func TestProbeEncoding(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Encoding")
		if r.Header.Get("Accept-Encoding") == acceptEncoding && r.URL.Path == "/"+jsName {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(make([]byte, 1234))
			return
		}
		w.Write(make([]byte, 160))
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	r := &running{http: port}
	if got := probeEncoding(context.Background(), r, caseBrJS); got.Encoding != "gzip" || got.Body != 1234 || got.Vary != "Accept-Encoding" || got.String() != "gzip, 1,234 B" {
		t.Errorf("br-js: %+v (%s)", got, got)
	}
	if got := probeEncoding(context.Background(), r, caseBr); got.Encoding != "" || got.Body != 160 || got.String() != "identity, 160 B" {
		t.Errorf("br: %+v (%s)", got, got)
	}
	srv.Close()
	if got := probeEncoding(context.Background(), r, caseBr); got.Err == "" || !strings.HasPrefix(got.String(), "error: ") {
		t.Errorf("closed server: %+v", got)
	}
}

// FuzzParseH3load feeds h3load summaries, well-formed and not: parsing never
// panics, and what it accepts it reads back the same from a line written
// from the result.
func FuzzParseH3load(f *testing.F) {
	f.Add("H3LOAD requests=19199 duration_us=2000000 bytes=4204581 errors=3 non2xx=1 p50_us=1341 p99_us=6305 cpu_us=1530409\n")
	f.Add("h3load: error: x\n")
	f.Add("H3LOAD requests=1 requests=2 duration_us=0 bytes=0 errors=0 non2xx=0 p50_us=0 p99_us=0\nH3LOAD x")
	f.Add("H3LOAD requests=-5 duration_us=9223372036854775807 bytes=0 errors=0 non2xx=0 p50_us=0 p99_us=0")
	f.Fuzz(func(t *testing.T, out string) {
		r, err := parseH3load(out)
		if err != nil {
			return
		}
		line := fmt.Sprintf("H3LOAD requests=%d duration_us=%d bytes=%d errors=%d non2xx=%d p50_us=%d p99_us=%d",
			r.Requests, int64(math.Round(r.Seconds*1e6)), r.Bytes, r.Errors, r.Non2xx, r.P50.Microseconds(), r.P99.Microseconds())
		r2, err := parseH3load(line)
		if err != nil {
			t.Fatalf("%q parsed, but its own rendering %q did not: %v", out, line, err)
		}
		if r2.Requests != r.Requests || r2.Bytes != r.Bytes || r2.Errors != r.Errors || r2.Non2xx != r.Non2xx ||
			r2.P50 != r.P50 || r2.P99 != r.P99 {
			t.Fatalf("%q: %+v, read back as %+v", out, r, r2)
		}
	})
}

func TestGoalsOfNewColumns(t *testing.T) {
	p := newPassResult(false, []string{caseSmall, caseH3})
	p.load[caseSmall]["gotwistd"] = []loadResult{{Requests: 96, Seconds: 1}}
	p.load[caseSmall]["gotwistd@abc"] = []loadResult{{Requests: 100, Seconds: 1}}
	p.load[caseSmall]["nginx"] = []loadResult{{Requests: 90, Seconds: 1}}
	p.load[caseH3]["gotwistd"] = []loadResult{{Requests: 40, Seconds: 1}}
	p.load[caseH3]["gotwistd@abc"] = []loadResult{{Requests: 50, Seconds: 1}}
	p.load[caseH3]["caddy"] = []loadResult{{Requests: 50, Seconds: 1}}
	defs := append([]*serverDef{{name: "gotwistd", h3: true}, {name: "nginx", peer: true}, {name: "caddy", peer: true, h3: true}},
		extraDefs(&config{gotwistd: "/x", baselineRev: "abc", engines: true})...)
	b := &bench{res: &results{defs: defs, skipped: map[string]string{}, passes: [2]*passResult{p}, mem: map[string]*memResult{}}}
	var out strings.Builder
	b.writeGoals(func(f string, a ...any) { out.WriteString(fmt.Sprintf(f, a...) + "\n") })
	text := out.String()
	for _, want := range []string{
		"| HTTP/3 small page ≥ 1.0× caddy (issue 16) | 0.80× caddy | **not met** |",
		"| no column slower than gotwistd@abc (issues 18, 19; below 0.95× counts, one run's noise is about ±5%) | lowest after ÷ before 0.80× (HTTP/3 req/s) | **not met** |",
		"| small file ≥ 1.0× the fastest peer | 1.07× nginx | met |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "net/http") {
		t.Errorf("an engine column became a goal:\n%s", text)
	}
}

func TestChartEscapesExtraColumns(t *testing.T) {
	b := &bench{cfg: &config{rounds: 1}, env: &benchEnv{}}
	defs := append([]*serverDef{{name: "gotwistd", h3: true}, {name: "caddy", peer: true, h3: true}, {name: "nginx", peer: true}},
		extraDefs(&config{gotwistd: "/x", baselineRev: "abc", engines: true})...)
	p := newPassResult(false, []string{caseH3})
	p.load[caseH3]["gotwistd"] = []loadResult{{Requests: 100, Seconds: 1}}
	p.load[caseH3]["caddy"] = []loadResult{{Requests: 50, Seconds: 1}}
	p.load[caseH3]["gotwistd@abc"] = []loadResult{{Requests: 90, Seconds: 1}}
	b.res = &results{cfg: b.cfg, defs: defs, passes: [2]*passResult{p, nil}, skipped: map[string]string{}}
	dir := t.TempDir()
	s := b.chartScript(dir, filepath.Join(dir, "c.png"))
	// Only the servers with HTTP/3 are rows; "@" is escaped for enhanced text.
	if want := `("gotwistd" 0, "caddy" 1, "gotwistd\\@abc" 2)`; !strings.Contains(s, want) {
		t.Errorf("script lacks %s:\n%s", want, s)
	}
	data := mustRead(t, filepath.Join(dir, "panel0.dat"))
	if !strings.Contains(data, "2 90 16033446 ") { // 0xf4a6a6: the lighter red of an extra column
		t.Errorf("panel data:\n%s", data)
	}
}

func TestGoalsOfHTTPSLargeBodies(t *testing.T) {
	p := newPassResult(false, []string{caseTLS10m, caseH2100k})
	// caddy is fastest in tls-10m, but issue 16's goal is to the best of
	// h2o, lighttpd and nginx only.
	p.load[caseTLS10m]["gotwistd"] = []loadResult{{Requests: 110, Seconds: 1}}
	p.load[caseTLS10m]["nginx"] = []loadResult{{Requests: 100, Seconds: 1}}
	p.load[caseTLS10m]["h2o"] = []loadResult{{Requests: 80, Seconds: 1}}
	p.load[caseTLS10m]["caddy"] = []loadResult{{Requests: 200, Seconds: 1}}
	p.load[caseH2100k]["gotwistd"] = []loadResult{{Requests: 90, Seconds: 1}}
	p.load[caseH2100k]["h2o"] = []loadResult{{Requests: 100, Seconds: 1}}
	p.load[caseH2100k]["lighttpd"] = []loadResult{{Requests: 95, Seconds: 1}}
	defs := []*serverDef{{name: "gotwistd"}, {name: "h2o", peer: true}, {name: "lighttpd", peer: true},
		{name: "nginx", peer: true}, {name: "caddy", peer: true}}
	b := &bench{res: &results{defs: defs, skipped: map[string]string{}, passes: [2]*passResult{p}, mem: map[string]*memResult{}}}
	var out strings.Builder
	b.writeGoals(func(f string, a ...any) { out.WriteString(fmt.Sprintf(f, a...) + "\n") })
	text := out.String()
	for _, want := range []string{
		"| HTTPS HTTP/1.1 10 MB ≥ 1.0× the best of h2o, lighttpd, nginx (issue 16) | 1.10× nginx | met |",
		"| HTTPS HTTP/2 100 KB ≥ 1.0× the best of h2o, lighttpd, nginx (issue 16) | 0.90× h2o | **not met** |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}

func TestInterleave(t *testing.T) {
	for _, tc := range []struct {
		name       string
		failed     map[string]string // before the rounds
		failAt     map[string]int    // server -> run whose measure fails
		cancelAt   int               // cancel the context in this call (1-based; 0: never)
		wantCalls  string
		wantFailed string
		wantErr    bool
	}{
		{name: "every server every run", failed: map[string]string{},
			wantCalls: "0a 0b 0c 1a 1b 1c 2a 2b 2c"},
		{name: "a failed server is left out after", failed: map[string]string{}, failAt: map[string]int{"b": 1},
			wantCalls: "0a 0b 0c 1a 1b 1c 2a 2c", wantFailed: "b: b failed in run 1"},
		{name: "one left out from the start", failed: map[string]string{"a": "did not start"},
			wantCalls: "0b 0c 1b 1c 2b 2c", wantFailed: "a: did not start"},
		{name: "cancelled", failed: map[string]string{}, cancelAt: 4,
			wantCalls: "0a 0b 0c 1a", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			b := &bench{out: &out}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			names := []string{"a", "b", "c"}
			var calls []string
			err := b.interleave(ctx, 3, names, tc.failed, func(run, i int) (string, error) {
				calls = append(calls, fmt.Sprintf("%d%s", run, names[i]))
				if len(calls) == tc.cancelAt {
					cancel()
				}
				if r, ok := tc.failAt[names[i]]; ok && r == run {
					return "", fmt.Errorf("%s failed in run %d", names[i], run)
				}
				return "ok", nil
			})
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want one: %v", err, tc.wantErr)
			}
			if got := strings.Join(calls, " "); got != tc.wantCalls {
				t.Errorf("calls %s, want %s", got, tc.wantCalls)
			}
			var failed []string
			for _, n := range names {
				if why, ok := tc.failed[n]; ok {
					failed = append(failed, n+": "+why)
				}
			}
			if got := strings.Join(failed, "; "); got != tc.wantFailed {
				t.Errorf("failed %q, want %q", got, tc.wantFailed)
			}
			if !tc.wantErr && !strings.Contains(out.String(), "  run  1 a         ok\n") && tc.failed["a"] == "" {
				t.Errorf("no progress line for a's first run in:\n%s", out.String())
			}
		})
	}
}

func TestWriteMemoryTable(t *testing.T) {
	// Each server's row has its idle anonymous memory beside RSS and PSS,
	// in the column the header names; a server without a reading says why.
	b := &bench{res: &results{
		cfg:     &config{holdConns: 100},
		defs:    []*serverDef{{name: "gotwistd"}, {name: "nginx", peer: true}, {name: "h2o", peer: true}},
		skipped: map[string]string{},
		mem: map[string]*memResult{
			"gotwistd": {Idle: memUsage{RSS: 10e6, PSS: 9e6, Anon: 1.5e6, Procs: 1},
				Held: memUsage{RSS: 20e6, PSS: 19e6, Anon: 11e6, Procs: 1}, Hold: holdResult{Opened: 100}, StillOpn: 100},
			"nginx": {Idle: memUsage{RSS: 16e6, PSS: 8e6, Anon: 4e6, Procs: 3}},
			"h2o":   {Err: "did not start"},
		},
	}}
	var lines []string
	b.writeMemory(func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) })
	cells := func(prefix string) []string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return strings.Split(strings.Trim(l, "|"), "|")
			}
		}
		t.Fatalf("no line starting %q in:\n%s", prefix, strings.Join(lines, "\n"))
		return nil
	}
	head := cells("| server ")
	col := -1
	for i, c := range head {
		if strings.TrimSpace(c) == "idle anon" {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no idle anon column in %q", head)
	}
	for _, tc := range []struct{ server, want string }{
		{"gotwistd", fmtMB(1.5e6)},
		{"nginx", fmtMB(4e6)},
		{"h2o", ""},
	} {
		row := cells("| " + tc.server + " ")
		if len(row) != len(head) {
			t.Errorf("%s: %d cells, header has %d: %q", tc.server, len(row), len(head), row)
			continue
		}
		if got := strings.TrimSpace(row[col]); got != tc.want {
			t.Errorf("%s: idle anon %q, want %q", tc.server, got, tc.want)
		}
	}
}

func TestDocrootSettled(t *testing.T) {
	// Nothing is measured until the files are out of gotwistd's racy
	// window: settled returns no sooner than docrootSettle after they were
	// written, at once for older files, and with ctx's error if it ends.
	t.Run("fresh files: waits until they are old enough", func(t *testing.T) {
		e := &benchEnv{written: time.Now().Add(-docrootSettle + 100*time.Millisecond)}
		if err := e.settled(context.Background()); err != nil {
			t.Fatal(err)
		}
		if age := time.Since(e.written); age < docrootSettle {
			t.Errorf("returned when the files were %v old, want >= %v", age, docrootSettle)
		}
	})
	t.Run("old files: at once", func(t *testing.T) {
		e := &benchEnv{written: time.Now().Add(-time.Hour)}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // an old docroot needs no wait, not even a live context
		if err := e.settled(ctx); err != nil {
			t.Errorf("settled = %v, want nil", err)
		}
	})
	t.Run("context ends first", func(t *testing.T) {
		e := &benchEnv{written: time.Now()}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := e.settled(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("settled = %v, want context.Canceled", err)
		}
	})
}

// TestRatioInterval: the bootstrap interval of a ratio of medians holds
// the true ratio, excludes a ratio the samples rule out, and narrows as
// the samples grow.
func TestRatioInterval(t *testing.T) {
	// spread draws n values spread like starts under systemd: 5-50 ms
	// around a centre c.
	spread := func(n int, c float64, seed uint64) []float64 {
		rng := rand.New(rand.NewPCG(seed, 1))
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = c * (0.3 + 2.7*rng.Float64()*rng.Float64())
		}
		return xs
	}
	for _, tc := range []struct {
		name     string
		n        int
		factor   float64
		excludes float64
	}{
		{"same program", 400, 1.0, 1.2},
		{"20% slower", 1200, 1.2, 1.0},
		{"twice as slow", 150, 2.0, 1.0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			floor := spread(tc.n, 16, 1)
			a := spread(tc.n, 16*tc.factor, 2)
			lo, hi := ratioInterval(a, floor)
			if !(lo <= tc.factor && tc.factor <= hi) {
				t.Errorf("interval %.3f-%.3f misses the true ratio %.2f", lo, hi, tc.factor)
			}
			if lo <= tc.excludes && tc.excludes <= hi {
				t.Errorf("interval %.3f-%.3f holds %.2f, which %d runs rule out", lo, hi, tc.excludes, tc.n)
			}
		})
	}
	small, big := spread(40, 16, 3), spread(1200, 16, 4)
	slo, shi := ratioInterval(small, spread(40, 16, 5))
	blo, bhi := ratioInterval(big, spread(1200, 16, 6))
	if bhi-blo >= shi-slo {
		t.Errorf("1200 runs give an interval %.3f wide, 40 runs %.3f: it should narrow", bhi-blo, shi-slo)
	}
	if lo, hi := ratioInterval(nil, small); !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Errorf("no runs: got %v-%v, want NaN", lo, hi)
	}
}

// TestCostInterval: the access log's cost comes with the interval its
// rounds allow, in the change's terms (negative: slower), and with none
// when there are too few rounds to draw from.
func TestCostInterval(t *testing.T) {
	off := stat{ok: true, values: []float64{100, 104, 96, 102, 98}}
	on := stat{ok: true, values: []float64{90, 93, 87, 91, 89}}
	lo, hi, ok := costBounds(on, off)
	if !ok || lo > -0.10 || hi < -0.10 || hi >= 0 {
		t.Errorf("costBounds = %.3f, %.3f, %v; want an interval around -10%%, below 0", lo, hi, ok)
	}
	if got, want := costInterval(on, off), fmt.Sprintf(" (%+.1f … %+.1f%%)", lo*100, hi*100); got != want {
		t.Errorf("costInterval = %q, want %q", got, want)
	}
	if _, _, ok := costBounds(stat{ok: true, values: []float64{90, 91}}, off); ok {
		t.Error("costBounds with 2 runs: want not ok")
	}
	if got := costInterval(stat{ok: true, values: []float64{90}}, off); got != "" {
		t.Errorf("costInterval with 1 run = %q, want none", got)
	}
}
