package main

// The throughput rounds: every case, each server in turn, access logs off
// and on, then memory. Split from bench.go, which keeps the run's order
// and the start-up cases.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

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
	if err := b.env.settled(ctx); err != nil {
		return err
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
	if res.Pinned > 0 {
		extra += fmt.Sprintf("  pinned %.0f%%", res.Pinned*100)
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
	if err := b.env.settled(ctx); err != nil {
		return err
	}
	b.say("  idle memory (sum over each server's processes):")
	for _, r := range servers {
		m := &memResult{Idle: groupMem(r.proc.pgid)}
		b.res.mem[r.def.name] = m
		b.say("    %-9s RSS %s, PSS %s, anon %s, %d processes", r.def.name, fmtMB(m.Idle.RSS), fmtMB(m.Idle.PSS), fmtMB(m.Idle.Anon), m.Idle.Procs)
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
