//go:build !linux

package systemd

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// activationOSEnv returns the seam for systems without systemd: the
// environment is read as usual, so an unactivated process gets (nil, nil),
// but inherited descriptors are reported as unsupported.
func activationOSEnv() activationOS {
	return activationOS{
		getenv:   os.Getenv,
		unsetenv: os.Unsetenv,
		getpid:   os.Getpid,
		pidfdID:  func() (uint64, bool) { return 0, false },
		prepare: func(int) (int, int, bool, error) {
			return 0, 0, false, fmt.Errorf("socket activation is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
		},
		newFile: func(fd int, name string) *os.File { return os.NewFile(uintptr(fd), name) },
	}
}
