// Package testbin is the harness shared by the tests that run real
// processes: the gotwistd binary (test/hostile, test/proxy, test/site,
// test/balancer, test/acme, internal/portforward) and the peers they run
// next to it (haproxy, Pebble, twistd3).
//
// It gives:
//   - Build and Gotwistd: a package of this module (or one of its tool
//     dependencies) built once per test process into a temporary
//     directory, which Main removes when the tests are done;
//   - Log: a process's output, safe for concurrent use, that wakes
//     whoever waits for a line in it, so that waiting needs no polling;
//   - Process: a started command whose output goes to a Log, with its
//     exit observable and a Stop that sends SIGTERM and kills after a grace;
//   - CPUOver: the CPU time the test process used over a window, for the
//     engines' tests that an idle server stays idle.
//
// The tests keep their own assertions and messages: this package only
// builds, starts, records, waits and measures.
package testbin

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// GotwistdPackage is the import path of the gotwistd command.
const GotwistdPackage = "github.com/gotwistd/gotwistd/cmd/gotwistd"

// gotwistdEnv is how the README says to build gotwistd: static, without
// cgo, with the garbage collector that holds less memory at idle.
var gotwistdEnv = []string{"CGO_ENABLED=0", "GOEXPERIMENT=nogreenteagc"}

var (
	buildMu  sync.Mutex
	buildDir string            // made by the first Build; Main removes it
	built    map[string]result // by package path
)

type result struct {
	path string
	err  error
}

// Build builds the command pkg (an import path) with the environment
// additions env, once per test process: later calls return the first
// call's result. The binary is named for the last element of pkg, in a
// temporary directory of its own.
func Build(pkg string, env ...string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if r, ok := built[pkg]; ok {
		return r.path, r.err
	}
	if built == nil {
		built = map[string]result{}
	}
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "gotwistd-testbin-")
		if err != nil {
			return "", fmt.Errorf("testbin: %w", err)
		}
		buildDir = dir
	}
	bin := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), env...)
	var r result
	if out, err := cmd.CombinedOutput(); err != nil {
		r.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	} else {
		r.path = bin
	}
	built[pkg] = r
	return r.path, r.err
}

// BuildGotwistd builds gotwistd as the README says (see Build).
func BuildGotwistd() (string, error) {
	return Build(GotwistdPackage, gotwistdEnv...)
}

// Gotwistd returns the gotwistd binary, built on the first call (see
// Build), or fails the test when it cannot be built.
func Gotwistd(tb testing.TB) string {
	tb.Helper()
	bin, err := BuildGotwistd()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Main is a TestMain: it builds gotwistd first (so that no test's time
// limit includes the build, and a build failure fails at once, naming
// the error), runs the tests, removes what Build made, and exits with
// the tests' status. A package that needs more before its tests calls
// Build itself and then Run.
func Main(m *testing.M) {
	if _, err := BuildGotwistd(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		Cleanup()
		os.Exit(1)
	}
	os.Exit(Run(m))
}

// Run runs m's tests, removes what Build made, and returns their status.
func Run(m *testing.M) int {
	defer Cleanup()
	return m.Run()
}

// Cleanup removes the binaries Build made; a later Build builds again.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	buildDir, built = "", nil
}

// Log collects a process's output. It is safe for concurrent use, and
// every Write wakes a Wait. The zero Log is ready to use.
type Log struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	wake chan struct{} // made by the first use; holds at most one wake-up
}

func (l *Log) wakeChan() chan struct{} {
	if l.wake == nil {
		l.wake = make(chan struct{}, 1)
	}
	return l.wake
}

// Write appends p and wakes a waiter.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	select {
	case l.wakeChan() <- struct{}{}:
	default:
	}
	return len(p), nil
}

// String is everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Tail is the last n lines written.
func (l *Log) Tail(n int) string {
	return Tail(l.String(), n)
}

// ErrExited is returned by Wait when the process exited before the log
// held what was waited for.
var ErrExited = errors.New("the process exited")

// ErrTimeout is returned by Wait when the log did not hold what was
// waited for in time.
var ErrTimeout = errors.New("timed out")

// Wait waits until done(text) is true for the log's text, checked at the
// start and after every Write, and returns nil; or ErrExited once exited
// is closed (nil: never), or ErrTimeout after timeout.
func (l *Log) Wait(timeout time.Duration, exited <-chan struct{}, done func(text string) bool) error {
	l.mu.Lock()
	wake := l.wakeChan()
	l.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if done(l.String()) {
			return nil
		}
		select {
		case <-wake:
		case <-exited:
			if done(l.String()) {
				return nil
			}
			return ErrExited
		case <-deadline.C:
			return ErrTimeout
		}
	}
}

// Tail is the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Process is a started command whose output goes to Log.
type Process struct {
	Cmd *exec.Cmd
	Log *Log
	// Exited is closed when the process has exited; Err is then Wait's
	// result.
	Exited chan struct{}
	Err    error

	done atomic.Bool // set just before Exited is closed
}

// Start starts cmd with its standard output and error going to a new Log
// (unless the caller set them) and watches for its exit.
func Start(cmd *exec.Cmd) (*Process, error) {
	p := &Process{Cmd: cmd, Log: &Log{}, Exited: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Log
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Log
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.Err = cmd.Wait()
		p.done.Store(true)
		close(p.Exited)
	}()
	return p, nil
}

// Done reports whether the process has exited.
func (p *Process) Done() bool { return p.done.Load() }

// Stop sends SIGTERM and waits for the exit; after grace it sends
// SIGKILL, waits, and returns false. It returns true at once when the
// process has exited already.
func (p *Process) Stop(grace time.Duration) bool {
	if p.Done() {
		return true
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	kill := time.AfterFunc(grace, func() { p.Cmd.Process.Kill() })
	<-p.Exited
	return kill.Stop() // false: it had fired
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	p.Cmd.Process.Kill()
	<-p.Exited
}

// WriteFiles creates files (path, with slashes -> content; a path ending
// in "/" is a directory) under dir, making the directories they need.
func WriteFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// peer that is given a port rather than a socket (haproxy, Pebble,
// gotwistd with a tcp: endpoint). Another process may take it before the
// peer binds it; where a socket can be passed instead, pass the socket.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
