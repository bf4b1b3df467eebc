package systemd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Barrier waits until the manager has processed every notification this
// process sent before it: it sends BARRIER=1 with the write end of a fresh
// pipe attached, closes its own copy, and waits for systemd to close the
// other (systemd >= 246). Use it before exiting right after a notification,
// which systemd may otherwise read only after noticing the exit, or in tests.
// A timeout <= 0 waits without limit.
//
// Results:
//   - nil: NOTIFY_SOCKET is unset (there is nothing to wait for), or the
//     manager closed the pipe.
//   - an error wrapping os.ErrDeadlineExceeded: no answer within timeout
//     (for example a manager older than 246, or not systemd).
//   - any other error: creating the pipe, or sending, failed (see Notify).
func Barrier(timeout time.Duration) error {
	return sys.barrier(timeout)
}

func (e env) barrier(timeout time.Duration) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sd_notify BARRIER=1: %w", err)
	}
	defer r.Close()
	sent, err := e.notify("BARRIER=1", []*os.File{w})
	w.Close()
	if err != nil || !sent {
		return err
	}
	if timeout > 0 {
		if err := r.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return fmt.Errorf("sd_notify BARRIER=1: %w", err)
		}
	}
	var buf [64]byte
	for {
		_, err := r.Read(buf[:])
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("sd_notify BARRIER=1: the manager did not answer within %v: %w", timeout, err)
		case err != nil:
			return fmt.Errorf("sd_notify BARRIER=1: wait: %w", err)
		}
	}
}
