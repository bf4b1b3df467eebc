package web

import (
	"math"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendTimeoutSupported reports whether --send-timeout has an effect here.
const sendTimeoutSupported = true

// setSendTimeout sets TCP_USER_TIMEOUT: the kernel ends the connection
// (and a blocked write fails) when data it sent stays unacknowledged, or
// unsent because the peer's receive window stays closed, for d. A client
// that keeps reading, however slowly, keeps it alive; one that stopped
// reading, or vanished, does not.
//
// The option is set with a raw system call: setsockopt(2) does not block,
// and the HTTP/1.1 engine calls this on its accepting goroutine (RawWrap),
// where a call the scheduler is told of would wake its monitor thread, for
// nothing, once a connection.
func setSendTimeout(rc syscall.RawConn, d time.Duration) error {
	ms := int32(min(max(d.Milliseconds(), 1), math.MaxInt32))
	var errno syscall.Errno
	err := rc.Control(func(fd uintptr) {
		_, _, errno = unix.RawSyscall6(unix.SYS_SETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT,
			uintptr(unsafe.Pointer(&ms)), unsafe.Sizeof(ms), 0)
	})
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}
