package web

import (
	"math"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sendTimeoutSupported reports whether --send-timeout has an effect here.
const sendTimeoutSupported = true

// setSendTimeout sets TCP_USER_TIMEOUT: the kernel ends the connection
// (and a blocked write fails) when data it sent stays unacknowledged, or
// unsent because the peer's receive window stays closed, for d. A client
// that keeps reading, however slowly, keeps it alive; one that stopped
// reading, or vanished, does not.
func setSendTimeout(rc syscall.RawConn, d time.Duration) error {
	ms := min(d.Milliseconds(), math.MaxInt32)
	if ms < 1 {
		ms = 1
	}
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(ms))
	})
	if err != nil {
		return err
	}
	return serr
}
