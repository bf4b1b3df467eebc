package main

import (
	"context"
	"errors"
	"io"
	"math"
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
