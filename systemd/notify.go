package systemd

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// ErrBadEnvironment is wrapped by every error about a malformed variable
// set by the service manager: NOTIFY_SOCKET, WATCHDOG_USEC or WATCHDOG_PID.
var ErrBadEnvironment = errors.New("malformed systemd environment variable")

// ErrInvalidArgument is wrapped by every error about a caller's argument
// that systemd would reject or misread: an empty or oversized state, a bad
// FDNAME, no files to store, a non-positive timeout extension.
var ErrInvalidArgument = errors.New("invalid sd_notify argument")

const (
	// maxMessage is the largest datagram systemd reads (NOTIFY_BUFFER_MAX,
	// PIPE_BUF); it silently ignores longer ones.
	maxMessage = 4096
	// maxStatus bounds STATUS= text written by the helpers; longer text is
	// cut at a character boundary so the message stays under maxMessage.
	maxStatus = 2048
	// maxFiles is the kernel's SCM_MAX_FD, the most fds one message carries.
	maxFiles = 253
	// maxSocketPath is sizeof(sun_path) minus the terminating NUL.
	maxSocketPath = 107
)

// Notify sends state to the service manager as one sd_notify datagram:
// newline-separated KEY=VALUE assignments such as "READY=1\nSTATUS=up".
// It reads NOTIFY_SOCKET, an absolute path or "@name" for an abstract
// socket, on every call and never unsets it, so any number of callers and
// calls work, and child processes inherit it.
//
// Results:
//   - (false, nil): NOTIFY_SOCKET is unset or empty; not running under a
//     service manager that wants notifications. Nothing was sent.
//   - (true, nil): the datagram was handed to the socket. systemd applies
//     it asynchronously; use Barrier to wait until it has.
//   - (false, err wrapping ErrInvalidArgument): state is empty, longer than
//     4096 bytes (systemd would drop it) or contains a NUL byte. Checked
//     before NOTIFY_SOCKET, so the mistake shows without systemd too.
//   - (false, err wrapping ErrBadEnvironment): NOTIFY_SOCKET is set but is
//     neither an absolute path nor "@name", or is too long for a socket
//     address (vsock: addresses are not supported).
//   - (false, err): connecting or sending failed, e.g. the socket does not
//     exist or refuses (a stale NOTIFY_SOCKET), or this system is not Linux.
//
// systemd accepts the message only from the processes NotifyAccess= allows
// (main by default for Type=notify); others are logged and ignored, which
// Notify cannot see.
func Notify(state string) (bool, error) {
	return sys.notify(state, nil)
}

// NotifyWithFiles is Notify with files attached to the datagram as
// SCM_RIGHTS, as FDSTORE=1 and BARRIER=1 need. The files stay open and
// owned by the caller; the manager receives duplicates. At most 253 files
// fit in one message. The results are those of Notify; in addition, a nil
// or closed file is an error wrapping ErrInvalidArgument (nil) or
// os.ErrClosed (closed), and nothing is sent.
func NotifyWithFiles(state string, files ...*os.File) (bool, error) {
	return sys.notify(state, files)
}

// Ready tells the manager that start-up (or a reload) is complete:
// READY=1, plus STATUS=status when status is not empty (an empty status
// leaves the previous status text in place). With Type=notify, systemctl
// start returns and ordered units start only after this. Results as Notify.
func Ready(status string) (bool, error) {
	return sys.ready(status)
}

func (e env) ready(status string) (bool, error) {
	return e.notify(withStatus("READY=1", status), nil)
}

// Reloading tells the manager a reload has begun: RELOADING=1 with
// MONOTONIC_USEC set to CLOCK_MONOTONIC in microseconds, which
// Type=notify-reload (systemd >= 253) requires to match the reload to its
// signal. Call Ready when the reload is done. Results as Notify; reading the
// clock can fail only on non-Linux systems.
func Reloading() (bool, error) {
	return sys.reloading()
}

// Stopping tells the manager that shutdown has begun: STOPPING=1, plus
// STATUS=status when status is not empty. Results as Notify.
func Stopping(status string) (bool, error) {
	return sys.stopping(status)
}

func (e env) stopping(status string) (bool, error) {
	return e.notify(withStatus("STOPPING=1", status), nil)
}

// Status sets the one-line status text systemctl status shows: STATUS=status.
// An empty status clears it. Newlines become spaces and text beyond 2048
// bytes is cut, so the text can neither inject other assignments nor make
// systemd drop the message. Results as Notify.
func Status(status string) (bool, error) {
	return sys.status(status)
}

func (e env) status(status string) (bool, error) {
	return e.notify("STATUS="+cleanStatus(status), nil)
}

// Errno reports a failure: STATUS=status (err's text when status is empty)
// and, when errors.As finds a non-zero syscall.Errno in err, ERRNO=<number>,
// which systemctl status shows as the error. Send it before exiting on a
// fatal error. Results as Notify.
func Errno(err error, status string) (bool, error) {
	return sys.errno(err, status)
}

