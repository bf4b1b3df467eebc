package web

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// setUnsentLowatFD sets unsentLowat on socket fd, as a raw system call
// (setsockopt(2) does not block; see setSendTimeout).
func setUnsentLowatFD(fd int) {
	v := int32(unsentLowat)
	_, _, _ = unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT,
		uintptr(unsafe.Pointer(&v)), unsafe.Sizeof(v), 0)
}
