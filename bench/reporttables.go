package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

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
		} else if strings.Contains(to, ",") {
			// The best of the peers named.
			best, who, ok = bestPeer(r.defs, func(n string) (float64, bool) {
				if !contains(strings.Split(to, ","), n) {
					return 0, false
				}
				s := p.cell(c, n)
				return s.med, s.ok
			}, false)
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
			{caseTLS10m, issue16Peers, "HTTPS HTTP/1.1 10 MB ≥ 1.0× the best of h2o, lighttpd, nginx (issue 16)"},
			{caseH2, "nginx", "HTTPS HTTP/2 ≥ 1.0× nginx"},
			{caseH2100k, issue16Peers, "HTTPS HTTP/2 100 KB ≥ 1.0× the best of h2o, lighttpd, nginx (issue 16)"},
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
		var worstOn, worstOff stat
		for _, c := range p1.cases {
			off, on := p0.cell(c, "gotwistd"), p1.cell(c, "gotwistd")
			if off.ok && on.ok {
				cost := 1 - on.med/off.med
				if !has || cost > worst {
					worst, worstCase, worstOn, worstOff, has = cost, c, on, off, true
				}
			}
		}
		if has {
			m := fmt.Sprintf("worst %.1f%% (%s)", worst*100, worstCase)
			if lo, hi, ok := costBounds(worstOn, worstOff); ok {
				// As a cost: the slowdown, the change's sign turned.
				m = fmt.Sprintf("worst %.1f%% (%s; 95%% interval %.1f … %.1f%%)", worst*100, worstCase, -hi*100, -lo*100)
			}
			gs = append(gs, goal{"access log on costs ≤ 10%", m, verdict(worst <= 0.10)})
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
	if ratio, interval, ok := r.systemdGoal(); ok {
		gs = append(gs, goal{"cold activation under a real systemd ≤ 1.1× rawaccept (median, issue 16)",
			fmt.Sprintf("%.2f× rawaccept over %d runs (95%% interval %s)", ratio, len(r.systemd["gotwistd"]), interval), verdict(ratio <= 1.1)})
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

// issue16Peers are the peers issue 16's goals compare with, for ratioTo.
const issue16Peers = "h2o,lighttpd,nginx"

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
	if inGBs(c) {
		unit = "GB/s"
	}
	best, _, hasBest := bestPeer(r.defs, func(n string) (float64, bool) { s := p.cell(c, n); return caseValue(c, s.med), s.ok }, false)
	cols := []string{"server", "median " + unit, "min – max", "× best peer"}
	p99col := !isH2(c) // h2load prints no percentiles in a form parsed here
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
	pinCol := false
	for _, d := range r.defs {
		pinCol = pinCol || p.cell(c, d.name).anyPinned()
	}
	if pinCol {
		cols = append(cols, "pinned, each run")
	}
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
		if pinCol {
			row = append(row, st.fmtPinned())
		}
		w("| %s |", strings.Join(row, " | "))
	}
	w("")
	if pinCol {
		w("\"pinned, each run\": the share of 100 ms samples of each counted run, in run order, in which a")
		w("thread of the server was allowed on one CPU alone: gotwistd's HTTP/1.1 loops pin themselves when")
		w("its plan measures a request cheaper that way (web/h1/affinity_linux.go).")
		w("")
	}
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
