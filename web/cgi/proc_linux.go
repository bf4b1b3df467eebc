package cgi

import "golang.org/x/sys/unix"

// waitExit waits until process pid has exited, without reaping it, so
// that its pid (the id of its process group) is not reused meanwhile.
func waitExit(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// runningAsRoot reports whether a script started now could act as root:
// the real, effective or saved user id is 0 (after --euid the real one
// still is, and a script could take it back).
func runningAsRoot() bool {
	r, e, s := unix.Getresuid()
	return r == 0 || e == 0 || s == 0
}
