//go:build !linux

package web

import (
	"errors"
	"syscall"
	"time"
)

// sendTimeoutSupported reports whether --send-timeout has an effect here.
const sendTimeoutSupported = false

// setSendTimeout does nothing: TCP_USER_TIMEOUT is Linux's.
func setSendTimeout(syscall.RawConn, time.Duration) error {
	return errors.ErrUnsupported
}
