package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/stat and /proc/PID/stat times;
// it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// machineBusy returns the busy time of all CPUs together, in clock ticks,
// from /proc/stat: user, nice, system, irq, softirq and steal (time the
// hypervisor gave to someone else counts as taken from us).
func machineBusy() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStatBusy(string(b))
}

func parseProcStatBusy(s string) (int64, error) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var busy int64
		// user nice system idle iowait irq softirq steal
		for _, i := range []int{1, 2, 3, 6, 7, 8} {
			n, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse /proc/stat: %w", err)
			}
			busy += n
		}
		return busy, nil
	}
	return 0, fmt.Errorf("parse /proc/stat: no cpu line")
}

// groupCPU returns the user+system time of the live processes of a process
// group, in clock ticks.
func groupCPU(pgid int) int64 {
	var total int64
	for _, pid := range groupPIDs(pgid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		total += parseStatCPU(string(b))
	}
	return total
}

// parseStatCPU returns utime+stime (fields 14 and 15) of a /proc/PID/stat line.
func parseStatCPU(stat string) int64 {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field N is f[N-3].
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// cpuWatch measures, over one load run, the share of the machine's CPU time
// used by anything other than the server under test and the load generator:
// the noise in that run.
type cpuWatch struct {
	start     time.Time
	busy0     int64
	server0   int64
	pgid      int
	ncpu      int
	available bool
}

func startCPUWatch(pgid, ncpu int) *cpuWatch {
	w := &cpuWatch{start: time.Now(), pgid: pgid, ncpu: ncpu}
	busy, err := machineBusy()
	if err != nil {
		return w
	}
	w.busy0, w.server0, w.available = busy, groupCPU(pgid), true
	return w
}

// foreign returns the fraction (0..1) of all CPUs' time during the run that
// went to other processes, given the load generator's own CPU time; -1 when
// it could not be measured.
func (w *cpuWatch) foreign(loadgen time.Duration) float64 {
	if !w.available {
		return -1
	}
	busy, err := machineBusy()
	if err != nil {
		return -1
	}
	elapsed := time.Since(w.start).Seconds() * clockTicks * float64(w.ncpu)
	if elapsed <= 0 {
		return -1
	}
	server := groupCPU(w.pgid) - w.server0
	other := float64(busy-w.busy0-server) - loadgen.Seconds()*clockTicks
	if other < 0 {
		other = 0
	}
	return other / elapsed
}
