package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// daemonEnv marks the re-executed daemon child and names the fd of its
// status pipe. Go cannot fork, so where twistd forks, gotwistd starts
// itself again with the same arguments in a new session.
const daemonEnv = "GOTWISTD_DAEMON_STATUS_FD"

// statusOK is what the daemon child writes on its status pipe once it
// listens and has dropped privileges; anything else is an error text.
const statusOK = "ok"

// daemonError is a failed daemon start, printed the way twistd's parent
// prints it.
type daemonError struct{ msg string }

func (e *daemonError) Error() string {
	return "An error has occurred: " + e.msg + "\nPlease look at log file for more information."
}

// statusPipe is the daemon child's end of the status pipe.
type statusPipe struct {
	f    *os.File
	done bool
}

// takeStatusPipe returns the status pipe when this process is a daemon
// child, and removes the marker from the environment so that processes the
// plugin starts do not inherit it.
func takeStatusPipe() *statusPipe {
	v, ok := os.LookupEnv(daemonEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(daemonEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	closeOnExec(uintptr(fd))
	return &statusPipe{f: os.NewFile(uintptr(fd), "status-pipe")}
}

// report tells the waiting parent how the start went, once; later calls do
// nothing. A nil pipe (not a daemon child) does nothing.
func (p *statusPipe) report(err error) {
	if p == nil || p.done {
		return
	}
	p.done = true
	msg := statusOK
	if err != nil {
		msg = strings.TrimSpace(err.Error())
		if msg == "" || msg == statusOK {
			msg = fmt.Sprintf("start failed: %q", msg)
		}
		if len(msg) > 4000 {
			msg = msg[:4000]
		}
	}
	_, _ = io.WriteString(p.f, msg)
	p.f.Close()
}

// spawnDaemon starts this program again, detached, with the same arguments
// and a status pipe, and waits for the child to report. It returns nil once
// the child is serving, or a *daemonError.
func spawnDaemon(args []string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("daemonize: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(selfExe(), args...)
	cmd.Args[0] = os.Args[0]
	// fd 3 in the child: ExtraFiles[0].
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = daemonAttr()
	// Stdin, Stdout and Stderr stay nil: /dev/null, as twistd's dup2.
	if err := cmd.Start(); err != nil {
		w.Close()
		return &daemonError{fmt.Sprintf("cannot start the daemon: %v", err)}
	}
	w.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return &daemonError{fmt.Sprintf("reading the daemon's status: %v", err)}
	}
	msg := string(b)
	if msg == statusOK {
		_ = cmd.Process.Release()
		return nil
	}
	if msg == "" {
		// The child closed its end without a word: it died.
		if err := cmd.Wait(); err != nil {
			return &daemonError{fmt.Sprintf("the daemon exited before it was ready (%v)", err)}
		}
		return &daemonError{"the daemon exited before it was ready"}
	}
	return &daemonError{msg}
}
