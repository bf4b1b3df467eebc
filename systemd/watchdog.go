package systemd

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"
)

// WatchdogInterval returns the watchdog timeout the manager set for this
// process (WatchdogSec=), read from WATCHDOG_USEC and WATCHDOG_PID on every
// call without unsetting them. Ping at half of it (RunWatchdog does).
//
// Results:
//   - (0, nil): WATCHDOG_USEC is unset or empty (no watchdog), or
//     WATCHDOG_PID names another process (the variables were inherited and
//     are not meant for us).
//   - (d, nil): the watchdog is on for this process, with timeout d;
//     WATCHDOG_PID is unset or our pid.
//   - (0, err wrapping ErrBadEnvironment): WATCHDOG_USEC is set but not a
//     positive decimal number of microseconds (or overflows a Duration), or
//     WATCHDOG_PID is set but not a positive decimal pid.
func WatchdogInterval() (time.Duration, error) {
	return sys.watchdogInterval()
}

// RunWatchdog keeps the watchdog fed: while the watchdog is on, it sends
// WATCHDOG=1 at once and then every half interval, each time only if
// healthy() returns true (a nil healthy counts as always healthy). When
// healthy() returns false, or hangs, pings stop, and systemd kills and
// (with Restart=) restarts the service once the interval passes; if healthy()
// turns true again before that, pings resume. Run it in its own goroutine.
//
// Results:
//   - nil at once: the watchdog is off for this process (WatchdogInterval
//     returns 0) or NOTIFY_SOCKET is unset.
//   - nil when ctx is done: the normal end; stop it when shutting down.
//   - an error wrapping ErrBadEnvironment at once: see WatchdogInterval and
//     Notify.
//   - an error as soon as a ping cannot be sent (see Notify); systemd will
//     then kill the service at the end of the interval, so log it.
func RunWatchdog(ctx context.Context, healthy func() bool) error {
	return sys.runWatchdog(ctx, healthy)
}

func (e env) watchdogInterval() (time.Duration, error) {
	s := e.getenv("WATCHDOG_USEC")
	if s == "" {
		return 0, nil
	}
	if p := e.getenv("WATCHDOG_PID"); p != "" {
		pid, err := strconv.ParseUint(p, 10, 31)
		if err != nil || pid == 0 {
			return 0, fmt.Errorf("WATCHDOG_PID=%q is not a pid: %w", p, ErrBadEnvironment)
		}
		if int(pid) != e.getpid() {
			return 0, nil
		}
	}
	usec, err := strconv.ParseUint(s, 10, 64)
	if err != nil || usec == 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q is not a positive number of microseconds: %w", s, ErrBadEnvironment)
	}
	if usec > math.MaxInt64/uint64(time.Microsecond) {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q is too large: %w", s, ErrBadEnvironment)
	}
	return time.Duration(usec) * time.Microsecond, nil
}

func (e env) runWatchdog(ctx context.Context, healthy func() bool) error {
	interval, err := e.watchdogInterval()
	if err != nil || interval == 0 {
		return err
	}
	if e.getenv("NOTIFY_SOCKET") == "" {
		return nil
	}
	if err := checkNotifySocket(e.getenv("NOTIFY_SOCKET")); err != nil {
		return err
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if healthy == nil || healthy() {
			sent, err := e.notify("WATCHDOG=1", nil)
			if err != nil {
				return fmt.Errorf("watchdog ping: %w", err)
			}
			if !sent {
				return nil // NOTIFY_SOCKET went away
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
