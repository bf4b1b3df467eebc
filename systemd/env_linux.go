package systemd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// osEnv returns the real operating-system seam.
func osEnv() env {
	return env{
		getenv:    os.Getenv,
		getpid:    os.Getpid,
		monotonic: monotonicClock,
		dial:      dialUnixgram,
	}
}

func monotonicClock() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("read CLOCK_MONOTONIC: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}

// dialUnixgram connects an AF_UNIX SOCK_DGRAM socket to addr. The net
// package maps a leading "@" to the abstract namespace.
func dialUnixgram(addr string) (notifyConn, error) {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	return unixgramConn{c}, nil
}

type unixgramConn struct{ *net.UnixConn }

// send writes msg with files attached. It reads each file's descriptor
// through SyscallConn().Control, which keeps the descriptor open during the
// send and, unlike (*os.File).Fd, leaves the file in non-blocking mode. The
// socket is connected, so connect already reported a missing or refusing
// socket; sendmsg goes through the runtime poller, waiting while the
// manager's queue is full.
func (c unixgramConn) send(msg []byte, files []*os.File) error {
	return withFds(files, func(fds []int) error {
		var oob []byte
		if len(fds) > 0 {
			oob = unix.UnixRights(fds...)
		}
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var n int
		var serr error
		err = rc.Write(func(fd uintptr) bool {
			n, serr = unix.SendmsgN(int(fd), msg, oob, nil, unix.MSG_NOSIGNAL)
			return serr != unix.EAGAIN
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		if n != len(msg) {
			return errors.New("short write")
		}
		return nil
	})
}

// withFds calls fn with the descriptors of files, holding each one open
// for the duration of the call.
func withFds(files []*os.File, fn func(fds []int) error) error {
	fds := make([]int, 0, len(files))
	var next func(i int) error
	next = func(i int) error {
		if i == len(files) {
			return fn(fds)
		}
		rc, err := files[i].SyscallConn()
		if err != nil {
			return fmt.Errorf("file %d (%s): %w", i, files[i].Name(), err)
		}
		var inner error
		if err := rc.Control(func(fd uintptr) {
			fds = append(fds, int(fd))
			inner = next(i + 1)
		}); err != nil {
			// Control fails only when the file is closed (or closing).
			return fmt.Errorf("file %d (%s) is closed: %w", i, files[i].Name(), os.ErrClosed)
		}
		return inner
	}
	return next(0)
}
