package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Pauses of an accept loop that is out of file descriptors (or kernel
// memory): the first retry comes soon, later ones back off to a second,
// so a process at its open-files limit does not spin on a listening socket
// that stays readable.
const (
	acceptRetryFirst = 5 * time.Millisecond
	acceptRetryMax   = time.Second
)

// acceptRetryLogEvery is the least time between two "out of file
// descriptors" lines of one listener.
const acceptRetryLogEvery = time.Minute

// acceptRetryListener waits out the accept errors that mean "no resources
// now" (EMFILE, ENFILE, ENOBUFS, ENOMEM) instead of handing them to the
// server, whose own loop (net/http's, or h1's) would log a line for each
// retry. The connection stays in the kernel's listen queue meanwhile and
// is accepted, not refused, once a descriptor frees up. It says once in
// the log that the limit was reached, naming it and the fix, and once
// that connections are accepted again.
type acceptRetryListener struct {
	net.Listener
	name    string // the endpoint, for the log
	logger  *slog.Logger
	rlimit  func() (uint64, error) // the open-files limit; a seam for tests
	openFDs func() (int, error)    // how many descriptors the process has open; a seam for tests

	closeOnce sync.Once
	closed    chan struct{}

	mu      sync.Mutex // serializes the state below between accepting goroutines
	limited bool       // the last accept failed for want of resources
	logged  bool       // this episode was logged
	since   time.Time  // when this episode began
	retries int64      // failed accepts in this episode
	lastLog time.Time
}

func newAcceptRetryListener(l net.Listener, name string, logger *slog.Logger) *acceptRetryListener {
	return &acceptRetryListener{Listener: l, name: name, logger: logger, rlimit: openFilesLimit, openFDs: countOpenFDs, closed: make(chan struct{})}
}

// Accept returns the next connection, waiting while the process has no
// descriptor for it. Other errors are returned as they are.
func (l *acceptRetryListener) Accept() (net.Conn, error) {
	delay := time.Duration(0)
	for {
		// A retry accepts only with descriptors to spare: a connection
		// that took the last one would have none left to open the file
		// it asks for.
		if delay == 0 || l.headroom() {
			c, err := l.Listener.Accept()
			if err == nil {
				if delay == 0 {
					l.recovered() // accepted at the first try: the limit is behind us
				}
				return c, nil
			}
			if !outOfResources(err) {
				return nil, err
			}
			l.failed(err)
		}
		if !l.wait(&delay) {
			return nil, fmt.Errorf("accept on %s: %w", l.name, net.ErrClosed)
		}
	}
}

// wait sleeps for the next retry's delay, doubling it from
// acceptRetryFirst up to acceptRetryMax; false if the listener was closed
// meanwhile.
func (l *acceptRetryListener) wait(delay *time.Duration) bool {
	if *delay == 0 {
		*delay = acceptRetryFirst
	} else {
		*delay = min(2**delay, acceptRetryMax)
	}
	t := time.NewTimer(*delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.closed:
		return false
	}
}

// acceptHeadroom is how many descriptors must be free before a retry
// accepts again: the connection's own, and what serving its request opens
// (the file, its compressed sibling, a directory for a listing).
const acceptHeadroom = 8

// headroom reports whether at least acceptHeadroom descriptors are free
// under the open-files limit. When it cannot tell (no limit known, no
// /proc), it says yes and the accept is tried as before.
func (l *acceptRetryListener) headroom() bool {
	limit, err := l.rlimit()
	if err != nil || l.openFDs == nil {
		return true
	}
	n, err := l.openFDs()
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		return false // not even one descriptor to look with
	}
	if err != nil {
		return true
	}
	return uint64(n)+acceptHeadroom <= limit
}

// Close closes the listener and ends a wait in Accept.
func (l *acceptRetryListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Unwrap returns the listener beneath.
func (l *acceptRetryListener) Unwrap() net.Listener { return l.Listener }

func (l *acceptRetryListener) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retries++
	if l.limited {
		return
	}
	now := time.Now()
	l.limited, l.since, l.logged = true, now, false
	l.retries = 1
	if !l.lastLog.IsZero() && now.Sub(l.lastLog) < acceptRetryLogEvery {
		return // the last episode was just logged: this one stays quiet
	}
	l.logged, l.lastLog = true, now
	limit := "unknown"
	if n, lerr := l.rlimit(); lerr == nil {
		limit = fmt.Sprint(n)
	}
	hint := "raise the open-files limit (LimitNOFILE= in the unit, ulimit -n) or lower --max-connections"
	if !errors.Is(err, syscall.EMFILE) {
		hint = "the system is short of file descriptors or memory"
	}
	l.logger.Warn(fmt.Sprintf("Cannot accept connections on %s: %v (open-files limit %s); they wait in the listen queue, retried up to once a second: %s",
		l.name, errors.Unwrap(err), limit, hint))
}

func (l *acceptRetryListener) recovered() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.limited {
		return
	}
	l.limited = false
	if l.logged {
		l.logger.Info(fmt.Sprintf("Accepting connections on %s again, after %v and %d retries",
			l.name, time.Since(l.since).Round(time.Millisecond), l.retries))
	}
}

// outOfResources reports whether an accept error means the process or the
// system has no descriptor or memory for a connection now.
func outOfResources(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
