package h1

import (
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Loops on CPUs. With one event loop per CPU the process may use, each
// loop can run on a CPU of its own ("pinned"), and a connection can be
// served by the loop on the CPU its packets arrive on (SO_INCOMING_CPU:
// where the kernel processed them; the client's CPU on loopback, the NIC
// queue's on a network): the wake-ups between the kernel's side and the
// loop's then stay on one CPU, and so do the connection's buffers.
//
// Whether that pays cannot be told from outside. With clients spread over
// the CPUs it does (wrk -t2 -c50 on 2 cores: small page 175-199k ->
// 261-287k requests/s, HTTPS 127-130k -> 175k). With one client thread on
// the machine it does not: the loop pinned beside it shares its CPU while
// the other loop idles (-t1 -c4: 142-159k -> 61-70k). And the obvious
// signs mislead: unpinned, the scheduler tends to put every client thread
// on one CPU and the loops on the other, so every connection reports the
// same CPU until the loops are pinned. What does tell the cases apart is
// what a request costs the process: 3.7 µs of CPU pinned against 4.6-5.6
// not pinned in the first case, 18-21 against 6.5 in the second.
//
// So the loops try (pinPlan): under load, now and then, and when the load
// changes, the other way for half a second, and keep it if a request cost
// clearly less in it than before. Unpinned is where a server starts.
// Measured by hand (wrk runs of 3 s in turn against one server, the same
// minutes, against the build without the plan): -t2 -c50 small page
// +31-45%, HTTPS +11-18%; -t1 -c4 after -t2 -c50, with the pinned way
// kept from before it, -5 to -19% (HTTPS -20 to -30%): a change of load
// costs about a second in the wrong way before the plan follows it, and
// a load that stays pays about 3% for the trials after its first minute.

// pinWindow is the length of one measurement of the plan.
const pinWindow = 250 * time.Millisecond

// pinMinRate is the least request rate (per second, served by the loops)
// at which a window tells anything; below it the plan waits.
const pinMinRate = 5000

// pinBetter: a trial is kept when a request cost at most this fraction of
// what it cost in the kept way's windows before it.
const pinBetter = 0.9

// pinDrift: a request that costs this many times more (or less) than in
// the kept way's windows since the last trial means the load changed (other
// clients, other files): a trial is due, as soon as the outcome of the
// last allows (a retry after a lost one).
const pinDrift = 1.2

// pinJump: a change of load by this factor is tried at once.
const pinJump = 2.0

// The time under load from a trial to the next: pinFirstRetry after the
// first one (or the first change of load after pinSettled of none),
// pinAfterWin after one that won, doubled with every trial that lost, up
// to pinMaxRetry. Time without load does not count: the schedule is the
// load's, and a trial falls where load was measured, not at every return
// of load after a pause.
const (
	pinFirstRetry = time.Second
	pinMaxRetry   = time.Minute
	pinAfterWin   = 10 * time.Second
	pinSettled    = time.Second
)

// windows is d in windows of the plan.
func windows(d time.Duration) int { return int(d / pinWindow) }

// pinPlan decides whether a Server's loops are pinned, from windows of
// (requests served, CPU used). It is the first loop's alone.
type pinPlan struct {
	phase       pinPhase
	kept        bool    // the way kept between trials: pinned or not
	cpu, reqs   float64 // the kept way's windows since the last trial (or change of load), summed
	sinceTrial  int     // loaded windows since the last trial ended
	due         int     // the next trial comes when sinceTrial reaches it
	retry       int     // the windows after the next trial to the one after it, if it loses
	sinceChange int     // loaded windows since the load last changed
	idle        bool    // the last window had too little load to tell
	back        bool    // the kept way is back after a lost trial: its first window tells nothing
	odd         bool    // the last window was unlike those before it
}

type pinPhase int

const (
	pinSteady pinPhase = iota // the kept way, measured
	pinSettle                 // the other way, not measured: connections move, threads migrate
	pinTrial                  // the other way, measured
)

// window takes the measurement of a window of length dt (reqs requests
// and cpu of the process's CPU time) and returns whether the loops are to
// be pinned in the next one.
//
// A trial is kept when a request cost at most pinBetter of what it cost
// in the kept way's windows before it. The first window after a lost one
// is not counted: the layout a trial leaves behind (which loop has which
// connection, which thread runs where) lasts a while, and was measured
// (with TLS) to cost a request 25% less than either way's steady state.
func (p *pinPlan) window(dt time.Duration, reqs int64, cpu time.Duration) bool {
	if dt <= 0 || float64(reqs) < pinMinRate*dt.Seconds() {
		// Too little load to tell: a trial under way is dropped, and
		// the loops leave their CPUs (locked to threads of their own
		// and pinned, idle loops cost the HTTP/2 engine 13% of its
		// requests: 416k -> 360k/s) until load comes back, with the
		// way kept.
		p.phase = pinSteady
		p.idle = true
		return false
	}
	if p.idle {
		// The first window of load after a pause is only partly
		// load, and its new connections' first requests are not the
		// loops': it tells nothing.
		p.idle = false
		return p.kept
	}
	per := float64(cpu) / float64(reqs)
	switch p.phase {
	case pinSteady:
		p.sinceTrial++
		p.sinceChange++
		if p.back {
			p.back = false
			return p.kept
		}
		avg := p.cpu / p.reqs
		drift := per > pinDrift*avg || per*pinDrift < avg
		if drift && !p.odd {
			// One window unlike the others (the last, partial one
			// of a load, a hiccup) is left out; the second in a
			// row is a change.
			p.odd = true
			return p.kept
		}
		p.odd = false
		if drift {
			// Another load (a request costs other than it did;
			// not with no window yet, avg NaN): what came before
			// it compares with nothing. It is tried as soon as the
			// last trial's outcome allows; and as after one lost
			// trial (the lost trials were another load's) if it is
			// the first change after pinSettled of none, or a jump
			// (one client thread instead of many: 4-5x). Changes all
			// the time keep doubling the retry.
			p.cpu, p.reqs = 0, 0
			if p.sinceChange > windows(pinSettled) || per > pinJump*avg || per*pinJump < avg {
				p.retry = windows(pinFirstRetry)
			}
			p.sinceChange = 0
			p.due = min(p.due, p.retry)
		}
		p.cpu += float64(cpu)
		p.reqs += float64(reqs)
		if p.sinceTrial >= p.due {
			p.phase = pinSettle
			return !p.kept
		}
	case pinSettle:
		p.phase = pinTrial
		return !p.kept
	case pinTrial:
		p.phase = pinSteady
		p.sinceTrial = 0
		if p.retry == 0 {
			p.retry = windows(pinFirstRetry)
		}
		if per <= pinBetter*p.cpu/p.reqs {
			p.kept = !p.kept
			p.retry = windows(pinAfterWin)
			p.cpu, p.reqs = float64(cpu), float64(reqs)
		} else {
			p.back = true
			p.cpu, p.reqs = 0, 0
		}
		p.due = p.retry
		p.retry = min(2*p.retry, windows(pinMaxRetry))
	}
	return p.kept
}

// affinity is a Server's loops' CPUs (in loops).
type affinity struct {
	plan pinPlan
	next time.Time     // the end of the plan's window
	reqs int64         // requests the loops had served at its start
	cpu  time.Duration // the process's CPU time then
	at   time.Time
}

// pinnable reports whether s's loops can each have a CPU: as many loops
// as CPUs the process may use, more than one.
func (s *Server) pinnable() bool {
	if s.noPinning {
		return false
	}
	set, err := processCPUs()
	if err != nil {
		return false
	}
	n := set.Count()
	return n > 1 && n == max(1, runtime.GOMAXPROCS(0))
}

// processCPUs are the CPUs the process may use, as its threads could
// before any loop pinned one: read once, by the first Server that makes
// loops (the thread that asks later may be one pinned to a CPU, or the
// process's first thread may have been).
var processCPUs = sync.OnceValues(func() (unix.CPUSet, error) {
	var set unix.CPUSet
	err := unix.SchedGetaffinity(0, &set)
	return set, err
})

// assignCPU gives lp, the i-th loop, the i-th CPU the process may use.
func (s *Server) assignCPU(lp *loop, i int) {
	set, _ := processCPUs()
	for cpu, k := 0, 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) {
			if k == i {
				lp.cpu = cpu
				return
			}
			k++
		}
	}
}

