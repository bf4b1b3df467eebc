//go:build !linux

package systemd

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
)

// osEnv returns the seam for systems without systemd: the environment is
// read as usual, so with NOTIFY_SOCKET unset every function reports "not
// supported" as (false, nil), but a set NOTIFY_SOCKET is an error.
func osEnv() env {
	return env{
		getenv:    os.Getenv,
		getpid:    os.Getpid,
		monotonic: func() (time.Duration, error) { return 0, unsupported() },
		dial:      func(string) (notifyConn, error) { return nil, unsupported() },
	}
}

func unsupported() error {
	return fmt.Errorf("sd_notify is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