func (e env) errno(err error, status string) (bool, error) {
	if status == "" && err != nil {
		status = err.Error()
	}
	state := "STATUS=" + cleanStatus(status)
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		state += "\nERRNO=" + strconv.FormatUint(uint64(errno), 10)
	}
	return e.notify(state, nil)
}

// ExtendTimeout asks the manager for d more time from now before the
// current start, runtime or stop timeout fires: EXTEND_TIMEOUT_USEC, rounded
// up to whole microseconds. Send it again before each extension runs out
// while a slow start is still making progress. A d <= 0 is an error wrapping
// ErrInvalidArgument; otherwise results as Notify.
func ExtendTimeout(d time.Duration) (bool, error) {
	return sys.extendTimeout(d)
}

func (e env) extendTimeout(d time.Duration) (bool, error) {
	if d <= 0 {
		return false, fmt.Errorf("sd_notify EXTEND_TIMEOUT_USEC: duration %v is not positive: %w", d, ErrInvalidArgument)
	}
	usec := (d + time.Microsecond - 1) / time.Microsecond
	return e.notify("EXTEND_TIMEOUT_USEC="+strconv.FormatInt(int64(usec), 10), nil)
}

func (e env) reloading() (bool, error) {
	now, err := e.monotonic()
	if err != nil {
		return false, fmt.Errorf("sd_notify RELOADING=1: %w", err)
	}
	return e.notify("RELOADING=1\nMONOTONIC_USEC="+strconv.FormatInt(int64(now/time.Microsecond), 10), nil)
}

// notify validates the arguments, then the environment, then sends.
func (e env) notify(state string, files []*os.File) (bool, error) {
	if err := checkState(state, files); err != nil {
		return false, err
	}
	addr := e.getenv("NOTIFY_SOCKET")
	if addr == "" {
		return false, nil
	}
	if err := checkNotifySocket(addr); err != nil {
		return false, err
	}
	c, err := e.dial(addr)
	if err != nil {
		return false, fmt.Errorf("sd_notify: connect to NOTIFY_SOCKET=%s: %w", addr, err)
	}
	defer c.Close()
	if err := c.send([]byte(state), files); err != nil {
		return false, fmt.Errorf("sd_notify: send to NOTIFY_SOCKET=%s: %w", addr, err)
	}
	return true, nil
}

func checkState(state string, files []*os.File) error {
	switch {
	case state == "":
		return fmt.Errorf("sd_notify: empty state: %w", ErrInvalidArgument)
	case len(state) > maxMessage:
		return fmt.Errorf("sd_notify: state is %d bytes, systemd ignores messages over %d: %w", len(state), maxMessage, ErrInvalidArgument)
	case strings.IndexByte(state, 0) >= 0:
		return fmt.Errorf("sd_notify: state contains a NUL byte, which systemd rejects: %w", ErrInvalidArgument)
	case len(files) > maxFiles:
		return fmt.Errorf("sd_notify: %d files, at most %d fit in one message: %w", len(files), maxFiles, ErrInvalidArgument)
	}
	for i, f := range files {
		if f == nil {
			return fmt.Errorf("sd_notify: file %d is nil: %w", i, ErrInvalidArgument)
		}
	}
	return nil
}

// checkNotifySocket accepts what libsystemd's sd_notify accepts, except
// vsock: addresses.
func checkNotifySocket(addr string) error {
	switch {
	case strings.HasPrefix(addr, "vsock:"):
		return fmt.Errorf("NOTIFY_SOCKET=%q: vsock addresses are not supported: %w", addr, ErrBadEnvironment)
	case addr == "@":
		return fmt.Errorf("NOTIFY_SOCKET=%q: empty abstract socket name: %w", addr, ErrBadEnvironment)
	case addr[0] != '/' && addr[0] != '@':
		return fmt.Errorf("NOTIFY_SOCKET=%q is neither an absolute path nor an @abstract name: %w", addr, ErrBadEnvironment)
	case len(addr) > maxSocketPath:
		return fmt.Errorf("NOTIFY_SOCKET=%q is longer than %d bytes: %w", addr, maxSocketPath, ErrBadEnvironment)
	}
	return nil
}

// withStatus appends a STATUS= line to state when status is not empty.
func withStatus(state, status string) string {
	if status == "" {
		return state
	}
	return state + "\nSTATUS=" + cleanStatus(status)
}

// cleanStatus makes status safe as one assignment's value: newlines become
// spaces, NUL bytes go, and it is cut to maxStatus bytes on a character
// boundary.
func cleanStatus(status string) string {
	status = strings.Map(func(r rune) rune {
		switch r {
		case '\n', '\r':
			return ' '
		case 0:
			return -1
		}
		return r
	}, status)
	if len(status) <= maxStatus {
		return status
	}
	cut := maxStatus
	for cut > 0 && !utf8.RuneStart(status[cut]) {
		cut--
	}
	return status[:cut]
}
