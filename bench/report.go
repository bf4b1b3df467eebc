package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// caseTitle names each throughput case for tables and the chart.
var caseTitle = map[string]string{
	caseSmall:  "small page (160 B), keep-alive",
	case100k:   "100 KB file, keep-alive",
	case10m:    "10 MB file, keep-alive",
	caseClose:  "small page, Connection: close",
	caseTLS:    "small page, HTTPS + HTTP/1.1 (wrk)",
	caseH2:     "small page, HTTPS + HTTP/2 (h2load)",
	caseH3:     "small page, HTTP/3 over QUIC (h3load)",
	caseH3100k: "100 KB file, HTTP/3 over QUIC (h3load)",
	caseBr:     "small page, keep-alive, Accept-Encoding: br, gzip",
	caseBrJS:   "30 KB JavaScript file, keep-alive, Accept-Encoding: br, gzip",
}

// caseColumn is the short column header of each case.
var caseColumn = map[string]string{
	caseSmall:  "small req/s",
	case100k:   "100 KB req/s",
	case10m:    "10 MB GB/s",
	caseClose:  "conn-close req/s",
	caseTLS:    "HTTPS h1 req/s",
	caseH2:     "HTTPS h2 req/s",
	caseH3:     "HTTP/3 req/s",
	caseH3100k: "HTTP/3 100 KB req/s",
	caseBr:     "br,gzip small req/s",
	caseBrJS:   "br,gzip 30 KB JS req/s",
}

// caseValue converts a requests/s figure into the unit shown for the case.
func caseValue(c string, rps float64) float64 {
	if c == case10m {
		return rps * size10m / 1e9
	}
	return rps
}

func fmtCase(c string, v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if c == case10m {
		return fmt.Sprintf("%.2f", v)
	}
	return groupDigits(v)
}

func fmtRatio(v, best float64) string {
	if math.IsNaN(v) || math.IsNaN(best) || best == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", v/best)
}

// cell returns the statistic of one server in one case of a pass.
func (p *passResult) cell(c, name string) stat {
	if p == nil {
		return stat{}
	}
	return throughputStat(p.load[c][name])
}

func (r *results) isSkipped(name string) bool {
	_, ok := r.skipped[name]
	return ok
}

// def returns the server of that name among those asked for, or nil.
func (r *results) def(name string) *serverDef {
	for _, d := range r.defs {
		if d.name == name {
			return d
		}
	}
	return nil
}

// whyMissing explains an empty cell in a few words.
func (r *results) whyMissing(p *passResult, c, name string) string {
	if d := r.def(name); d != nil && !d.applies(c) {
		if isH3(c) && !d.h3 && !d.extra {
			return "no HTTP/3"
		}
		return "–" // an engine column, in a case its engine does not serve
	}
	if why, ok := r.skipped[name]; ok {
		if strings.Contains(why, "not installed") {
			return "not installed"
		}
		return "not available"
	}
	if p != nil {
		if e := p.errs[c][name]; e != "" {
			if strings.HasPrefix(e, "no HTTP/2") {
				return e
			}
			if e == "no HTTPS listener" || e == "did not start" || strings.HasPrefix(e, "no HTTP/3") || strings.HasPrefix(e, "no h3load") {
				return e
			}
			return "failed"
		}
		if runs := p.load[c][name]; len(runs) > 0 {
			done := int64(0)
			for _, x := range runs {
				done += x.Requests
			}
			if done == 0 {
				return "no request completed"
			}
			return "errors >1%"
		}
	}
	return "n/a"
}

