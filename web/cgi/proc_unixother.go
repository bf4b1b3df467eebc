//go:build unix && !linux

package cgi

import "os"

// waitExit returns at once: without waitid(WNOWAIT) the script is reaped
// by exec.Cmd.Wait, and its process group killed after that.
func waitExit(int) {}

// runningAsRoot reports whether a script started now could act as root:
// the real or effective user id is 0.
func runningAsRoot() bool { return os.Getuid() == 0 || os.Geteuid() == 0 }
