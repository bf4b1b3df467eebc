package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// bench is one run of the harness.
type bench struct {
	cfg   *config
	procs *procTable
	out   io.Writer
	env   *benchEnv

	wrk, h2load, socketActivate, gnuplot string // tool paths; empty when missing

	res     *results
	loadSeq int // numbers the saved load outputs

	tempDir atomic.Pointer[string] // for the signal handler's cleanup
}

// results is everything measured, for the report.
type results struct {
	started  time.Time
	finished time.Time
	loadAvg  [2]string // /proc/loadavg at start and at the end
	cfg      *config
	defs     []*serverDef        // the servers asked for, in display order
	skipped  map[string]string   // server -> why it was not run at all
	notes    map[string][]string // server -> remarks (e.g. no HTTPS)
	tools    map[string]string   // tool -> version line
	versions map[string]string   // server -> version line
	passes   [2]*passResult      // access logs off, on
	mem      map[string]*memResult
	startup  map[string][]startupResult
	startErr map[string]string
	activ    map[string][]activationResult
	activErr map[string]string
	cmds     map[string][]string                 // "startup"/"activation" -> example command lines
	probes   map[string]map[string]encodingProbe // br case -> server -> what it sent

	// The cold-activation case under a real systemd (see systemd.go).
	systemd        map[string][]systemdRun
	systemdFail    map[string]string // server -> why it has no (more) runs
	systemdErr     string            // why the case did not run at all
	systemdVersion string            // the box's `systemctl --version` first line
	systemdUnits   []string          // the service units, gotwistd's first
}

type passResult struct {
	logs     bool
	cases    []string
	load     map[string]map[string][]loadResult // case -> server -> one per round
	errs     map[string]map[string]string       // case -> server -> last error
	logBytes map[string]map[string]int64        // case -> server -> access log bytes written
	cmdlines map[string]string                  // server -> command line
	configs  map[string]map[string]string       // server -> file -> content
	loadCmd  map[string]string                  // case -> an example load command
}

type memResult struct {
	Idle     memUsage
	Held     memUsage
	Hold     holdResult
	StillOpn int
	Err      string
}

func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.out, format+"\n", args...)
}

