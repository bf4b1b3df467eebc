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

// Passes: the throughput numbers with every server's access log off, and
// with it on. Both are measured in the same rounds (see runThroughput).
const (
	passLogsOff = 0
	passLogsOn  = 1
)

// slot is one server in the throughput rounds: its instance with access
// logs off and, when logs are measured, its instance with them on, indexed
// by pass. An instance that did not start is nil.
type slot struct {
	def  *serverDef
	inst [2]*running
}

// newPassResult returns an empty result for one pass over cases.
func newPassResult(logs bool, cases []string) *passResult {
	pr := &passResult{logs: logs, cases: cases, load: map[string]map[string][]loadResult{},
		errs: map[string]map[string]string{}, logBytes: map[string]map[string]int64{},
		cmdlines: map[string]string{}, configs: map[string]map[string]string{}, loadCmd: map[string]string{}}
	for _, c := range cases {
		pr.load[c] = map[string][]loadResult{}
		pr.errs[c] = map[string]string{}
		pr.logBytes[c] = map[string]int64{}
	}
	return pr
}

// runThroughput starts every server with its access log off and measures
// memory (if mem) while only those run. With logs it then starts a second
// instance of every server with its access log on, and both instances stay
// up side by side. Each round loads every server's instances back to back,
// so that drift of the machine over the run hits logs off and logs on
// alike and the access log's cost is comparable; see passOrder.
func (b *bench) runThroughput(ctx context.Context, cases []string, mem, logs bool) error {
	passes := 1
	if logs {
		passes = 2
	}
	for pass := 0; pass < passes; pass++ {
		b.res.passes[pass] = newPassResult(pass == passLogsOn, cases)
	}
	var slots []*slot
	for _, d := range b.live() {
		slots = append(slots, &slot{def: d})
	}
	defer stopSlots(slots)

	b.say("\n== starting every server, access logs off")
	if err := b.startInstances(ctx, slots, passLogsOff, mem); err != nil {
		return err
	}
	if mem {
		if servers := instances(slots, passLogsOff); len(servers) > 0 {
			if err := b.measureMemory(ctx, servers); err != nil {
				return err
			}
		}
	}
	if len(cases) == 0 {
		return nil
	}
	if logs {
		b.say("\n== starting a second instance of every server, access logs on (to a file on disk)")
		if err := b.startInstances(ctx, slots, passLogsOn, false); err != nil {
			return err
		}
	}
	var active []*slot
	for _, s := range slots {
		if s.inst[passLogsOff] != nil || s.inst[passLogsOn] != nil {
			active = append(active, s)
		}
	}
	if len(active) == 0 {
		b.say("  no server started")
		return nil
	}
	if err := b.warmUp(ctx, active); err != nil {
		return err
	}
	if logs {
		b.say("\n== throughput: %d round(s); each server's logs-off and logs-on instances back to back, alternating which goes first", b.cfg.rounds)
	} else {
		b.say("\n== throughput: %d round(s), access logs off", b.cfg.rounds)
	}
	for round := 0; round < b.cfg.rounds; round++ {
		for _, c := range cases {
			for k := range active {
				// Rotate the order each round so no server always goes first.
				i := (k + round) % len(active)
				if !active[i].def.applies(c) {
					continue
				}
				for _, pass := range passOrder(round, i, passes) {
					r := active[i].inst[pass]
					if r == nil {
						continue
					}
					if err := b.measure(ctx, round, c, pass, r); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// passOrder returns the passes to run against one server in one round, in
// order. With both passes, the one that goes first alternates from round to
// round and from one server (its index among the servers) to the next, so
// neither logs off nor logs on always runs first, right after another
// server's load.
func passOrder(round, server, passes int) []int {
	if passes < 2 {
		return []int{passLogsOff}
	}
	if (round+server)%2 == 0 {
		return []int{passLogsOff, passLogsOn}
	}
	return []int{passLogsOn, passLogsOff}
}

// instances returns the started instances of one pass.
func instances(slots []*slot, pass int) []*running {
	var rs []*running
	for _, s := range slots {
		if r := s.inst[pass]; r != nil {
			rs = append(rs, r)
		}
	}
	return rs
}

// stopSlots stops every instance that was started.
func stopSlots(slots []*slot) {
	for _, s := range slots {
		for _, r := range s.inst {
			if r != nil {
				r.proc.stop(5 * time.Second)
			}
		}
	}
}

// instanceLabel names a server's instance in the progress lines: the name
// alone for logs off, with "+log" for logs on.
func instanceLabel(name string, pass int) string {
	if pass == passLogsOn {
		return name + "+log"
	}
	return name
}

// logsState says whether the access log is "off" or "on" in pass.
func logsState(pass int) string {
	if pass == passLogsOn {
		return "on"
	}
	return "off"
}

// startInstances starts the instance of every slot's server for pass and
// records its command line, configs and notes; a server that does not
// start is recorded as such (in the memory results too, if mem).
func (b *bench) startInstances(ctx context.Context, slots []*slot, pass int, mem bool) error {
	pr := b.res.passes[pass]
	for _, s := range slots {
		name := s.def.name
		label := instanceLabel(name, pass)
		if pass == passLogsOn && s.def.extra {
			continue // the extra gotwistd columns run with access logs off only
		}
		r, err := b.startServer(ctx, s.def, pass == passLogsOn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			b.say("  %-20s skipped: did not start: %v", label, err)
			for _, c := range pr.cases {
				pr.errs[c][name] = "did not start"
			}
			if mem {
				b.res.mem[name] = &memResult{Err: "did not start"}
			}
			what := "did not start: "
			if pass == passLogsOn {
				what = "did not start with its access log on: "
			}
			b.res.notes[name] = appendOnce(b.res.notes[name], what+err.Error())
			continue
		}
		s.inst[pass] = r
		pr.cmdlines[name] = r.cmdline()
		pr.configs[name] = r.configs
		https := "no https"
		if r.https != 0 {
			https = fmt.Sprintf("https %d", r.https)
		}
		b.say("  %-20s serving: http %d, %s (pgid %d)", label, r.http, https, r.proc.pgid)
		if r.note != "" {
			b.say("  %-20s note: %s", label, r.note)
			b.res.notes[name] = appendOnce(b.res.notes[name], r.note)
		}
	}
	return nil
}

// warmUp loads every instance with the small page for cfg.warmup, then
// empties its access log.
func (b *bench) warmUp(ctx context.Context, slots []*slot) error {
	b.say("  warm-up: %v of wrk on the small page per server instance", b.cfg.warmup)
	for _, s := range slots {
		for _, r := range s.inst {
			if r == nil {
				continue
			}
			if _, _, err := b.runLoad(ctx, caseSmall, r, b.cfg.warmup); err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			if r.accessLog != "" {
				_ = os.Truncate(r.accessLog, 0)
			}
		}
	}
	return nil
}

// measure runs case c once against r, the instance of pass, re-running a
// noisy attempt, and records the result (or the failure) in that pass. It
// returns an error only when the run was cancelled.
func (b *bench) measure(ctx context.Context, round int, c string, pass int, r *running) error {
	pr := b.res.passes[pass]
	name := r.def.name
	label := instanceLabel(name, pass)
	at := fmt.Sprintf("round %d/%d %-7s %-20s", round+1, b.cfg.rounds, c, label)
	if r.proc.exited() {
		pr.errs[c][name] = "exited: " + r.proc.outputTail(2)
		b.say("  %s server has exited", at)
		return nil
	}
	if isBr(c) && pass == passLogsOff {
		if _, done := b.res.probes[c][name]; !done {
			pb := probeEncoding(ctx, r, c)
			if b.res.probes[c] == nil {
				b.res.probes[c] = map[string]encodingProbe{}
			}
			b.res.probes[c][name] = pb
			b.say("  %s sends %s", at, pb)
		}
	}
	res, logSize, argv, err := b.attempt(ctx, c, r)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// A run during which other processes took a good share of the CPU says
	// little: run it again, and keep the quietest.
	for try := 0; err == nil && res.Foreign > b.cfg.maxNoise && try < b.cfg.retries; try++ {
		b.say("  %s %s  noisy: %.0f%% of the CPU went to other processes; again", at, fmtLoad(c, res), res.Foreign*100)
		time.Sleep(time.Second)
		res2, logSize2, _, err2 := b.attempt(ctx, c, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err2 != nil {
			break
		}
		if res2.Foreign < res.Foreign {
			res, logSize = res2, logSize2
		}
	}
	if argv != nil {
		cmd := strings.Join(quoteArgs(argv), " ")
		for _, port := range []int{r.http, r.https} {
			cmd = strings.Replace(cmd, fmt.Sprintf("127.0.0.1:%d/", port), "127.0.0.1:PORT/", 1)
		}
		pr.loadCmd[c] = cmd
	}
	if err != nil {
		pr.errs[c][name] = err.Error()
		b.say("  %s failed: %v", at, err)
		return nil
	}
	pr.load[c][name] = append(pr.load[c][name], res)
	extra := ""
	if res.Errors+res.Non2xx > 0 {
		extra = fmt.Sprintf("  (%d errors, %d non-2xx)", res.Errors, res.Non2xx)
	}
	if pr.logs && r.accessLog != "" {
		pr.logBytes[c][name] += logSize
		if res.Requests > 0 {
			extra += fmt.Sprintf("  log %.0f B/req", float64(logSize)/float64(res.Requests))
		}
	}
	if res.Foreign >= 0 {
		extra += fmt.Sprintf("  other CPU %.0f%%", res.Foreign*100)
	}
	if res.Client > 0 {
		extra += fmt.Sprintf("  client CPU %.0f%%", res.Client*100)
	}
	if isBr(c) && res.Requests > 0 && res.Bytes > 0 {
		extra += fmt.Sprintf("  %d B/response", res.Bytes/res.Requests)
	}
	b.say("  %s %s%s", at, fmtLoad(c, res), extra)
	time.Sleep(300 * time.Millisecond)
	return nil
}

// attempt runs one load of case c against r; with an access log, it also
// returns how much the log grew and empties it for the next run.
func (b *bench) attempt(ctx context.Context, c string, r *running) (loadResult, int64, []string, error) {
	res, argv, err := b.runLoad(ctx, c, r, b.cfg.duration)
	var size int64
	if r.accessLog != "" {
		if st, serr := os.Stat(r.accessLog); serr == nil {
			size = st.Size()
		}
		_ = os.Truncate(r.accessLog, 0)
	}
	return res, size, argv, err
}

// measureMemory reads each server's idle memory, then, one server at a
// time, holds cfg.holdConns keep-alive connections and reads it again.
func (b *bench) measureMemory(ctx context.Context, servers []*running) error {
	time.Sleep(time.Second)
	b.say("  idle memory (sum over each server's processes):")
	for _, r := range servers {
		m := &memResult{Idle: groupMem(r.proc.pgid)}
		b.res.mem[r.def.name] = m
		b.say("    %-9s RSS %s, PSS %s, %d processes", r.def.name, fmtMB(m.Idle.RSS), fmtMB(m.Idle.PSS), m.Idle.Procs)
	}
	b.say("  holding %d idle keep-alive connections, one server at a time:", b.cfg.holdConns)
	for _, r := range servers {
		m := b.res.mem[r.def.name]
		h := &holder{}
		hr := h.hold(ctx, fmt.Sprintf("127.0.0.1:%d", r.http), smallName, b.cfg.holdConns, 256, 90*time.Second)
		if ctx.Err() != nil {
			h.release()
			return ctx.Err()
		}
		time.Sleep(time.Second)
		m.Held = groupMem(r.proc.pgid)
		m.Hold = hr
		m.StillOpn = h.stillOpen()
		h.release()
		if hr.First != nil {
			m.Err = hr.First.Error()
		}
		extra := ""
		if hr.Failed > 0 {
			extra = fmt.Sprintf(", %d failed (first: %v)", hr.Failed, hr.First)
		}
		b.say("    %-9s RSS %s, PSS %s with %d connections held, %d still open at the reading%s",
			r.def.name, fmtMB(m.Held.RSS), fmtMB(m.Held.PSS), hr.Opened, m.StillOpn, extra)
		// Let the server close its side before the next one is loaded.
		time.Sleep(2 * time.Second)
	}
	return nil
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
