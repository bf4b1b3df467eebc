//go:build !unix

package cli

import (
	"errors"
	"io"
	"os"
	"runtime"
	"syscall"
)

var errUnsupported = errors.New("not supported on " + runtime.GOOS)

func processAlive(pid int) (bool, error) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false, nil
	}
	p.Release()
	return true, nil
}

// sigReopenLogs: this system has no SIGUSR1; a number no signal uses.
var sigReopenLogs os.Signal = syscall.Signal(0x7e)

func setUmask(int) {}

func chroot(string) error { return errUnsupported }

func daemonAttr() *syscall.SysProcAttr { return nil }

func selfExe() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

func closeOnExec(uintptr) {}

type creds struct{}

func resolveCreds(uidArg, gidArg string) (*creds, error) {
	if uidArg != "" || gidArg != "" {
		return nil, usageErrorf("--uid and --gid are %v", errUnsupported)
	}
	return nil, nil
}

func (c *creds) drop(bool) (string, error) { return "", nil }

// ownStream returns w: this system has no SIGPIPE to keep the log from.
func ownStream(w io.Writer) io.Writer { return w }
