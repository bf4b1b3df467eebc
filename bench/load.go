package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// loadResult is one wrk or h2load run.
type loadResult struct {
	Requests int64
	Seconds  float64
	Bytes    int64 // bytes read, headers included (wrk); 0 from h2load
	Errors   int64 // connect, read, write and timeout errors, failed and errored requests
	Non2xx   int64 // responses that were not 2xx/3xx
	P50, P99 time.Duration
	// Foreign is the share of all CPUs' time during the run used by other
	// processes than the server and the load generator (-1: unknown).
	Foreign float64
	// Client is the share of all CPUs' time the load generator itself used
	// (0: unknown).
	Client float64
	// Pinned is the share of the run's samples in which a thread of the
	// server was allowed on one CPU alone (-1: not sampled).
	Pinned float64
}

// rps is requests per second.
func (r loadResult) rps() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Seconds
}

// bad reports whether more than 1% of the requests failed, which makes the
// number worthless for comparison.
func (r loadResult) bad() bool {
	return r.Requests == 0 || float64(r.Errors+r.Non2xx) > 0.01*float64(r.Requests)
}

// wrkArgs is the wrk command line for a case.
func (b *bench) wrkArgs(c string, port int, d time.Duration) []string {
	args := []string{"wrk", "-t", strconv.Itoa(b.cfg.threads), "-c", strconv.Itoa(b.cfg.conns),
		"-d", durationArg(d), "--timeout", "10s", "-s", b.env.wrkLua}
	if c == caseClose {
		args = append(args, "-H", "Connection: close")
	}
	if isBr(c) {
		args = append(args, "-H", "Accept-Encoding: "+acceptEncoding)
	}
	scheme := "http"
	if isTLS1(c) {
		scheme = "https" // wrk offers no ALPN: HTTP/1.1 over TLS
	}
	return append(args, fmt.Sprintf("%s://127.0.0.1:%d/%s", scheme, port, casePath[c]))
}

// casePath is the file each throughput case fetches.
var casePath = map[string]string{caseSmall: smallName, case100k: file100k, case10m: file10m, caseClose: smallName,
	caseTLS: smallName, caseTLS10m: file10m, caseH2: smallName, caseH2100k: file100k, caseH3: smallName, caseH3100k: file100k, caseBr: smallName, caseBrJS: jsName}

// h3loadArgs is the h3load command line for the HTTP/3 cases: as many
// connections and streams per connection as h2load gets.
func (b *bench) h3loadArgs(c string, port int, d time.Duration) []string {
	return []string{b.cfg.h3load, "-c", strconv.Itoa(b.cfg.conns), "-m", strconv.Itoa(b.cfg.h2Streams),
		"-d", d.String(), fmt.Sprintf("https://127.0.0.1:%d/%s", port, casePath[c])}
}

// h2loadArgs is the h2load command line for the HTTPS + HTTP/2 cases.
func (b *bench) h2loadArgs(c string, port int, d time.Duration) []string {
	return []string{"h2load", "-c", strconv.Itoa(b.cfg.conns), "-m", strconv.Itoa(b.cfg.h2Streams),
		"-t", strconv.Itoa(b.cfg.threads), "-D", strconv.Itoa(int(d.Round(time.Second) / time.Second)),
		fmt.Sprintf("https://127.0.0.1:%d/%s", port, casePath[c])}
}

// durationArg renders d for wrk, which takes whole seconds (or ms with "ms"
// missing in old versions): sub-second durations are rounded up to 1s.
func durationArg(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s) + "s"
}