// planAffinity is the first loop's: at the end of each window it gives
// the plan what the loops served and what the process used.
func (lp *loop) planAffinity(now time.Time) {
	a := &lp.srv.loops.aff
	if now.Before(a.next) {
		return
	}
	if lp.srv.pinAlways.Load() {
		lp.srv.pinned.Store(true)
		a.next = now.Add(pinWindow)
		return
	}
	var reqs int64
	lp.srv.loops.mu.Lock()
	for _, o := range lp.srv.loops.all {
		reqs += o.work.served.Load()
	}
	lp.srv.loops.mu.Unlock()
	cpu := processCPU()
	if !a.at.IsZero() {
		lp.srv.pinned.Store(a.plan.window(now.Sub(a.at), reqs-a.reqs, cpu-a.cpu))
	}
	a.at, a.reqs, a.cpu = now, reqs, cpu
	a.next = now.Add(pinWindow)
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// applyAffinity puts lp's thread on its CPU, or back on all of them, as
// the plan says.
func (lp *loop) applyAffinity() {
	want := lp.srv.pinned.Load()
	if lp.cpu < 0 || want == lp.onCPU {
		return
	}
	set, _ := processCPUs()
	if want {
		// The goroutine keeps its thread while pinned: the CPU is
		// the thread's.
		runtime.LockOSThread()
		set.Zero()
		set.Set(lp.cpu)
	}
	if unix.SchedSetaffinity(0, &set) != nil {
		if want {
			runtime.UnlockOSThread() // not pinned
		}
		return // tried again at the next turn
	}
	lp.onCPU = want
	if !want {
		// On every CPU, the thread may serve any goroutine again (a
		// locked goroutine is woken on its own thread alone).
		runtime.UnlockOSThread()
	}
}

// look moves c, idle in lp again, every 16th time (the first
// included): while the loops are pinned, to the loop on the CPU its
// packets arrive on; while not, to the loop with the fewest connections,
// if lp has more than one more (what pinning gathered is spread again).
func (lp *loop) look(c *conn) {
	if lp.cpu < 0 {
		return
	}
	if c.looks++; c.looks&15 != 1 {
		return
	}
	if !lp.onCPU {
		if to := lp.srv.leastLoop(); to != nil && to != lp {
			lp.move(c, to, true)
		}
		return
	}
	cpu, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_INCOMING_CPU)
	if err != nil || cpu == lp.cpu {
		return
	}
	if to := lp.srv.loopOnCPU(cpu); to != nil {
		lp.move(c, to, false)
	}
}