func (b *bench) run(ctx context.Context) error {
	start := time.Now()
	raiseNoFile(b)
	env, err := newBenchEnv()
	if err != nil {
		return err
	}
	b.env = env
	b.tempDir.Store(&env.dir)
	if b.cfg.keep {
		b.say("temp dir (kept): %s", env.dir)
	} else {
		defer os.RemoveAll(env.dir)
	}

	b.wrk, _ = exec.LookPath("wrk")
	b.h2load, _ = exec.LookPath("h2load")
	b.socketActivate, _ = exec.LookPath("systemd-socket-activate")
	b.gnuplot, _ = exec.LookPath("gnuplot")

	r := &results{started: start, cfg: b.cfg, skipped: map[string]string{}, notes: map[string][]string{},
		tools: map[string]string{}, versions: map[string]string{}, mem: map[string]*memResult{},
		startup: map[string][]startupResult{}, startErr: map[string]string{},
		activ: map[string][]activationResult{}, activErr: map[string]string{}, cmds: map[string][]string{},
		probes: map[string]map[string]encodingProbe{}, systemd: map[string][]systemdRun{}, systemdFail: map[string]string{}}
	b.res = r
	r.loadAvg[0] = firstLine("/proc/loadavg")
	if f := strings.Fields(r.loadAvg[0]); len(f) > 0 {
		if l, err := strconv.ParseFloat(f[0], 64); err == nil && l > 0.5 {
			b.say("warning: load average %s at start: something else is using the CPU and will disturb the numbers", f[0])
		}
	}
	for _, d := range append(serverDefs(b.cfg.gotwistd), extraDefs(b.cfg)...) {
		if !b.cfg.wantServer(d.name) && !(d.extra && b.cfg.wantServer("gotwistd")) {
			continue
		}
		r.defs = append(r.defs, d)
		switch {
		case d.bin == "" && d.extra:
			r.skipped[d.name] = "not available: no binary (./bench/run builds it with --baseline REV from `git archive REV`; that build failed or was not run, or pass --baseline-bin PATH)"
		case d.bin == "" && d.name == "gotwistd":
			r.skipped[d.name] = "not available: no binary (./bench/run builds it with `CGO_ENABLED=0 GOEXPERIMENT=nogreenteagc go build ./cmd/gotwistd`, which failed or was not run; or pass --gotwistd PATH)"
		case d.bin == "":
			r.skipped[d.name] = "not available: not installed (./bench/run installs it from Debian as root)"
		default:
			if st, err := os.Stat(d.bin); err != nil || st.Mode()&0o111 == 0 {
				r.skipped[d.name] = fmt.Sprintf("not available: %s is not an executable", d.bin)
			}
		}
		r.versions[d.name] = d.version()
		if why, ok := r.skipped[d.name]; ok {
			b.say("%-9s skipped: %s", d.name, why)
		} else {
			b.say("%-9s %s (%s)", d.name, r.versions[d.name], d.bin)
		}
	}
	for name, path := range map[string]string{"wrk": b.wrk, "h2load": b.h2load,
		"systemd-socket-activate": b.socketActivate, "gnuplot": b.gnuplot} {
		r.tools[name] = toolVersion(name, path)
	}
	r.tools["h3load"] = "not built"
	if b.cfg.h3load != "" {
		r.tools["h3load"] = toolVersion("h3load", b.cfg.h3load)
	}

	if b.cfg.want(caseReady) {
		if err := b.runStartup(ctx); err != nil {
			return err
		}
	}
	if b.cfg.want(caseActivation) {
		if err := b.runActivation(ctx); err != nil {
			return err
		}
	}
	if b.cfg.want(caseSystemd) {
		if err := b.runSystemdActivation(ctx); err != nil {
			return err
		}
	}
	var cases []string
	for _, c := range throughputCases {
		if b.cfg.want(c) {
			cases = append(cases, c)
		}
	}
	if b.wrk == "" && len(cases) > 0 {
		b.say("wrk not installed: throughput cases skipped")
		cases = nil
	}
	if b.cfg.want(caseRSS) || len(cases) > 0 {
		logs := b.cfg.want(caseLogs) && len(cases) > 0
		if err := b.runThroughput(ctx, cases, b.cfg.want(caseRSS), logs); err != nil {
			return err
		}
	}
	r.finished = time.Now()
	r.loadAvg[1] = firstLine("/proc/loadavg")
	return b.writeReport()
}

// live returns the servers that are installed and asked for.
func (b *bench) live() []*serverDef {
	var ds []*serverDef
	for _, d := range b.res.defs {
		if _, skip := b.res.skipped[d.name]; !skip {
			ds = append(ds, d)
		}
	}
	return ds
}

// raiseNoFile lifts the open-files limit so that the harness can hold 10,000
// connections and the servers, which inherit the limit, can accept them.
func raiseNoFile(b *bench) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	want := uint64(65536)
	if lim.Max < want {
		lim.Max = want // works as root; otherwise the soft limit is raised to the hard one below
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Cur < uint64(b.cfg.holdConns)+1000 {
		b.say("warning: open-files limit is %d; holding %d connections needs more (run as root)", lim.Cur, b.cfg.holdConns)
	}
}