func (b *bench) writeReport() error {
	r := b.res
	var md strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&md, format+"\n", args...) }

	kind := "full run"
	if r.cfg.quick {
		kind = "quick smoke run (numbers are rough)"
	}
	w("# gotwistd benchmark results")
	w("")
	w("Written by `./bench/run` (%s) on %s UTC; the run took %s.",
		kind, r.started.UTC().Format("2006-01-02 15:04"), r.finished.Sub(r.started).Round(time.Second))
	w("Every number is the median over the rounds; a ratio is to the best **peer** (h2o, lighttpd, nginx,")
	w("caddy, twistd3; gotwistd is never its own yardstick). For requests/s higher is better; for memory")
	w("and times lower is better, so a ratio below 1.00× there means less than the best peer.")
	w("")
	w("Command: `%s`", b.invocation())
	w("")

	b.writeMachine(w)
	b.writeGoals(w)

	if p := r.passes[0]; p != nil && len(p.cases) > 0 {
		w("## Throughput, access logs off")
		w("")
		b.writeSummary(w, p)
		w("")
		for _, c := range p.cases {
			b.writeCaseDetail(w, p, c)
		}
	}
	if p := r.passes[1]; p != nil && len(p.cases) > 0 {
		w("## Throughput, access logs on (each server writing its usual format to a file)")
		w("")
		b.writeSummary(w, p)
		w("")
		b.writeLogCost(w)
	}
	if len(r.mem) > 0 {
		b.writeMemory(w)
	}
	if len(r.startup) > 0 || len(r.startErr) > 0 {
		b.writeStartup(w)
	}
	if len(r.activ) > 0 || len(r.activErr) > 0 {
		b.writeActivation(w)
	}
	b.writeCompression(w)
	b.writeExtras(w)
	b.writeSettings(w)
	b.writeCaveats(w)

	mdPath := r.cfg.out + ".md"
	pngPath := r.cfg.out + ".png"
	chartErr := b.writeChart(pngPath)
	if chartErr != nil {
		b.say("\nchart not written: %v", chartErr)
	} else {
		// The chart goes at the top, under the title's paragraph.
		s := md.String()
		marker := "## Machine"
		img := fmt.Sprintf("![requests/s, memory and start times per server](%s)\n\n", filepath.Base(pngPath))
		s = strings.Replace(s, marker, img+marker, 1)
		md.Reset()
		md.WriteString(s)
	}
	// The temp dir's name changes every run; $D stands for it.
	text := strings.ReplaceAll(md.String(), b.env.dir, "$D")
	text = strings.Replace(text, "## Machine\n", "## Machine\n\n`$D` below stands for the run's temp dir.\n", 1)
	if r.cfg.gotwistd != "" {
		// ./bench/run builds gotwistd into a temp dir of its own.
		text = strings.ReplaceAll(text, r.cfg.gotwistd, "gotwistd")
	}
	if r.cfg.yardsticks != "" {
		// So are the yardsticks: bench/yardstick/NAME, built.
		text = strings.ReplaceAll(text, strings.TrimSuffix(r.cfg.yardsticks, "/")+"/", "")
	}
	if err := os.MkdirAll(filepath.Dir(mdPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(mdPath, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	b.say("\n%s", text)
	b.say("wrote %s", mdPath)
	if chartErr == nil {
		b.say("wrote %s", pngPath)
	}
	return nil
}

// invocation reconstructs the command as the user typed it, without the
// flags ./bench/run adds by itself.
func (b *bench) invocation() string {
	args := []string{"./bench/run"}
	skipNext := false
	for _, a := range os.Args[1:] {
		if skipNext {
			skipNext = false
			continue
		}
		name := strings.TrimLeft(a, "-")
		base, _, hasVal := strings.Cut(name, "=")
		if base == "gotwistd" || base == "pgid-file" || base == "h3load" || base == "baseline-bin" || base == "yardsticks" {
			skipNext = !hasVal
			continue
		}
		args = append(args, quoteArgs([]string{"x", a})[1])
	}
	return strings.Join(args, " ")
}

func (b *bench) writeMachine(w func(string, ...any)) {
	r := b.res
	w("## Machine")
	w("")
	w("| | |")
	w("|---|---|")
	w("| CPU | %s × %d logical cores (`nproc` = %d) |", cpuModel(), runtime.NumCPU(), runtime.NumCPU())
	w("| memory | %s |", memTotal())
	w("| kernel | %s |", firstLine("/proc/sys/kernel/osrelease"))
	w("| OS | Debian %s |", firstLine("/etc/debian_version"))
	w("| Go | %s |", runtime.Version())
	w("| load generators | wrk: %s; h2load: %s; HTTP/3: %s |", r.tools["wrk"], r.tools["h2load"], r.tools["h3load"])
	w("| socket activation | systemd-socket-activate: %s |", r.tools["systemd-socket-activate"])
	w("| /proc/loadavg | at start: %s; at the end: %s (the 1-minute figure near 0 at start means a quiet machine) |", r.loadAvg[0], r.loadAvg[1])
	if med, worst, n := r.noise(); n > 0 {
		w("| CPU taken by other processes during the load runs | median %.0f%%, worst %.0f%% of both cores over %d counted runs (a run above %.0f%% was re-run up to %d times and the quietest kept; near 0%% means the numbers are clean) |",
			med*100, worst*100, n, r.cfg.maxNoise*100, r.cfg.retries)
	}
	w("")
	w("| server | version | workers | status |")
	w("|---|---|---|---|")
	for _, d := range r.defs {
		status := "ran"
		if why, ok := r.skipped[d.name]; ok {
			status = "skipped: " + why
		} else if n := r.notes[d.name]; len(n) > 0 {
			status = strings.Join(n, "; ")
		}
		w("| %s | %s | %s | %s |", d.name, mdEscape(r.versions[d.name]), d.workers, mdEscape(status))
	}
	w("")
}

// noise summarises the Foreign share over every counted load run.
func (r *results) noise() (med, worst float64, n int) {
	var xs []float64
	for _, p := range r.passes {
		if p == nil {
			continue
		}
		for _, byServer := range p.load {
			for _, runs := range byServer {
				for _, x := range runs {
					if x.Foreign >= 0 {
						xs = append(xs, x.Foreign)
					}
				}
			}
		}
	}
	if len(xs) == 0 {
		return 0, 0, 0
	}
	_, worst = minMax(xs)
	return median(xs), worst, len(xs)
}

// writeGoals checks the ratios that issue 5 sets as goals.
func (b *bench) writeGoals(w func(string, ...any)) {
	r := b.res
	if r.isSkipped("gotwistd") {
		w("## Goals")
		w("")
		w("gotwistd was not available in this run, so no goal could be checked.")
		w("")
		return
	}
	type goal struct{ text, measured, verdict string }
	var gs []goal
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	p0 := r.passes[0]
	ratioTo := func(p *passResult, c string, to string) (string, bool, bool) {
		g := p.cell(c, "gotwistd")
		if !g.ok {
			return "no gotwistd result (" + r.whyMissing(p, c, "gotwistd") + ")", false, false
		}
		var best float64
		var who string
		var ok bool
		if to == "" {
			best, who, ok = bestPeer(r.defs, func(n string) (float64, bool) { s := p.cell(c, n); return s.med, s.ok }, false)
		} else if s := p.cell(c, to); s.ok {
			best, who, ok = s.med, to, true
		}
		if !ok {
			return "no peer result", false, false
		}
		return fmt.Sprintf("%.2f× %s", g.med/best, who), g.med/best >= 1.0, true
	}
	if p0 != nil {
		for _, g := range []struct{ c, to, text string }{
			{caseSmall, "", "small file ≥ 1.0× the fastest peer"},
			{case100k, "", "100 KB ≥ 1.0× the fastest peer"},
			{case10m, "nginx", "10 MB ≥ 1.0× nginx"},
			{caseH2, "nginx", "HTTPS HTTP/2 ≥ 1.0× nginx"},
			{caseH3, "caddy", "HTTP/3 small page ≥ 1.0× caddy (issue 16)"},
			{caseH3100k, "caddy", "HTTP/3 100 KB ≥ 1.0× caddy (issue 16)"},
		} {
			if !contains(p0.cases, g.c) {
				continue
			}
			m, ok, has := ratioTo(p0, g.c, g.to)
			v := "not measured"
			if has {
				v = verdict(ok)
			}
			gs = append(gs, goal{g.text, m, v})
		}
	}
	if p1 := r.passes[1]; p0 != nil && p1 != nil {
		worst, worstCase, has := 0.0, "", false
		for _, c := range p1.cases {
			off, on := p0.cell(c, "gotwistd"), p1.cell(c, "gotwistd")
			if off.ok && on.ok {
				cost := 1 - on.med/off.med
				if !has || cost > worst {
					worst, worstCase, has = cost, c, true
				}
			}
		}
		if has {
			gs = append(gs, goal{"access log on costs ≤ 10%", fmt.Sprintf("worst %.1f%% (%s)", worst*100, worstCase), verdict(worst <= 0.10)})
		}
	}
	for _, d := range r.defs {
		if !d.extra || d.only != nil || r.isSkipped(d.name) || p0 == nil {
			continue // the baseline column only: it has no case list of its own
		}
		if worst, c, ok := worstRatio(compareColumns(p0, p0.cases, "gotwistd", d.name)); ok {
			gs = append(gs, goal{"no column slower than " + d.name + " (issues 18, 19; below 0.95× counts, one run's noise is about ±5%)",
				fmt.Sprintf("lowest after ÷ before %.2f× (%s)", worst, caseColumn[c]), verdict(worst >= 0.95)})
		}
	}
	if a := r.activ["gotwistd"]; len(a) > 0 {
		fb := make([]time.Duration, len(a))
		for i, x := range a {
			fb[i] = x.FirstByte
		}
		m := median(durs(fb))
		gs = append(gs, goal{"cold activation first byte ≤ 10 ms (median)", fmt.Sprintf("%.1f ms over %d runs", m, len(a)), verdict(m <= 10)})
	}
	if m := r.mem["gotwistd"]; m != nil && m.Idle.RSS > 0 {
		gs = append(gs, goal{"idle RSS ≤ 10 MB", fmtMB(m.Idle.RSS), verdict(m.Idle.RSS <= 10e6)})
	}
	w("## Goals")
	w("")
	w("Those of issue 5 unless another issue is named.")
	w("")
	w("| goal | measured | verdict |")
	w("|---|---|---|")
	for _, g := range gs {
		w("| %s | %s | %s |", g.text, g.measured, g.verdict)
	}
	w("")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// writeSummary is one table: a row per server, a column per case, each cell
// the median and the ratio to the best peer.
func (b *bench) writeSummary(w func(string, ...any), p *passResult) {
	r := b.res
	head := "| server |"
	sep := "|---|"
	best := map[string]float64{}
	bestWho := map[string]string{}
	for _, c := range p.cases {
		head += " " + caseColumn[c] + " |"
		sep += "---:|"
		v, who, ok := bestPeer(r.defs, func(n string) (float64, bool) { s := p.cell(c, n); return caseValue(c, s.med), s.ok }, false)
		if ok {
			best[c], bestWho[c] = v, who
		}
	}
	w("%s", head)
	w("%s", sep)
	for _, d := range r.defs {
		row := "| " + d.name + " |"
		for _, c := range p.cases {
			st := p.cell(c, d.name)
			if !st.ok {
				row += " " + r.whyMissing(p, c, d.name) + " |"
				continue
			}
			v := caseValue(c, st.med)
			cell := fmtCase(c, v)
			if bb, ok := best[c]; ok {
				cell += " (" + fmtRatio(v, bb) + ")"
			}
			if bestWho[c] == d.name {
				cell = "**" + cell + "**"
			}
			row += " " + cell + " |"
		}
		w("%s", row)
	}
	w("")
	w("Bold: the best peer in each column; in parentheses each server's ratio to it.")
}

func (b *bench) writeCaseDetail(w func(string, ...any), p *passResult, c string) {
	r := b.res
	w("### %s", caseTitle[c])
	w("")
	w("`%s`", p.loadCmd[c])
	w("")
	unit := "req/s"
	if c == case10m {
		unit = "GB/s"
	}
	best, _, hasBest := bestPeer(r.defs, func(n string) (float64, bool) { s := p.cell(c, n); return caseValue(c, s.med), s.ok }, false)
	cols := []string{"server", "median " + unit, "min – max", "× best peer"}
	p99col := c != caseH2 // h2load prints no percentiles in a form parsed here
	if p99col {
		cols = append(cols, "p99 latency")
	}
	if isH3(c) {
		cols = append(cols, "p50 latency")
	}
	if isBr(c) {
		cols = append(cols, "B/response (headers too)")
	}
	cols = append(cols, "runs", "errors", "other CPU", "client CPU")
	w("| %s |", strings.Join(cols, " | "))
	w("|---|%s", strings.Repeat("---:|", len(cols)-1))
	for _, d := range r.defs {
		st := p.cell(c, d.name)
		if !st.ok {
			why := r.whyMissing(p, c, d.name)
			if e := p.errs[c][d.name]; e != "" && !r.isSkipped(d.name) && why == "failed" {
				why += ": " + mdEscape(shorten(e, 160))
			}
			w("| %s | %s |%s", d.name, why, strings.Repeat(" |", len(cols)-2))
			continue
		}
		ratio := ""
		if hasBest {
			ratio = fmtRatio(caseValue(c, st.med), best)
		}
		runs := fmt.Sprintf("%d", st.n)
		if st.badRuns > 0 {
			runs += fmt.Sprintf(" (+%d with >1%% errors, not counted)", st.badRuns)
		}
		row := []string{d.name, fmtCase(c, caseValue(c, st.med)),
			fmtCase(c, caseValue(c, st.lo)) + " – " + fmtCase(c, caseValue(c, st.hi)), ratio}
		if p99col {
			row = append(row, fmt.Sprintf("%.2f ms", st.p99))
		}
		if isH3(c) {
			row = append(row, fmt.Sprintf("%.2f ms", st.p50))
		}
		if isBr(c) {
			row = append(row, fmtBytesPer(st.bytesPer))
		}
		row = append(row, runs, fmt.Sprintf("%d", st.errCount), fmtShare(st.foreign), fmtShare(st.client))
		w("| %s |", strings.Join(row, " | "))
	}
	w("")
	if isH3(c) {
		w("h3load is a Go program (quic-go's HTTP/3 client) on the same two cores: \"client CPU\" is its")
		w("share of both cores, which the server did not get. Only servers with HTTP/3 are loaded (gotwistd's")
		w("`quic:` endpoint and caddy's `h3`; h2o 2.2, nginx 1.22 and lighttpd have none).")
		w("")
	}
}

// fmtShare renders a share of both cores; "?" when unknown.
func fmtShare(v float64) string {
	if math.IsNaN(v) || v <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

func fmtBytesPer(v float64) string {
	if math.IsNaN(v) || v <= 0 {
		return "?"
	}
	return groupDigits(v)
}

// ratioRow is one case of a comparison between two columns of one pass.
type ratioRow struct {
	c      string
	a, b   stat
	ratio  float64 // a's median ÷ b's median; NaN when either is missing
	usable bool
}

// compareColumns compares server a with server b in each case where both
// have a result: the ratio of their medians (higher is better for a).
func compareColumns(p *passResult, cases []string, a, b string) []ratioRow {
	var rows []ratioRow
	for _, c := range cases {
		sa, sb := p.cell(c, a), p.cell(c, b)
		row := ratioRow{c: c, a: sa, b: sb, ratio: math.NaN()}
		if sa.ok && sb.ok && sb.med > 0 {
			row.ratio, row.usable = sa.med/sb.med, true
		}
		rows = append(rows, row)
	}
	return rows
}

// worstRatio returns the lowest usable ratio and its case.
func worstRatio(rows []ratioRow) (float64, string, bool) {
	worst, which, ok := math.NaN(), "", false
	for _, r := range rows {
		if r.usable && (!ok || r.ratio < worst) {
			worst, which, ok = r.ratio, r.c, true
		}
	}
	return worst, which, ok
}

// writeExtras compares gotwistd with its extra columns: the baseline build
// (after ÷ before) and the net/http engines (net/http ÷ gotwistd's own).
func (b *bench) writeExtras(w func(string, ...any)) {
	r := b.res
	p := r.passes[passLogsOff]
	if p == nil || r.isSkipped("gotwistd") {
		return
	}
	for _, d := range r.defs {
		if !d.extra || r.isSkipped(d.name) {
			continue
		}
		var cases []string
		for _, c := range p.cases {
			if d.applies(c) {
				cases = append(cases, c)
			}
		}
		baseline := strings.HasPrefix(d.name, "gotwistd@")
		var rows []ratioRow
		if baseline {
			w("## gotwistd against %s (before → after, same rounds)", d.name)
			w("")
			w("%s is gotwistd built from git revision %s the same way (`git archive`, then the README's build),", d.name, strings.TrimPrefix(d.name, "gotwistd@"))
			w("run beside this checkout's build in every round. after ÷ before above 1.00× means this")
			w("checkout is faster; within about ±5%% is one run's noise on this machine (see min – max).")
			w("")
			w("| case | before (%s) | after (gotwistd) | after ÷ before |", d.name)
			rows = compareColumns(p, cases, "gotwistd", d.name)
		} else {
			w("## gotwistd with %s against its own engine", strings.TrimPrefix(d.name, "gotwistd "))
			w("")
			w("The same gotwistd build with `%s`, in the cases that engine serves. Below 1.00× the", strings.Join(d.args, " "))
			w("fallback is slower than gotwistd's own engine by that factor.")
			w("")
			w("| case | gotwistd (own engine) | %s | %s ÷ own |", d.name, strings.TrimPrefix(d.name, "gotwistd "))
			rows = compareColumns(p, cases, d.name, "gotwistd")
		}
		w("|---|---:|---:|---:|")
		for _, row := range rows {
			// a is after (baseline) or the fallback (engine); b what it is set against.
			first, second := row.b, row.a
			cell := func(st stat, name string) string {
				if !st.ok {
					return r.whyMissing(p, row.c, name)
				}
				return fmtCase(row.c, caseValue(row.c, st.med))
			}
			firstName, secondName := d.name, "gotwistd"
			if !baseline {
				firstName, secondName = "gotwistd", d.name
			}
			ratio := "n/a"
			if row.usable {
				ratio = fmt.Sprintf("%.2f×", row.ratio)
			}
			w("| %s | %s | %s | %s |", caseColumn[row.c], cell(first, firstName), cell(second, secondName), ratio)
		}
		if worst, c, ok := worstRatio(rows); ok {
			w("")
			if baseline {
				w("Lowest after ÷ before: %.2f× (%s).", worst, caseColumn[c])
			} else {
				w("Lowest %s ÷ own: %.2f× (%s).", strings.TrimPrefix(d.name, "gotwistd "), worst, caseColumn[c])
			}
		}
		w("")
	}
}

// writeCompression says how each server was told to compress and what it
// sent to one request of each br case.
func (b *bench) writeCompression(w func(string, ...any)) {
	r := b.res
	var cases []string
	for _, c := range []string{caseBr, caseBrJS} {
		if len(r.probes[c]) > 0 {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		return
	}
	w("## Compression: what each server sends for `Accept-Encoding: %s`", acceptEncoding)
	w("")
	w("One request per server before its first load of each case (plain HTTP, the same header as wrk")
	w("sends): the Content-Encoding it answered with and the body's size on the wire. The files are")
	w("%d bytes (small page) and %s bytes (%s).", smallSize, groupDigits(jsSize), jsName)
	w("")
	head, sep := "| server | compression configured |", "|---|---|"
	for _, c := range cases {
		head += " " + casePath[c] + " |"
		sep += "---|"
	}
	w("%s", head)
	w("%s", sep)
	for _, d := range r.defs {
		if d.extra || r.isSkipped(d.name) {
			continue
		}
		row := "| " + d.name + " | " + mdEscape(d.compression) + " |"
		for _, c := range cases {
			pb, ok := r.probes[c][d.name]
			if !ok {
				row += " n/a |"
				continue
			}
			row += " " + mdEscape(shorten(pb.String(), 100)) + " |"
		}
		w("%s", row)
	}
	w("")
	w("gotwistd compresses a file once per version and coding and keeps the bytes in its file cache, and")
	w("lighttpd keeps them in its `deflate.cache-dir`, so their levels cost nothing per request; nginx, h2o")
	w("and caddy compress on every request at their default levels (what their users get), so their")
	w("response sizes and CPU per request are a trade each made.")
	w("")
}

func (b *bench) writeLogCost(w func(string, ...any)) {
	r := b.res
	p0, p1 := r.passes[0], r.passes[1]
	if p0 == nil {
		return
	}
	w("What the access log costs each server (logs-on median ÷ logs-off median − 1; the issue's goal for")
	w("gotwistd is at most 10%%), and the bytes it wrote per request (a check that logging was really on):")
	w("")
	head, sep := "| server |", "|---|"
	for _, c := range p1.cases {
		head += " " + caseColumn[c] + " |"
		sep += "---:|"
	}
	w("%s", head)
	w("%s", sep)
	for _, d := range r.defs {
		row := "| " + d.name + " |"
		for _, c := range p1.cases {
			off, on := p0.cell(c, d.name), p1.cell(c, d.name)
			if !off.ok || !on.ok {
				row += " n/a |"
				continue
			}
			var reqs int64
			for _, x := range p1.load[c][d.name] {
				reqs += x.Requests
			}
			per := ""
			if reqs > 0 {
				per = fmt.Sprintf(", %.0f B/req", float64(p1.logBytes[c][d.name])/float64(reqs))
			}
			row += fmt.Sprintf(" %+.1f%%%s |", (on.med/off.med-1)*100, per)
		}
		w("%s", row)
	}
	w("")
}

func (b *bench) writeMemory(w func(string, ...any)) {
	r := b.res
	n := r.cfg.holdConns
	w("## Memory")
	w("")
	w("Sum over each server's processes, read from /proc right after start (idle) and while holding")
	w("%s idle keep-alive connections (each sent one request for the small page and stays open; one", groupDigits(float64(n)))
	w("server at a time). RSS counts pages shared between a server's workers once per process; PSS")
	w("splits them. Lower is better; the ratio is to the lowest peer.")
	w("")
	idle := func(name string) (float64, bool) {
		m := r.mem[name]
		return float64(m.Idle.RSS), m != nil && m.Idle.RSS > 0
	}
	held := func(name string) (float64, bool) {
		m := r.mem[name]
		return float64(m.Held.RSS), m != nil && m.Held.RSS > 0 && m.Hold.Opened > 0
	}
	bi, _, okI := bestPeer(r.defs, func(n string) (float64, bool) {
		if r.mem[n] == nil {
			return 0, false
		}
		return idle(n)
	}, true)
	bh, _, okH := bestPeer(r.defs, func(n string) (float64, bool) {
		if r.mem[n] == nil {
			return 0, false
		}
		return held(n)
	}, true)
	w("| server | processes | idle RSS | idle PSS | × best peer (idle RSS) | RSS, %s conns | PSS, %s conns | × best peer | KB per conn (RSS) | held / still open |",
		groupDigits(float64(n)), groupDigits(float64(n)))
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, d := range r.defs {
		m := r.mem[d.name]
		if m == nil || m.Idle.RSS == 0 {
			why := "not run"
			if r.isSkipped(d.name) {
				why = "not available"
			} else if m != nil && m.Err != "" {
				why = m.Err
			}
			w("| %s | %s | | | | | | | | |", d.name, why)
			continue
		}
		ri := ""
		if okI {
			ri = fmtRatio(float64(m.Idle.RSS), bi)
		}
		hRSS, hPSS, rh, per := "n/a", "n/a", "", ""
		if m.Hold.Opened > 0 {
			hRSS, hPSS = fmtMB(m.Held.RSS), fmtMB(m.Held.PSS)
			if okH {
				rh = fmtRatio(float64(m.Held.RSS), bh)
			}
			per = fmt.Sprintf("%.1f", float64(m.Held.RSS-m.Idle.RSS)/1024/float64(m.Hold.Opened))
		}
		heldCol := fmt.Sprintf("%s / %s", groupDigits(float64(m.Hold.Opened)), groupDigits(float64(m.StillOpn)))
		if m.Hold.Failed > 0 {
			heldCol += fmt.Sprintf(" (%d failed: %s)", m.Hold.Failed, mdEscape(shorten(m.Err, 80)))
		}
		w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |", d.name, m.Idle.Procs, fmtMB(m.Idle.RSS), fmtMB(m.Idle.PSS), ri,
			hRSS, hPSS, rh, per, heldCol)
	}
	w("")
}

func (b *bench) writeStartup(w func(string, ...any)) {
	r := b.res
	w("## Start-up: exec → READY=1 and exec → first response (gotwistd vs twistd3)")
	w("")
	w("Each run execs the server on a fresh port with `NOTIFY_SOCKET` pointing at a unixgram socket the")
	w("harness made (what systemd does for `Type=notify`), then times the `READY=1` datagram and the")
	w("first `200` to `GET /small.html` (polled every 1 ms), both from just before exec. twistd3 has no")
	w("sd_notify, so only its first response is shown. Median (min – max) in ms.")
	w("")
	w("| server | exec → READY=1 | exec → first response | × twistd3 (first response) | runs |")
	w("|---|---:|---:|---:|---:|")
	tw := median(durs(pick(r.startup["twistd3"], func(s startupResult) time.Duration { return s.FirstResp })))
	for _, name := range []string{"gotwistd", "twistd3"} {
		if !b.ran(name) {
			continue
		}
		runs := r.startup[name]
		if len(runs) == 0 {
			w("| %s | failed: %s | | | |", name, mdEscape(shorten(r.startErr[name], 160)))
			continue
		}
		ready := pick(runs, func(s startupResult) time.Duration { return s.Ready })
		first := pick(runs, func(s startupResult) time.Duration { return s.FirstResp })
		readyCol := "never (no sd_notify)"
		if rs := durs(ready); len(rs) > 0 {
			readyCol = fmtMedRange(rs)
			if len(rs) < len(runs) {
				readyCol += fmt.Sprintf(" (%d of %d runs)", len(rs), len(runs))
			}
		}
		fm := median(durs(first))
		w("| %s | %s | %s | %s | %d |", name, readyCol, fmtMedRange(durs(first)), fmtRatio(fm, tw), len(runs))
	}
	w("")
	for _, name := range []string{"gotwistd", "twistd3"} {
		if argv := r.cmds["startup "+name]; argv != nil {
			w("- `NOTIFY_SOCKET=… %s`", strings.Join(quoteArgs(argv), " "))
		}
	}
	w("")
}

func (b *bench) writeActivation(w func(string, ...any)) {
	r := b.res
	w("## Cold socket activation: connect → first byte (gotwistd vs twistd3)")
	w("")
	w("`systemd-socket-activate -l 127.0.0.1:PORT` holds the listening socket and execs the server only")
	w("when the first connection arrives, passing the socket as fd 3 (`LISTEN_FDS=1`), as systemd does")
	w("for a `.socket` unit. The harness connects, sends `GET /small.html` and times the first byte of the")
	w("response. This approximates the real-systemd case (no cgroup, no unit start-up by PID 1); the")
	w("end-to-end suite in test/e2e runs the real thing. Median (min – max) in ms.")
	w("")
	w("| server | connect → first byte | connect → whole response | × twistd3 | runs |")
	w("|---|---:|---:|---:|---:|")
	tw := median(durs(pick(r.activ["twistd3"], func(a activationResult) time.Duration { return a.FirstByte })))
	for _, name := range []string{"gotwistd", "twistd3"} {
		if !b.ran(name) {
			continue
		}
		runs := r.activ[name]
		if len(runs) == 0 {
			w("| %s | failed: %s | | | |", name, mdEscape(shorten(r.activErr[name], 160)))
			continue
		}
		fb := durs(pick(runs, func(a activationResult) time.Duration { return a.FirstByte }))
		tot := durs(pick(runs, func(a activationResult) time.Duration { return a.Total }))
		w("| %s | %s | %s | %s | %d |", name, fmtMedRange(fb), fmtMedRange(tot), fmtRatio(median(fb), tw), len(runs))
	}
	var ys []string
	for _, name := range yardstickNames {
		if runs := r.activ[name]; len(runs) > 0 {
			fb := durs(pick(runs, func(a activationResult) time.Duration { return a.FirstByte }))
			tot := durs(pick(runs, func(a activationResult) time.Duration { return a.Total }))
			w("| *%s* (yardstick) | %s | %s | %s | %d |", name, fmtMedRange(fb), fmtMedRange(tot), fmtRatio(median(fb), tw), len(runs))
			ys = append(ys, name)
		} else if msg, failed := r.activErr[name]; failed {
			w("| *%s* (yardstick) | failed: %s | | | |", name, mdEscape(shorten(msg, 160)))
		}
	}
	w("")
	if len(ys) > 0 {
		w("The yardsticks are not peers; they are timed in the same rounds to show the floor under")
		w("gotwistd's number on this machine:")
		w("")
		for _, name := range ys {
			w("- *%s*: %s.", name, yardstickWhat[name])
		}
		w("")
	}
	for _, name := range append([]string{"gotwistd", "twistd3"}, ys...) {
		if argv := r.cmds["activation "+name]; argv != nil {
			w("- `%s`", strings.Join(quoteArgs(argv), " "))
		}
	}
	w("")
}

// ran reports whether name was asked for and available.
func (b *bench) ran(name string) bool {
	for _, d := range b.res.defs {
		if d.name == name {
			return !b.res.isSkipped(name)
		}
	}
	return false
}

func pick[T any](xs []T, f func(T) time.Duration) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func fmtMedRange(ms []float64) string {
	if len(ms) == 0 {
		return "n/a"
	}
	lo, hi := minMax(ms)
	return fmt.Sprintf("%.1f (%.1f – %.1f)", median(ms), lo, hi)
}

func (b *bench) writeSettings(w func(string, ...any)) {
	r := b.res
	cfg := r.cfg
	w("## How it was measured")
	w("")
	w("- Files, the same directory for every server: `small.html` (160 bytes of HTML), `100k.bin`")
	w("  (102,400 random bytes), `10m.bin` (10,485,760 random bytes), in a fresh temp dir; a self-signed")
	w("  ECDSA P-256 certificate for 127.0.0.1. Every server listens on 127.0.0.1 only, on ports picked")
	w("  free at start, plain HTTP and HTTPS (HTTP/2 by ALPN) in the same process.")
	w("- Two cores for each server: see the workers column above. Open-files limit raised to 65,536 for")
	w("  the harness and the servers it starts; nginx `worker_connections 20000`, h2o `max-connections:")
	w("  20000`, lighttpd `server.max-connections = 20000`, keep-alive idle time ≥ 60 s where the default")
	w("  was shorter (h2o, lighttpd), so the held connections stay open; no cap on requests per")
	w("  connection (nginx `keepalive_requests 1000000`, lighttpd `server.max-keep-alive-requests = 65535`,")
	w("  its maximum; with nginx's default of 1000 every HTTP/2 connection ends in a GOAWAY that h2load")
	w("  does not reconnect after). Other settings are each server's defaults (nginx with Debian's usual")
	w("  `sendfile on; tcp_nopush on;`).")
	w("- Access logs off: twistd3 cannot turn them off, so it runs with no `--logfile` and writes its")
	w("  access lines into its main log, a file in the temp dir (not /dev/null: twistd rotates its log")
	w("  every 1 MB, and would rename the device away); gotwistd gets `-l /dev/null` plus")
	w("  `--no-access-log` when its web plugin has that flag.")
	if len(r.mem) > 0 {
		w("- Memory is measured first, right after the logs-off instances start, with only them running.")
	}
	if p1 := r.passes[passLogsOn]; p1 != nil && len(p1.cases) > 0 {
		w("- Access logs on: then a second instance of every server is started beside the first, on its own")
		w("  ports and in its own directory, writing its usual format to a file in the temp dir (`--logfile")
		w("  FILE` for twistd3 and gotwistd; truncated after each run). Both instances run side by side for")
		w("  the rest of the run (an idle one costs nothing), and each round loads a server's logs-off and")
		w("  logs-on instances back to back, which goes first alternating from round to round and from one")
		w("  server to the next. Drift of the machine over the run thus hits both alike, which is why the")
		w("  access-log cost column compares like with like.")
	}
	w("- Throughput: wrk with %d threads and %d connections for %s per run; after a %s warm-up per", cfg.threads, cfg.conns, durationArg(cfg.duration), cfg.warmup)
	w("  server instance, %d round(s), each round running every case against every server in turn, the", cfg.rounds)
	w("  order of servers rotated each round. HTTPS + HTTP/2 with h2load, %d connections × %d streams, %d", cfg.conns, cfg.h2Streams, cfg.threads)
	w("  threads.")
	w("  HTTP/3 with bench/h3load (%s), as many connections and streams as h2load gets, against the", r.tools["h3load"])
	w("  servers that serve HTTP/3: gotwistd with a `quic:` endpoint on the UDP port of its HTTPS port's")
	w("  number (same certificate), caddy with `protocols h1 h2 h3`. The br cases are wrk with")
	w("  `-H 'Accept-Encoding: %s'`, every server with its compression on (see Compression).", acceptEncoding)
	w("  \"client CPU\" is the load generator's own share of both cores.")
	w("- Extra gotwistd columns (`--baseline REV`, `--engines`) are not peers: they run with access logs")
	w("  off only, in the same rounds as the rest, and are compared with gotwistd in tables of their own.")
	w("  A run with more than 1%% errors or non-2xx responses is not counted. \"other CPU\" is the share of")
	w("  both cores that processes other than the server and the load generator used during a run (from")
	w("  /proc/stat and /proc/PID/stat, steal included); a run above %.0f%% was re-run up to %d times and", cfg.maxNoise*100, cfg.retries)
	w("  the quietest attempt kept.")
	w("")
	w("Load commands (PORT is the server's port):")
	w("")
	seen := map[string]bool{}
	for _, p := range r.passes {
		if p == nil {
			continue
		}
		for _, c := range p.cases {
			cmd := p.loadCmd[c]
			if cmd == "" || seen[c] {
				continue
			}
			seen[c] = true
			w("- %s: `%s`", c, cmd)
		}
	}
	w("")
	if r.passes[passLogsOn] != nil {
		w("Server command lines (the logs-on instance adds the access log):")
	} else {
		w("Server command lines:")
	}
	w("")
	for _, d := range r.defs {
		for i, p := range r.passes {
			if p == nil || p.cmdlines[d.name] == "" {
				continue
			}
			w("- %s, access logs %s: `%s`", d.name, logsState(i), p.cmdlines[d.name])
		}
	}
	w("")
	for _, d := range r.defs {
		p := r.passes[0]
		if p == nil || len(p.configs[d.name]) == 0 {
			continue
		}
		names := make([]string, 0, len(p.configs[d.name]))
		for n := range p.configs[d.name] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			w("<details><summary>%s: %s (access logs off)</summary>", d.name, n)
			w("")
			w("```")
			w("%s", strings.TrimRight(p.configs[d.name][n], "\n"))
			w("```")
			w("</details>")
			w("")
		}
	}
}

func (b *bench) writeCaveats(w func(string, ...any)) {
	w("## Caveats")
	w("")
	w("- wrk and h2load run on the same 2-core machine as the server they load, so load generator and")
	w("  server compete for the same two cores; absolute numbers are lower than on separate machines, and")
	w("  a server that needs less CPU per request also leaves more to wrk. Ratios within one run are what")
	w("  this measures; compare runs only on the same kind of machine.")
	w("- h3load is Go, like gotwistd and caddy, and an HTTP/3 client costs more CPU per request than wrk:")
	w("  in the HTTP/3 columns the client takes about as much of the two cores as the server (see \"client")
	w("  CPU\"), so those absolute numbers are lower still; the ratio gotwistd ÷ caddy is what counts.")
	w("- Everything is on loopback: no network latency, no packet loss, MTU 65536.")
	w("- twistd3 is single-threaded Python and uses one core; the others were told to use two. It speaks")
	w("  HTTP/2 only with python3-h2 installed, which Debian's python3-twisted does not pull in, so it has")
	w("  no HTTP/2 number here. Its access log is buffered, so its bytes per request read low.")
	w("- Access log formats differ: nginx, h2o, lighttpd, twistd3 and gotwistd write one combined-format")
	w("  line (~90 bytes here); caddy writes a JSON object of ~1.7 KB per request, and far more per")
	w("  counted request in the 10 MB case (not looked into).")
	w("- The 10 MB case's p99 is wrk's as much as the server's: wrk reads a readable socket until it is")
	w("  empty, so on loopback a connection whose receive buffer the kernel grew gets most of wrk's time")
	w("  and one whose buffer stayed small can wait seconds. `go run ./bench/fairness -addr 127.0.0.1:PORT")
	w("  -path /10m.bin` gives each connection its own reader and shows how evenly the server shares.")
	w("- lighttpd's `server.max-worker` forks workers after start; lighttpd's docs discourage it, but it is")
	w("  the only way to give lighttpd a second core.")
	w("- Medians of %d round(s); with few rounds one noisy run moves a median. Look at min – max.", b.res.cfg.rounds)
	w("- Socket activation uses systemd-socket-activate, not PID 1: no cgroup set-up and no unit start, so")
	w("  real systemd adds a little on top for both servers.")
	w("")
}

func (b *bench) writeChart(path string) error {
	if b.gnuplot == "" {
		return fmt.Errorf("gnuplot not installed (./bench/run installs gnuplot-nox)")
	}
	dir, err := os.MkdirTemp(b.env.dir, "chart-")
	if err != nil {
		return err
	}
	script := b.chartScript(dir, path)
	if script == "" {
		return fmt.Errorf("nothing to plot")
	}
	sp := filepath.Join(dir, "chart.gp")
	if err := os.WriteFile(sp, []byte(script), 0o644); err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	_ = os.MkdirAll(filepath.Dir(abs), 0o755)
	out, err := exec.Command(b.gnuplot, sp).CombinedOutput()
	if err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, lastLine(string(out)))
	}
	return nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				var kb float64
				fmt.Sscan(f[1], &kb)
				return fmt.Sprintf("%.1f GiB", kb/1024/1024)
			}
		}
	}
	return "unknown"
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return s
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
