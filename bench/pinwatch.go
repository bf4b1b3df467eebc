package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// pinEvery is how often a pinWatch looks at the server's threads.
const pinEvery = 100 * time.Millisecond

// pinWatch samples, during one load run, whether any thread of the server
// under test may run on one CPU alone: gotwistd's HTTP/1.1 loops pin
// themselves when its plan finds a request cheaper that way
// (web/h1/affinity_linux.go), so the share of samples pinned says which way
// a run was served. No peer here pins a thread by default.
type pinWatch struct {
	pids          []int // the group's processes at the start (read once: scanning /proc costs)
	stop          chan struct{}
	wg            sync.WaitGroup
	samples, hits int
}

func startPinWatch(pgid, ncpu int) *pinWatch {
	w := &pinWatch{pids: groupPIDs(pgid), stop: make(chan struct{})}
	if ncpu < 2 {
		return w // one CPU: nothing to pin to
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(pinEvery)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				pinned, ok := anyPinned(w.pids)
				if !ok {
					continue
				}
				w.samples++
				if pinned {
					w.hits++
				}
			}
		}
	}()
	return w
}

// share stops the watch and returns the share (0..1) of its samples in
// which a thread was pinned; -1 when none could be taken.
func (w *pinWatch) share() float64 {
	close(w.stop)
	w.wg.Wait()
	if w.samples == 0 {
		return -1
	}
	return float64(w.hits) / float64(w.samples)
}

// anyPinned reports whether a thread of the processes is allowed on a
// single CPU; ok is false when no thread's status could be read.
func anyPinned(pids []int) (pinned, ok bool) {
	for _, pid := range pids {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
			if err != nil {
				continue
			}
			one, found := singleCPU(string(b))
			if !found {
				continue
			}
			ok = true
			if one {
				return true, true
			}
		}
	}
	return false, ok
}

// singleCPU reads the Cpus_allowed_list line of a /proc/PID/task/TID/status
// file and reports whether it names one CPU ("1", not "0-1" or "0,2").
func singleCPU(status string) (one, found bool) {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		return v != "" && !strings.ContainsAny(v, ",-"), true
	}
	return false, false
}
