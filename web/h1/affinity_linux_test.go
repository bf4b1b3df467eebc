package h1

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPinPlan runs the plan on loads whose CPU per request depends on
// whether the loops were pinned in the window (as measured on 2 cores
// with wrk on the same machine), and checks the way it settles on and
// what its trials cost.
func TestPinPlan(t *testing.T) {
	type phase struct {
		secs             float64 // how long
		pinned, unpinned float64 // µs of CPU per request either way
		rate             float64 // requests per second
	}
	spread := phase{secs: 120, pinned: 3.7, unpinned: 5.3, rate: 200e3}   // wrk -t2 -c50
	oneThread := phase{secs: 120, pinned: 20, unpinned: 6.5, rate: 140e3} // wrk -t1 -c4
	for _, tc := range []struct {
		name   string
		phases []phase
		// Of the last phase's windows after its first 2 s: at least
		// this fraction pinned, and at most that (the trials of the
		// other way are the rest: a lost trial is tried again after
		// 1, 2, 4 ... 60 s).
		atLeast, atMost float64
		// Where the count starts, in seconds into the last phase; 0
		// is 2 s.
		from float64
	}{
		{name: "spread clients: pinned", phases: []phase{spread}, atLeast: 0.9, atMost: 1},
		{name: "one client thread: not pinned", phases: []phase{oneThread}, atLeast: 0, atMost: 0.05},
		{name: "no difference: not pinned", phases: []phase{{secs: 120, pinned: 5, unpinned: 5, rate: 100e3}}, atLeast: 0, atMost: 0.05},
		{name: "too little load: nothing tried", phases: []phase{{secs: 120, pinned: 1, unpinned: 10, rate: 1000}}, atLeast: 0, atMost: 0},
		{name: "spread after one thread, no pause", phases: []phase{oneThread, {secs: 120, pinned: 3.7, unpinned: 5.3, rate: 200e3}}, atLeast: 0.9, atMost: 1},
		{name: "one thread after spread, no pause", phases: []phase{spread, {secs: 120, pinned: 20, unpinned: 6.5, rate: 140e3}}, atLeast: 0, atMost: 0.05},
		{name: "one thread after spread, a pause between", phases: []phase{spread, {secs: 2, rate: 0}, oneThread}, atLeast: 0, atMost: 0.05},
		{name: "spread after an idle start", phases: []phase{{secs: 5, rate: 0}, spread}, atLeast: 0.9, atMost: 1},
		{name: "one odd window: no trial", phases: []phase{spread, {secs: 0.25, pinned: 30, unpinned: 30, rate: 50e3}, {secs: 3, pinned: 3.7, unpinned: 5.3, rate: 200e3}}, atLeast: 1, atMost: 1, from: 0.01},
		{name: "the same load after a long pause: no trial at its return", phases: []phase{spread, {secs: 60, rate: 0}, {secs: 3, pinned: 3.7, unpinned: 5.3, rate: 200e3}}, atLeast: 1, atMost: 1, from: 0.01},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p pinPlan
			pinned := false
			var lastPinned, lastAll int
			for i, ph := range tc.phases {
				n := int(ph.secs / pinWindow.Seconds())
				for w := range n {
					cost := ph.unpinned
					if pinned {
						cost = ph.pinned
					}
					reqs := int64(ph.rate * pinWindow.Seconds())
					cpu := time.Duration(float64(reqs) * cost * 1e3)
					pinned = p.window(pinWindow, reqs, cpu)
					from := tc.from
					if from == 0 {
						from = 2
					}
					if i == len(tc.phases)-1 && float64(w)*pinWindow.Seconds() >= from {
						lastAll++
						if pinned {
							lastPinned++
						}
					}
				}
			}
			got := float64(lastPinned) / float64(lastAll)
			if got < tc.atLeast || got > tc.atMost {
				t.Errorf("pinned in %.2f of the windows, want %.2f to %.2f", got, tc.atLeast, tc.atMost)
			}
		})
	}
}