// runLoad runs the load generator for case c against r.
func (b *bench) runLoad(ctx context.Context, c string, r *running, d time.Duration) (loadResult, []string, error) {
	var argv []string
	if isH3(c) {
		if r.quic == 0 {
			return loadResult{}, nil, errors.New("no HTTP/3 listener")
		}
		if b.cfg.h3load == "" {
			return loadResult{}, nil, errors.New("no h3load (./bench/run builds bench/h3load)")
		}
		argv = b.h3loadArgs(c, r.quic, d)
	} else if isH2(c) {
		if r.https == 0 {
			return loadResult{}, nil, errors.New("no HTTPS listener")
		}
		if d < time.Second {
			d = time.Second
		}
		argv = b.h2loadArgs(c, r.https, d)
	} else if isTLS1(c) {
		if r.https == 0 {
			return loadResult{}, nil, errors.New("no HTTPS listener")
		}
		argv = b.wrkArgs(c, r.https, d)
	} else {
		argv = b.wrkArgs(c, r.http, d)
	}
	cctx, cancel := context.WithTimeout(ctx, d+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	watch := startCPUWatch(r.proc.pgid, runtime.NumCPU())
	pins := startPinWatch(r.proc.pgid, runtime.NumCPU())
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	pinned := pins.share()
	var loadgenCPU time.Duration
	if cmd.ProcessState != nil {
		loadgenCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	foreign := watch.foreign(loadgenCPU)
	b.loadSeq++
	_ = os.WriteFile(filepath.Join(r.dir, fmt.Sprintf("load-%03d-%s.txt", b.loadSeq, c)),
		[]byte(strings.Join(argv, " ")+"\n"+out.String()), 0o644)
	if ctx.Err() != nil {
		return loadResult{}, argv, ctx.Err()
	}
	var res loadResult
	var perr error
	if isH2(c) {
		res, perr = parseH2load(out.String())
	} else if isH3(c) {
		res, perr = parseH3load(out.String())
	} else {
		res, perr = parseWrk(out.String())
	}
	if perr != nil {
		if err != nil {
			perr = fmt.Errorf("%v: %w", err, perr)
		}
		return loadResult{}, argv, perr
	}
	res.Foreign = foreign
	res.Pinned = pinned
	res.Client = clientShare(loadgenCPU, wall, runtime.NumCPU())
	return res, argv, nil
}

// clientShare is the load generator's CPU time as a share of all CPUs'
// time over the run; 0 when unknown.
func clientShare(cpu, wall time.Duration, ncpu int) float64 {
	if wall <= 0 || ncpu <= 0 || cpu <= 0 {
		return 0
	}
	return cpu.Seconds() / (wall.Seconds() * float64(ncpu))
}

// parseH3load reads the H3LOAD line bench/h3load prints last.
func parseH3load(out string) (loadResult, error) {
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "H3LOAD ") {
			line = l
		}
	}
	if line == "" {
		return loadResult{}, fmt.Errorf("no summary from h3load: %s", lastLine(out))
	}
	kv, err := parseKV(strings.Fields(line)[1:], "h3load")
	if err != nil {
		return loadResult{}, err
	}
	for _, k := range []string{"requests", "duration_us", "bytes", "errors", "non2xx", "p50_us", "p99_us"} {
		if _, ok := kv[k]; !ok {
			return loadResult{}, fmt.Errorf("h3load summary lacks %s", k)
		}
	}
	return loadResult{
		Requests: kv["requests"],
		Seconds:  float64(kv["duration_us"]) / 1e6,
		Bytes:    kv["bytes"],
		Errors:   kv["errors"],
		Non2xx:   kv["non2xx"],
		P50:      time.Duration(kv["p50_us"]) * time.Microsecond,
		P99:      time.Duration(kv["p99_us"]) * time.Microsecond,
	}, nil
}

// parseKV reads key=value fields with integer values.
func parseKV(fields []string, tool string) (map[string]int64, error) {
	kv := map[string]int64{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad %s summary field %q", tool, f)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad %s summary field %q: %w", tool, f, err)
		}
		kv[k] = n
	}
	return kv, nil
}

// parseWrk reads the BENCH line printed by wrkSummaryLua.
func parseWrk(out string) (loadResult, error) {
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "BENCH ") {
			line = l
		}
	}
	if line == "" {
		return loadResult{}, fmt.Errorf("no summary from wrk: %s", lastLine(out))
	}
	kv, err := parseKV(strings.Fields(line)[1:], "wrk")
	if err != nil {
		return loadResult{}, err
	}
	for _, k := range []string{"requests", "duration_us", "bytes", "connect", "read", "write", "status", "timeout"} {
		if _, ok := kv[k]; !ok {
			return loadResult{}, fmt.Errorf("wrk summary lacks %s", k)
		}
	}
	return loadResult{
		Requests: kv["requests"],
		Seconds:  float64(kv["duration_us"]) / 1e6,
		Bytes:    kv["bytes"],
		Errors:   kv["connect"] + kv["read"] + kv["write"] + kv["timeout"],
		Non2xx:   kv["status"],
		P50:      time.Duration(kv["p50_us"]) * time.Microsecond,
		P99:      time.Duration(kv["p99_us"]) * time.Microsecond,
	}, nil
}

var (
	h2Finished = regexp.MustCompile(`(?m)^finished in ([0-9.]+)(us|ms|s), ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`(?m)^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2Status   = regexp.MustCompile(`(?m)^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
	h2Proto    = regexp.MustCompile(`(?m)^Application protocol: (\S+)`)
)

// parseH2load reads h2load's summary. A server that did not negotiate h2 is
// an error: the case measures HTTP/2.
func parseH2load(out string) (loadResult, error) {
	if strings.Contains(out, "No protocol negotiated") {
		return loadResult{}, errors.New("no HTTP/2 (no ALPN protocol negotiated)")
	}
	if m := h2Proto.FindStringSubmatch(out); m != nil && m[1] != "h2" {
		return loadResult{}, fmt.Errorf("no HTTP/2 (ALPN chose %s)", m[1])
	}
	f := h2Finished.FindStringSubmatch(out)
	rq := h2Requests.FindStringSubmatch(out)
	if f == nil || rq == nil {
		return loadResult{}, fmt.Errorf("no summary from h2load: %s", lastLine(out))
	}
	secs, _ := strconv.ParseFloat(f[1], 64)
	switch f[2] {
	case "ms":
		secs /= 1e3
	case "us":
		secs /= 1e6
	}
	n := func(s string) int64 { v, _ := strconv.ParseInt(s, 10, 64); return v }
	res := loadResult{Requests: n(rq[4]), Seconds: secs, Errors: n(rq[5]) + n(rq[6]) + n(rq[7])}
	if st := h2Status.FindStringSubmatch(out); st != nil {
		res.Non2xx = n(st[3]) + n(st[4])
	}
	return res, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
