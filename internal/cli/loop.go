package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/gotwistd/gotwistd/service"
	"github.com/gotwistd/gotwistd/systemd"
)

// runLoop runs the main loop with the watchdog, then logs the end of the
// run ("Main loop terminated.", "Server Shut Down.") around removePID. Its
// error is the fatal one of run.
func (l *loop) runLoop(removePID func()) error {
	watchdogCtx, stopWatchdog := context.WithCancel(context.Background())
	l.startWatchdog(watchdogCtx)
	err := l.run()
	stopWatchdog()
	l.logger.Info("Main loop terminated.")
	removePID()
	l.logger.Info("Server Shut Down.")
	return err
}

// loop is the runner's main loop: signals, the service's end, watchdog
// health checks.
type loop struct {
	o         *options
	svc       service.Service
	logger    *slog.Logger
	log       *logOutput
	sigs      <-chan os.Signal
	pending   []os.Signal // SIGHUP/SIGUSR1 received during a slow start
	serveDone <-chan error
	pings     chan chan struct{}

	stopSignals    int
	shutdownDone   chan error // nil until the shutdown starts
	cancelShutdown context.CancelFunc
}

// run serves until the service has stopped: Serve returned and, if a
// shutdown was started, Shutdown returned too. Its error is the fatal one.
func (l *loop) run() error {
	var (
		fatal            error
		served, shutdown bool
	)
	defer func() {
		if l.cancelShutdown != nil {
			l.cancelShutdown()
		}
	}()
	for _, sig := range l.pending {
		l.signal(sig)
	}
	for !served || (l.shutdownDone != nil && !shutdown) {
		select {
		case sig := <-l.sigs:
			if err := l.signal(sig); err != nil {
				return err
			}
		case err := <-l.serveDone:
			served = true
			switch {
			case err != nil && l.shutdownDone == nil:
				fatal = fmt.Errorf("server failed: %w", err)
				l.logger.Error(fatal.Error())
				notifyLogged(l.logger, "STATUS=")(systemd.Errno(fatal, ""))
				l.startShutdown()
			case err != nil:
				l.logger.Warn(fmt.Sprintf("server stopped with an error: %v", err))
			case l.shutdownDone == nil:
				// Serve finished on its own (e.g. it served the one
				// connection of an Accept=yes socket): clean up.
				l.startShutdown()
			}
		case err := <-l.shutdownDone:
			shutdown = true
			switch {
			case err == nil:
			case errors.Is(err, context.DeadlineExceeded):
				l.logger.Info(fmt.Sprintf("Grace period of %s is over: closed the connections still open.", l.o.shutdownTimeout))
			case errors.Is(err, context.Canceled):
				// A second signal; already logged.
			default:
				l.logger.Warn(fmt.Sprintf("shutdown: %v", err))
			}
		case reply := <-l.pings:
			close(reply)
		}
	}
	return fatal
}

// signal handles one signal; its error is fatal.
func (l *loop) signal(sig os.Signal) error {
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT:
		return l.stopSignal(sig)
	case syscall.SIGHUP:
		l.reload()
	case sigReopenLogs:
		l.reopenLogs()
	}
	return nil
}

func (l *loop) stopSignal(sig os.Signal) error {
	name := signalName(sig)
	l.stopSignals++
	switch {
	case l.stopSignals == 1 && l.shutdownDone == nil:
		l.logger.Info(fmt.Sprintf("Received %s, shutting down.", name))
		l.startShutdown()
	case l.stopSignals <= 2:
		l.logger.Info(fmt.Sprintf("Received %s again, closing all connections now.", name))
		l.cancelShutdown()
	default:
		l.logger.Info(fmt.Sprintf("Received %s a third time, exiting without waiting for the server.", name))
		return fmt.Errorf("the server did not stop after %s twice", name)
	}
	return nil
}

// startShutdown tells systemd and starts Service.Shutdown with the grace
// period; the loop waits for it.
func (l *loop) startShutdown() {
	notifyLogged(l.logger, "STOPPING=1")(systemd.Stopping("shutting down"))
	ctx, cancel := context.WithTimeout(context.Background(), l.o.shutdownTimeout)
	done := make(chan error, 1)
	l.cancelShutdown, l.shutdownDone = cancel, done
	go func() { done <- l.svc.Shutdown(ctx) }()
}

func (l *loop) reload() {
	if l.shutdownDone != nil {
		l.logger.Info("Received SIGHUP while shutting down; not reloading.")
		return
	}
	l.logger.Info("Received SIGHUP, reloading.")
	notifyLogged(l.logger, "RELOADING=1")(systemd.Reloading())
	if l.log.file != nil {
		if err := l.log.file.Reopen(); err != nil {
			l.logger.Error(fmt.Sprintf("Reload: the log file stays as it was: %v", err))
		}
	}
	err := l.svc.Reload()
	status := l.svc.Status()
	if err != nil {
		l.logger.Error(fmt.Sprintf("Reload failed: %v", err))
		status = fmt.Sprintf("reload failed: %v; %s", err, status)
	} else {
		l.logger.Info("Reload complete.")
	}
	notifyLogged(l.logger, "READY=1")(systemd.Ready(status))
}

func (l *loop) reopenLogs() {
	what := "reopened the log files"
	if f := l.log.file; f != nil {
		rotated, err := f.Rotate()
		switch {
		case err != nil:
			l.logger.Error(fmt.Sprintf("Received SIGUSR1: the log file stays as it was: %v", err))
		case rotated:
			what = fmt.Sprintf("rotated the log file (the previous one is now %s.1)", f.Path())
		}
	}
	if err := l.svc.ReopenLogs(); err != nil {
		l.logger.Error(fmt.Sprintf("Received SIGUSR1: reopening the service's log files failed: %v", err))
		return
	}
	l.logger.Info("Received SIGUSR1, " + what + ".")
}

// startWatchdog feeds systemd's watchdog (WatchdogSec=) while the main
// loop answers within a quarter of the interval and, when the service has
// a Healthy(ctx) error method, while that passes too. A loop stuck in a
// reload or a deadlocked service stops the pings, and systemd restarts it.
func (l *loop) startWatchdog(ctx context.Context) {
	d, err := systemd.WatchdogInterval()
	if err != nil {
		l.logger.Warn(fmt.Sprintf("systemd watchdog: %v", err))
		return
	}
	if d <= 0 {
		return
	}
	l.logger.Info(fmt.Sprintf("systemd watchdog: %s, pinging every %s.", d, d/2))
	checker, _ := l.svc.(interface{ Healthy(context.Context) error })
	healthy := func() bool {
		hctx, cancel := context.WithTimeout(ctx, d/4)
		defer cancel()
		reply := make(chan struct{})
		select {
		case l.pings <- reply:
		case <-hctx.Done():
			l.logger.Warn("systemd watchdog: the main loop did not answer; not pinging.")
			return false
		}
		select {
		case <-reply:
		case <-hctx.Done():
			return false
		}
		if checker != nil {
			if err := checker.Healthy(hctx); err != nil {
				l.logger.Warn(fmt.Sprintf("systemd watchdog: health check failed, not pinging: %v", err))
				return false
			}
		}
		return true
	}
	go func() {
		if err := systemd.RunWatchdog(ctx, healthy); err != nil {
			l.logger.Error(fmt.Sprintf("systemd watchdog stopped: %v", err))
		}
	}()
}