// pinnedServer serves the fast files on loopback with loops pinned to
// the CPUs, and returns the server and its address; it skips the test
// with fewer than 2 CPUs or where the loops cannot be pinned.
func pinnedServer(t *testing.T) (*Server, string) {
	t.Helper()
	s, _ := newFastServer()
	if !s.pinnable() {
		t.Skip("loops cannot have a CPU each here (fewer than 2 CPUs, or GOMAXPROCS differs)")
	}
	s.pinAlways.Store(true)
	return s, serveLoopback(t, s, nil)
}

// fromCPU runs f on a thread that runs on cpu alone.
func fromCPU(t *testing.T, cpu int, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var was, set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &was); err != nil {
			done <- err
			return
		}
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			done <- err
			return
		}
		f()
		// The thread goes back to the runtime as it came.
		done <- unix.SchedSetaffinity(0, &was)
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// heldBy returns, per loop CPU, how many connections each loop holds.
func heldBy(s *Server) map[int]int {
	held := map[int]int{}
	s.loops.mu.Lock()
	defer s.loops.mu.Unlock()
	for _, lp := range s.loops.all {
		lp.mu.Lock()
		held[lp.cpu] = len(lp.conns)
		lp.mu.Unlock()
	}
	return held
}

// TestLoopsFollowPackets: with the loops pinned, connections whose
// client sends from one CPU move to the loop on that CPU (of two, handed
// to the loops in turn, one at least starts in the other), and are
// answered there.
func TestLoopsFollowPackets(t *testing.T) {
	s, addr := pinnedServer(t)
	var cpus []int
	set, _ := processCPUs()
	for cpu := range len(set) * 64 {
		if set.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	for _, cpu := range cpus[:2] {
		t.Run(fmt.Sprint("cpu ", cpu), func(t *testing.T) {
			cs := []*client{dial(t, addr), dial(t, addr)}
			requests := func(n int) {
				fromCPU(t, cpu, func() {
					for range n {
						for _, c := range cs {
							if got := c.get("/a"); got != "fast:a" {
								t.Errorf("answer %q", got)
							}
						}
					}
				})
			}
			// Enough requests for several looks (every 16th time idle).
			requests(50)
			deadline := time.Now().Add(5 * time.Second)
			for heldBy(s)[cpu] != 2 {
				if time.Now().After(deadline) {
					t.Fatalf("connections by loop CPU %v; want both on CPU %d", heldBy(s), cpu)
				}
				requests(16)
			}
			for _, c := range cs {
				c.c.Close()
			}
			for total(heldBy(s)) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("closed, and the loops still hold %v", heldBy(s))
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// TestLoopsSpreadWhenUnpinned: connections that pinned loops gathered on
// the loop of the one CPU they come from are spread over the loops again
// when the loops are no longer pinned.
func TestLoopsSpreadWhenUnpinned(t *testing.T) {
	s, addr := pinnedServer(t)
	cpu, _ := processCPUs()
	first := 0
	for !cpu.IsSet(first) {
		first++
	}
	var cs []*client
	for range 8 {
		cs = append(cs, dial(t, addr))
	}
	run := func() {
		fromCPU(t, first, func() {
			for range 40 {
				for _, c := range cs {
					if got := c.get("/b"); got != "fast:b" {
						t.Errorf("answer %q", got)
					}
				}
			}
		})
	}
	run()
	held := heldBy(s)
	// At most an eighth more than the other loop: 5 and 3.
	if held[first] != 5 || total(held) != 8 {
		t.Fatalf("pinned, connections by loop CPU %v: want 5 of 8 on CPU %d", held, first)
	}
	s.pinAlways.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		run()
		held = heldBy(s)
		if held[first] == 4 && total(held) == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not pinned, connections by loop CPU %v: want 4 and 4", held)
		}
	}
}

func total(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
