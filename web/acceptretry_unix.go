//go:build unix

package web

import "syscall"

// openFilesLimit is the soft RLIMIT_NOFILE.
func openFilesLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}
