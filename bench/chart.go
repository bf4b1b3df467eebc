package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// serverColor gives every server one color in every panel; gotwistd's is
// the only red.
var serverColor = map[string]string{
	"gotwistd": "#d62728",
	"h2o":      "#1f77b4",
	"lighttpd": "#2ca02c",
	"nginx":    "#9467bd",
	"caddy":    "#ff7f0e",
	"twistd3":  "#7f7f7f",
}

// panel is one small horizontal bar chart.
type panel struct {
	title string
	rows  []panelRow
}

type panelRow struct {
	name  string
	value float64 // NaN: no bar
	label string
	extra bool // an extra gotwistd column (drawn lighter)
}

// chartPanels gathers what the chart shows, in reading order.
func (b *bench) chartPanels() []panel {
	r := b.res
	var ps []panel
	tp := func(p *passResult, c, title string) {
		if p == nil || !contains(p.cases, c) {
			return
		}
		pn := panel{title: title}
		for _, d := range r.defs {
			if !d.applies(c) {
				continue
			}
			st := p.cell(c, d.name)
			if !st.ok {
				pn.rows = append(pn.rows, panelRow{d.name, math.NaN(), r.whyMissing(p, c, d.name), d.extra})
				continue
			}
			v := caseValue(c, st.med)
			pn.rows = append(pn.rows, panelRow{d.name, v, fmtCase(c, v), d.extra})
		}
		ps = append(ps, pn)
	}
	p0, p1 := r.passes[0], r.passes[1]
	tp(p0, caseSmall, "Small page (160 B), keep-alive: requests/s (higher is better)")
	tp(p0, case100k, "100 KB file, keep-alive: requests/s (higher is better)")
	tp(p0, case10m, "10 MB file, keep-alive: GB/s (higher is better)")
	tp(p0, caseClose, "Small page, Connection: close: requests/s (higher is better)")
	tp(p0, caseTLS, "Small page, HTTPS + HTTP/1.1 (wrk): requests/s")
	tp(p0, caseTLS10m, "10 MB file, HTTPS + HTTP/1.1 (wrk): GB/s")
	tp(p0, caseH2, "Small page, HTTPS + HTTP/2 (h2load): requests/s")
	tp(p0, caseH2100k, "100 KB file, HTTPS + HTTP/2 (h2load): requests/s")
	tp(p0, caseH3, "Small page, HTTP/3 (h3load): requests/s")
	tp(p0, caseH3100k, "100 KB, HTTP/3 (h3load): requests/s")
	tp(p0, caseBrJS, "30 KB JS, Accept-Encoding: br, gzip: requests/s")
	tp(p1, caseSmall, "Small page, access log ON: requests/s")
	if len(r.mem) > 0 {
		idle := panel{title: "Idle RSS, MB (lower is better)"}
		held := panel{title: fmt.Sprintf("RSS holding %s idle connections, MB (lower is better)", groupDigits(float64(r.cfg.holdConns)))}
		for _, d := range r.defs {
			m := r.mem[d.name]
			if m == nil || m.Idle.RSS == 0 {
				idle.rows = append(idle.rows, panelRow{d.name, math.NaN(), "n/a", d.extra})
				held.rows = append(held.rows, panelRow{d.name, math.NaN(), "n/a", d.extra})
				continue
			}
			v := float64(m.Idle.RSS) / 1e6
			idle.rows = append(idle.rows, panelRow{d.name, v, fmt.Sprintf("%.1f", v), d.extra})
			if m.Hold.Opened == 0 {
				held.rows = append(held.rows, panelRow{d.name, math.NaN(), "n/a", d.extra})
				continue
			}
			v = float64(m.Held.RSS) / 1e6
			held.rows = append(held.rows, panelRow{d.name, v, fmt.Sprintf("%.1f", v), d.extra})
		}
		ps = append(ps, idle, held)
	}
	if len(r.activ) > 0 || len(r.startup) > 0 {
		pn := panel{title: "Start-up, ms (lower is better)"}
		add := func(label string, ds []time.Duration) {
			ms := durs(ds)
			if len(ms) == 0 {
				return
			}
			v := median(ms)
			pn.rows = append(pn.rows, panelRow{label, v, fmt.Sprintf("%.1f", v), false})
		}
		add("gotwistd exec to READY=1", pick(r.startup["gotwistd"], func(s startupResult) time.Duration { return s.Ready }))
		for _, name := range []string{"gotwistd", "twistd3"} {
			add(name+" exec to 1st response", pick(r.startup[name], func(s startupResult) time.Duration { return s.FirstResp }))
		}
		for _, name := range append([]string{"gotwistd", "twistd3"}, yardstickNames...) {
			add(name+" cold activation, 1st byte", pick(r.activ[name], func(a activationResult) time.Duration { return a.FirstByte }))
		}
		if len(pn.rows) > 0 {
			ps = append(ps, pn)
		}
	}
	return ps
}

