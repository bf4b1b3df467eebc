package loadgen

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// checkNetns opens path once to report a missing namespace or missing
// privileges before any client starts.
func checkNetns(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loadgen: network namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return fmt.Errorf("loadgen: network namespace %s: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("loadgen: %s is not a namespace file (use /proc/PID/ns/net)", path)
	}
	return nil
}

// enterNetns locks the calling goroutine to its thread and moves that
// thread into the network namespace at path, so that the sockets the
// goroutine opens from now on live there. The goroutine must not unlock:
// when it exits, the runtime ends the thread rather than reuse it.
func enterNetns(path string) error {
	runtime.LockOSThread()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loadgen: network namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		if os.IsPermission(err) {
			return fmt.Errorf("loadgen: join network namespace %s: %w (needs CAP_SYS_ADMIN: run as root)", path, err)
		}
		return fmt.Errorf("loadgen: join network namespace %s: %w", path, err)
	}
	return nil
}
