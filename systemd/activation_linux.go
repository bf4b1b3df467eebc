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
		pidfdID:  selfPidfdID,
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

// pidfsMagic is PID_FS_MAGIC, the statfs type of pidfs (Linux >= 6.9),
// where a pidfd's inode number is its process's unique 64-bit id.
const pidfsMagic = 0x50494446

// selfPidfdID returns this process's pidfd id, the value systemd >= 256
// puts in LISTEN_PIDFDID; ok is false when the kernel has no pidfs (the
// inode of a pidfd is then shared by every process) or refuses pidfd_open.
func selfPidfdID() (uint64, bool) {
	return pidfdID(os.Getpid())
}

// pidfdID returns the pidfd id of process pid.
func pidfdID(pid int) (uint64, bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil || sfs.Type != pidfsMagic {
		return 0, false
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}