func toolVersion(name, path string) string {
	if path == "" {
		return "not installed"
	}
	args := map[string][]string{"wrk": {"-v"}, "h2load": {"--version"},
		"systemd-socket-activate": {"--version"}, "gnuplot": {"--version"}, "h3load": {"-version"}}[name]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, args...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// twistdPair returns gotwistd and twistd3 among the live servers.
func (b *bench) twistdPair() []*serverDef {
	var ds []*serverDef
	for _, d := range b.live() {
		if d.name == "gotwistd" || d.name == "twistd3" {
			ds = append(ds, d)
		}
	}
	return ds
}

func (b *bench) runStartup(ctx context.Context) error {
	ds := b.twistdPair()
	if len(ds) == 0 {
		b.say("startup: skipped (neither gotwistd nor twistd3 is available)")
		return nil
	}
	b.say("\n== exec -> READY=1 and exec -> first response, %d runs each", b.cfg.startupRuns)
	return b.interleave(ctx, b.cfg.startupRuns, defNames(ds), b.res.startErr, func(run, i int) (string, error) {
		d := ds[i]
		sr, argv, err := b.measureStartup(ctx, d, run)
		if run == 0 {
			b.res.cmds["startup "+d.name] = argv
		}
		if err != nil {
			return "", err
		}
		b.res.startup[d.name] = append(b.res.startup[d.name], sr)
		ready := "no READY=1"
		if sr.Ready > 0 {
			ready = "READY=1 " + fmtMs(sr.Ready)
		}
		return fmt.Sprintf("%s, first response %s", ready, fmtMs(sr.FirstResp)), nil
	})
}

// interleave measures each of the servers named in turn, runs times over,
// one round after another: measure(run, i) times names[i] once, records
// the result and returns what to print of it. A server whose measure
// fails is left out of the rounds after (failed keeps why, and may name
// servers left out from the start).
func (b *bench) interleave(ctx context.Context, runs int, names []string, failed map[string]string, measure func(run, i int) (string, error)) error {
	for run := 0; run < runs; run++ {
		for i, name := range names {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if _, ok := failed[name]; ok {
				continue
			}
			line, err := measure(run, i)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				failed[name] = err.Error()
				b.say("  %-9s failed: %v", name, err)
				continue
			}
			b.say("  run %2d %-9s %s", run+1, name, line)
		}
	}
	return nil
}

// defNames returns the servers' names.
func defNames(ds []*serverDef) []string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.name
	}
	return names
}

func (b *bench) runActivation(ctx context.Context) error {
	ds := b.twistdPair()
	if len(ds) == 0 {
		b.say("activation: skipped (neither gotwistd nor twistd3 is available)")
		return nil
	}
	if b.socketActivate == "" {
		b.say("activation: skipped (systemd-socket-activate not installed; it comes with Debian's systemd package)")
		return nil
	}
	if _, ok := b.res.skipped["gotwistd"]; !ok && b.cfg.wantServer("gotwistd") {
		ds = append(ds, yardstickDefs(b.cfg.yardsticks, b.env)...)
	}
	b.say("\n== cold socket activation (systemd-socket-activate), connect -> first byte, %d runs each", b.cfg.activationRuns)
	return b.interleave(ctx, b.cfg.activationRuns, defNames(ds), b.res.activErr, func(run, i int) (string, error) {
		d := ds[i]
		ar, argv, err := b.measureActivation(ctx, d, run)
		if run == 0 {
			b.res.cmds["activation "+d.name] = argv
		}
		if err != nil {
			return "", err
		}
		b.res.activ[d.name] = append(b.res.activ[d.name], ar)
		return fmt.Sprintf("first byte %s, whole response %s", fmtMs(ar.FirstByte), fmtMs(ar.Total)), nil
	})
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func quoteArgs(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " '\"$;") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		if i == 0 {
			a = filepath.Base(a)
		}
		out[i] = a
	}
	return out
}

func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func fmtMB(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

func fmtLoad(c string, r loadResult) string {
	s := fmt.Sprintf("%10s req/s", groupDigits(r.rps()))
	if inGBs(c) {
		s += fmt.Sprintf("  %.2f GB/s", r.rps()*size10m/1e9)
	}
	if r.P99 > 0 {
		s += fmt.Sprintf("  p99 %s", fmtMs(r.P99))
	}
	return s
}

// groupDigits renders a rate with thousands separators.
func groupDigits(v float64) string {
	n := int64(v + 0.5)
	s := fmt.Sprintf("%d", n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
