package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// median of xs; NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratioInterval is a 95% bootstrap interval of median(a)/median(b): both
// samples are drawn again with replacement, the ratio of their medians
// taken, 2000 times, and the 2.5th and 97.5th percentiles returned. It
// says how far the ratio of two medians could move by chance alone, for
// the cases whose runs spread widely (a start under systemd: 5-50 ms). The
// draws are seeded from the samples' sizes, so a report is the same for
// the same numbers. NaN, NaN when a sample is empty.
func ratioInterval(a, b []float64) (lo, hi float64) {
	if len(a) == 0 || len(b) == 0 {
		return math.NaN(), math.NaN()
	}
	const draws = 2000
	rng := rand.New(rand.NewPCG(uint64(len(a)), uint64(len(b))))
	ratios := make([]float64, draws)
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	for i := range ratios {
		for j := range ra {
			ra[j] = a[rng.IntN(len(a))]
		}
		for j := range rb {
			rb[j] = b[rng.IntN(len(b))]
		}
		ratios[i] = median(ra) / median(rb)
	}
	sort.Float64s(ratios)
	return ratios[draws*25/1000], ratios[draws*975/1000-1]
}

func minMax(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	lo, hi = xs[0], xs[0]
	for _, x := range xs[1:] {
		lo = math.Min(lo, x)
		hi = math.Max(hi, x)
	}
	return lo, hi
}

func durs(ds []time.Duration) []float64 {
	out := make([]float64, 0, len(ds))
	for _, d := range ds {
		if d > 0 {
			out = append(out, float64(d)/float64(time.Millisecond))
		}
	}
	return out
}

// stat is a summary of one (case, server) cell.
type stat struct {
	ok       bool
	med      float64
	lo, hi   float64
	n        int     // runs counted
	badRuns  int     // runs not counted: >1% errors
	p99      float64 // median p99 latency, ms (wrk only)
	errCount int64
	foreign  float64   // median share of the CPU other processes used during the counted runs; NaN: unknown
	client   float64   // median share of the CPU the load generator used; NaN: unknown
	p50      float64   // median p50 latency, ms (h3load, wrk)
	bytesPer float64   // median bytes read per response, headers included (wrk); NaN: unknown
	pinned   []float64 // each counted run's share of samples with a thread pinned, in run order; -1: not sampled
	values   []float64 // each counted run's rate (req/s or GB/s), in run order
}

// anyPinned reports whether a thread was pinned in any counted run.
func (st stat) anyPinned() bool {
	for _, v := range st.pinned {
		if v > 0 {
			return true
		}
	}
	return false
}

// fmtPinned renders each run's pinned share: "0, 95, 100%".
func (st stat) fmtPinned() string {
	if len(st.pinned) == 0 {
		return ""
	}
	parts := make([]string, len(st.pinned))
	for i, v := range st.pinned {
		if v < 0 {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprintf("%.0f", v*100)
		}
	}
	return strings.Join(parts, ", ") + "%"
}

// throughputStat summarises the runs of one server in one case: the median
// requests/s of the runs with at most 1% errors.
func throughputStat(runs []loadResult) stat {
	var st stat
	var rps, p99, p50, foreign, client, per []float64
	for _, r := range runs {
		st.errCount += r.Errors + r.Non2xx
		if r.bad() {
			st.badRuns++
			continue
		}
		rps = append(rps, r.rps())
		st.pinned = append(st.pinned, r.Pinned)
		if r.Foreign >= 0 {
			foreign = append(foreign, r.Foreign)
		}
		if r.P99 > 0 {
			p99 = append(p99, float64(r.P99)/float64(time.Millisecond))
		}
		if r.P50 > 0 {
			p50 = append(p50, float64(r.P50)/float64(time.Millisecond))
		}
		if r.Client > 0 {
			client = append(client, r.Client)
		}
		if r.Bytes > 0 && r.Requests > 0 {
			per = append(per, float64(r.Bytes)/float64(r.Requests))
		}
	}
	st.foreign = median(foreign)
	st.client = median(client)
	st.bytesPer = median(per)
	if len(rps) == 0 {
		return st
	}
	st.ok = true
	st.values = rps
	st.med = median(rps)
	st.lo, st.hi = minMax(rps)
	st.n = len(rps)
	if len(p99) > 0 {
		st.p99 = median(p99)
	}
	if len(p50) > 0 {
		st.p50 = median(p50)
	}
	return st
}

// bestPeer returns the best value among peers (the highest, or the lowest
// when lowerBetter) and its server; ok is false when no peer has a value.
func bestPeer(defs []*serverDef, value func(name string) (float64, bool), lowerBetter bool) (best float64, who string, ok bool) {
	for _, d := range defs {
		if !d.peer {
			continue
		}
		v, has := value(d.name)
		if !has || math.IsNaN(v) {
			continue
		}
		if !ok || (lowerBetter && v < best) || (!lowerBetter && v > best) {
			best, who, ok = v, d.name, true
		}
	}
	return best, who, ok
}
