//go:build unix

package cgi

import "syscall"

// killGroup kills every process of the process group pgid.
func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}
