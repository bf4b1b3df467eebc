package systemd

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// activationOSEnv returns the real seam for socket activation.
func activationOSEnv() activationOS {
	return activationOS{
		getenv:   os.Getenv,
		unsetenv: os.Unsetenv,
		getpid:   os.Getpid,
		prepare:  prepareInherited,
		newFile: func(fd int, name string) *os.File {
			return os.NewFile(uintptr(fd), name)
		},
	}
}

// prepareInherited sets FD_CLOEXEC on fd and reads its family, type and
// listening state. A descriptor that is open but not a socket gives zeros.
func prepareInherited(fd int) (family, typ int, listening bool, err error) {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return 0, 0, false, err
	}
	unix.CloseOnExec(fd)
	typ, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if errors.Is(err, unix.ENOTSOCK) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	if family, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil {
		return 0, 0, false, err
	}
	acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return 0, 0, false, err
	}
	return family, typ, acc != 0, nil
}
