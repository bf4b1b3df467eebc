package web

import (
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setSendTimeoutFD is setSendTimeout on a socket by number, as a raw
// system call (setsockopt(2) does not block): on the engine's accepting
// goroutine, a call the scheduler is told of would wake its monitor
// thread, for nothing, once a connection.
func setSendTimeoutFD(fd int, d time.Duration) {
	ms := int32(min(max(d.Milliseconds(), 1), math.MaxInt32))
	_, _, _ = unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT,
		uintptr(unsafe.Pointer(&ms)), unsafe.Sizeof(ms), 0)
}
