package systemd

import (
	"os"
	"time"
)

// env is the package's seam to the operating system: everything that reads
// the process environment, asks the kernel, or opens a socket goes through
// one of these functions, so tests can replace them with fakes. The real
// functions live in env_linux.go (and stubs in env_other.go).
//
// Nothing in this package ever unsets or changes the environment: every
// caller, and every later call, sees the same NOTIFY_SOCKET and WATCHDOG_*.
type env struct {
	// getenv reads one environment variable ("" when unset).
	getenv func(key string) string
	// getpid returns this process's pid.
	getpid func() int
	// monotonic returns CLOCK_MONOTONIC, the clock systemd compares
	// MONOTONIC_USEC against.
	monotonic func() (time.Duration, error)
	// dial connects a datagram socket to the notify socket addr: an
	// absolute path, or "@name" for Linux's abstract namespace.
	dial func(addr string) (notifyConn, error)
}

// notifyConn is a connected datagram socket to the service manager.
type notifyConn interface {
	// send writes msg as one datagram with files attached (SCM_RIGHTS).
	send(msg []byte, files []*os.File) error
	Close() error
}

// sys is the environment every exported function uses: each is a thin
// wrapper of an env method, which tests call on an env of their own (so
// they never replace sys, and can run in parallel).
var sys = osEnv()
