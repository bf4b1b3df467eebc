//go:build unix

package web

import (
	"os"
	"syscall"
)

// openFilesLimit is the soft RLIMIT_NOFILE.
func openFilesLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}

// countOpenFDs is how many descriptors the process has open, from
// /proc/self/fd (the one reading it included).
func countOpenFDs() (int, error) {
	names, err := os.ReadDir("/proc/self/fd")
	return len(names), err
}