// loopOnCPU is the loop whose CPU is cpu, or nil.
func (s *Server) loopOnCPU(cpu int) *loop {
	s.loops.mu.Lock()
	defer s.loops.mu.Unlock()
	for _, o := range s.loops.all {
		if o.cpu == cpu {
			return o
		}
	}
	return nil
}

// leastLoop is the loop with the fewest connections.
func (s *Server) leastLoop() *loop {
	s.loops.mu.Lock()
	defer s.loops.mu.Unlock()
	var least *loop
	fewest := 0
	for _, o := range s.loops.all {
		o.mu.Lock()
		n := len(o.conns)
		o.mu.Unlock()
		if least == nil || n < fewest {
			least, fewest = o, n
		}
	}
	return least
}

// move hands c, idle in lp, to the loop to, unless to has closed, or
// holds more than an eighth more connections than lp (packets that all
// arrive on one CPU, as from a NIC with one queue, must not leave the
// other loops idle), or, to spread them, not at least two fewer. It holds
// one loop's mutex at a time: two loops may be moving connections to each
// other.
func (lp *loop) move(c *conn, to *loop, spread bool) {
	lp.mu.Lock()
	here := len(lp.conns)
	lp.mu.Unlock()
	to.mu.Lock()
	there, closed := len(to.conns), to.closed
	to.mu.Unlock()
	if closed || there > here+(here+there)/8 || spread && there+2 > here {
		return
	}
	// Out of lp first: once in to's set, to may serve c, and end it.
	// Nothing is lost between: a socket with input waiting is ready in
	// to's set as soon as it is added.
	_ = unix.EpollCtl(lp.set.FD, unix.EPOLL_CTL_DEL, c.fd, nil)
	lp.mu.Lock()
	delete(lp.conns, c.fd)
	lp.mu.Unlock()
	to.mu.Lock()
	moved := !to.closed && to.addLocked(c)
	to.mu.Unlock()
	if !moved {
		// It stays where it was (lp runs this: its set is open). Should
		// the set refuse it back, it stays in the map, where the idle
		// timeout closes it.
		lp.mu.Lock()
		if !lp.addLocked(c) {
			lp.conns[c.fd] = c
		}
		lp.mu.Unlock()
	}
}