// chartScript writes one data file per panel into dir and returns a gnuplot
// script drawing them as a grid of horizontal bar charts into png.
func (b *bench) chartScript(dir, png string) string {
	ps := b.chartPanels()
	if len(ps) == 0 {
		return ""
	}
	cols := 3
	if len(ps) < 3 {
		cols = len(ps)
	}
	rows := (len(ps) + cols - 1) / cols
	abs, _ := filepath.Abs(png)
	var s strings.Builder
	fmt.Fprintf(&s, "set terminal pngcairo size %d,%d font 'DejaVu Sans,11' background '#ffffff'\n", 620*cols, 330*rows+70)
	fmt.Fprintf(&s, "set output %s\n", gpString(abs))
	title := fmt.Sprintf("gotwistd vs peers, %s, %d cores, wrk/h2load/h3load on the same machine (%s)",
		b.res.started.UTC().Format("2006-01-02"), runtime.NumCPU(), map[bool]string{true: "quick smoke run", false: "median of " + fmt.Sprint(b.res.cfg.rounds) + " rounds"}[b.res.cfg.quick])
	if med, _, n := b.res.noise(); n > 0 && med > b.res.cfg.maxNoise {
		title += fmt.Sprintf(" - NOISY: other processes used %.0f%% of the CPU (median)", med*100)
	}
	fmt.Fprintf(&s, "set multiplot layout %d,%d title %s font ',14'\n", rows, cols, gpString(title))
	// No x axis: every bar carries its value, and the bars share a zero.
	s.WriteString("unset key\nset border 2\nunset xtics\nset ytics nomirror scale 0 font ',11'\n")
	s.WriteString("set style fill solid 0.9 noborder\n")
	s.WriteString("set lmargin 22\nset rmargin 3\n")
	for i, p := range ps {
		data := filepath.Join(dir, fmt.Sprintf("panel%d.dat", i))
		var d strings.Builder
		maxV := 0.0
		var tics []string
		for j, r := range p.rows {
			v := r.value
			if math.IsNaN(v) {
				v = 0
			}
			maxV = math.Max(maxV, v)
			color := serverColor[strings.Fields(r.name)[0]]
			if r.extra {
				color = "#f4a6a6" // gotwistd@REV and the engine columns: gotwistd's red, lighter
			}
			if color == "" {
				color = "#555555"
			}
			rgb, _ := strconv.ParseInt(strings.TrimPrefix(color, "#"), 16, 64)
			fmt.Fprintf(&d, "%d %g %d %s\n", j, v, rgb, gpString(r.label))
			// "@" (and "^", "_") are markup in gnuplot's enhanced text.
			name := strings.NewReplacer("@", `\@`, "^", `\^`, "_", `\_`).Replace(r.name)
			tics = append(tics, fmt.Sprintf("%s %d", gpString(name), j))
		}
		if err := os.WriteFile(data, []byte(d.String()), 0o644); err != nil {
			return ""
		}
		if maxV == 0 {
			maxV = 1
		}
		fmt.Fprintf(&s, "set title %s font ',12'\n", gpString(p.title))
		// First row at the top.
		fmt.Fprintf(&s, "set yrange [%g:%g]\n", float64(len(p.rows))-0.4, -0.6)
		fmt.Fprintf(&s, "set ytics (%s)\n", strings.Join(tics, ", "))
		fmt.Fprintf(&s, "set xrange [0:%g]\n", maxV*1.3)
		fmt.Fprintf(&s, "plot %s using (0):1:(0):2:($1-0.36):($1+0.36):3 with boxxyerror lc rgb variable, \\\n", gpString(data))
		fmt.Fprintf(&s, "     '' using 2:1:4 with labels left offset char 0.6,0 font ',10'\n")
	}
	s.WriteString("unset multiplot\n")
	return s.String()
}

// gpString quotes s as a gnuplot double-quoted string.
func gpString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}
