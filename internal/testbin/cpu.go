package testbin

import (
	"syscall"
	"time"
)

// CPUOver sleeps for window (a measurement window, not a
// synchronisation) and returns the CPU time, user and system, that this
// process used meanwhile, and how long the window really lasted: for
// tests that a server left idle uses next to no CPU.
func CPUOver(window time.Duration) (used, elapsed time.Duration, err error) {
	before, err := cpuTime()
	if err != nil {
		return 0, 0, err
	}
	begin := time.Now()
	time.Sleep(window)
	after, err := cpuTime()
	return after - before, time.Since(begin), err
}

// cpuTime is the user and system time this process has used.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
