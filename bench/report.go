package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	caseTLS10m: "10 MB file, HTTPS + HTTP/1.1 (wrk)",
	caseH2:     "small page, HTTPS + HTTP/2 (h2load)",
	caseH2100k: "100 KB file, HTTPS + HTTP/2 (h2load)",
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
	caseTLS10m: "HTTPS h1 10 MB GB/s",
	caseH2:     "HTTPS h2 req/s",
	caseH2100k: "HTTPS h2 100 KB req/s",
	caseH3:     "HTTP/3 req/s",
	caseH3100k: "HTTP/3 100 KB req/s",
	caseBr:     "br,gzip small req/s",
	caseBrJS:   "br,gzip 30 KB JS req/s",
}

// caseValue converts a requests/s figure into the unit shown for the case.
func caseValue(c string, rps float64) float64 {
	if inGBs(c) {
		return rps * size10m / 1e9
	}
	return rps
}

func fmtCase(c string, v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if inGBs(c) {
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
	if len(r.systemd) > 0 || len(r.systemdFail) > 0 || r.systemdErr != "" {
		b.writeSystemdActivation(w)
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
