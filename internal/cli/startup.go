package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/gotwistd/gotwistd/internal/stackgrow"
	"github.com/gotwistd/gotwistd/systemd"
)

// The pace of a slow start's EXTEND_TIMEOUT_USEC messages: once a start has
// taken startSlowAfter, the runner asks for startExtension more every
// startExtendEvery, so TimeoutStartSec= (even 1-2 s) does not kill a start
// that is still under way; a missed tick or two does not either.
const (
	startSlowAfter   = time.Second
	startExtendEvery = time.Second
	startExtension   = 3 * time.Second
)

// errStartInterrupted ends a start stopped by SIGTERM or SIGINT before the
// service was up: the process exits 0, as after any stop by signal, but a
// daemon's parent hears that the start did not happen.
var errStartInterrupted = errors.New("start-up interrupted")

// errStartTimeout is wrapped by the error of a start that took longer than
// --start-timeout.
var errStartTimeout = errors.New("start-up did not finish")

// startWatch runs the steps of a start that may be slow (Plugin.New,
// Service.Listen) and watches the clock and the signals meanwhile. Once the
// start has taken startSlowAfter, it keeps extending systemd's start timeout
// (EXTEND_TIMEOUT_USEC, with a STATUS= line naming the step) up to
// --start-timeout after the start began, fails the start when that passes,
// stops it at once on SIGTERM/SIGINT, and keeps SIGHUP and SIGUSR1 for the
// main loop. A fast start sees none of this: its signals stay queued for the
// main loop, as they were.
type startWatch struct {
	begin  time.Time
	limit  time.Duration // --start-timeout; 0: no limit and no extension
	sigs   <-chan os.Signal
	logger *slog.Logger

	pending  []os.Signal // SIGHUP/SIGUSR1 received during a slow start
	extended bool        // the first extension was logged
}

// step runs fn, one step of the start described by what (e.g. "web:
// Listen (binding the listeners)"), and returns its error, or an error of
// its own when the start is stopped or runs out of time first. fn then
// keeps running until the process exits.
func (w *startWatch) step(what string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		stackgrow.To8K() // New and Listen go 8 KB deep (internal/stackgrow)
		done <- fn()
	}()

	slow := time.NewTimer(max(0, startSlowAfter-time.Since(w.begin)))
	defer slow.Stop()
	var limit <-chan time.Time
	if w.limit > 0 {
		t := time.NewTimer(max(0, w.limit-time.Since(w.begin)))
		defer t.Stop()
		limit = t.C
	}
	var (
		tick <-chan time.Time
		sigs <-chan os.Signal
	)
	for {
		select {
		case err := <-done:
			return err
		case <-slow.C:
			ticker := time.NewTicker(startExtendEvery)
			defer ticker.Stop()
			tick, sigs = ticker.C, w.sigs
			w.extend(what)
		case <-tick:
			w.extend(what)
		case sig := <-sigs:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				w.logger.Info(fmt.Sprintf("Received %s while starting up (%s), exiting.", signalName(sig), what))
				return fmt.Errorf("%w by %s (%s)", errStartInterrupted, signalName(sig), what)
			default:
				w.logger.Info(fmt.Sprintf("Received %s while starting up; handling it once started.", signalName(sig)))
				w.pending = append(w.pending, sig)
			}
		case <-limit:
			return fmt.Errorf("%w within --start-timeout %s (still in %s): "+
				"find what it waits for, or raise --start-timeout", errStartTimeout, w.limit, what)
		}
	}
}

// extend asks systemd for more start-up time, never beyond --start-timeout
// (plus a second, so that gotwistd's own, clearer, error comes first).
func (w *startWatch) extend(what string) {
	if w.limit <= 0 {
		return
	}
	took := time.Since(w.begin)
	ext := min(startExtension, w.limit-took+time.Second)
	if ext <= 0 {
		return
	}
	usec := strconv.FormatInt(int64((ext+time.Microsecond-1)/time.Microsecond), 10)
	status := fmt.Sprintf("starting up (%s so far): %s", took.Round(time.Second), what)
	sent, err := systemd.Notify("EXTEND_TIMEOUT_USEC=" + usec + "\nSTATUS=" + status)
	switch {
	case err != nil:
		w.logger.Warn(fmt.Sprintf("sd_notify EXTEND_TIMEOUT_USEC: %v", err))
	case sent && !w.extended:
		w.extended = true
		w.logger.Info(fmt.Sprintf("Start-up is taking a while (%s); asking systemd for more time "+
			"(EXTEND_TIMEOUT_USEC) for up to --start-timeout %s in all.", what, w.limit))
	}
}
