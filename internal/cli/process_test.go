//go:build linux

package cli

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// linePrefix is twistd's "2026-11-23T20:00:48+0000 [system] ".
const linePrefix = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} `

// wantExit waits for the child to exit and fails the test, going on,
// unless its exit status is want.
func wantExit(t *testing.T, c *child, want int) {
	t.Helper()
	if code := c.wait(); code != want {
		t.Errorf("exit status %d, want %d", code, want)
	}
}

func TestForegroundStartAndStop(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		name := signalName(sig)
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			c := startChild(t, dir, nil, "--nodaemon", "fake")
			startup := []string{
				`\[-\] Log opened\.$`,
				`\[-\] gotwistd 0\.1\.0 \(/\S+ go1\.\S+\) starting up\.$`,
				`\[-\] runtime: Go go1\.\S+ linux/\w+, GOMAXPROCS=\d+$`,
				`\[-\] fake: configured$`,
				`\[-\] Site starting on \d+$`,
			}
			var last string
			for _, re := range startup {
				last = <-c.lines
				if !regexp.MustCompile(linePrefix + re).MatchString(last) {
					t.Fatalf("line %q does not match %q; stderr so far:\n%s", last, re, c.output())
				}
			}
			p := port(t, last)

			// The default pidfile: gotwistd.pid in the starting directory,
			// the decimal pid and a newline, mode 0600.
			pidfile := filepath.Join(dir, "gotwistd.pid")
			b, err := os.ReadFile(pidfile)
			if err != nil {
				t.Fatal(err)
			}
			if want := strconv.Itoa(c.cmd.Process.Pid) + "\n"; string(b) != want {
				t.Errorf("pidfile holds %q, want %q", b, want)
			}
			if fi, _ := os.Stat(pidfile); fi.Mode().Perm() != 0o600 {
				t.Errorf("pidfile mode %v, want 0600", fi.Mode().Perm())
			}
			if got := get(t, p, "/"); got != "hello from "+strconv.Itoa(c.cmd.Process.Pid)+"\n" {
				t.Errorf("GET / = %q", got)
			}

			c.signal(sig)
			for _, re := range []string{
				`\[-\] Received ` + name + `, shutting down\.$`,
				`\[-\] Main loop terminated\.$`,
				`\[-\] Server Shut Down\.$`,
			} {
				line := <-c.lines
				if !regexp.MustCompile(linePrefix + re).MatchString(line) {
					t.Fatalf("line %q does not match %q; stderr:\n%s", line, re, c.output())
				}
			}
			if code := c.wait(); code != 0 {
				t.Errorf("exit status %d after %s, want 0", code, name)
			}
			if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
				t.Errorf("pidfile left behind after a clean stop (stat: %v)", err)
			}
		})
	}
}

func TestPidfileChecks(t *testing.T) {
	// A pid that surely is dead: a child that has exited and been reaped.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := strconv.Itoa(dead.Process.Pid)
	livePID := strconv.Itoa(os.Getpid())

	tests := []struct {
		name    string
		content string
		refuse  string // the stderr line when the start is refused
	}{
		{"non-numeric", "abc\n", "Pidfile PIDFILE contains non-numeric value"},
		{"empty", "", "Pidfile PIDFILE contains non-numeric value"},
		{"live pid", livePID + "\n", "Another gotwistd server is running, PID " + livePID},
		{"live pid without newline", livePID, "Another gotwistd server is running, PID " + livePID},
		{"stale pid", deadPID + "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pidfile := filepath.Join(dir, "run", "x.pid")
			os.Mkdir(filepath.Dir(pidfile), 0o755)
			if err := os.WriteFile(pidfile, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			// A relative --pidfile is made absolute from the starting directory.
			c := startChild(t, dir, nil, "-n", "--pidfile", "run/x.pid", "fake")
			if tt.refuse != "" {
				want := strings.ReplaceAll(tt.refuse, "PIDFILE", pidfile)
				if line := <-c.lines; line != want {
					t.Errorf("first stderr line %q, want %q", line, want)
				}
				wantExit(t, c, 1)
				if b, _ := os.ReadFile(pidfile); string(b) != tt.content {
					t.Errorf("pidfile changed to %q", b)
				}
				if strings.Contains(c.output(), "Log opened") {
					t.Errorf("the refused start logged:\n%s", c.output())
				}
				return
			}
			c.waitLine("[-] Removing stale pidfile " + pidfile)
			c.waitLine("Site starting on")
			if b, _ := os.ReadFile(pidfile); string(b) != strconv.Itoa(c.cmd.Process.Pid)+"\n" {
				t.Errorf("pidfile holds %q, want the new pid", b)
			}
			c.signal(syscall.SIGTERM)
			wantExit(t, c, 0)
		})
	}

	t.Run("empty --pidfile= writes none", func(t *testing.T) {
		dir := t.TempDir()
		c := startChild(t, dir, nil, "--nodae", "--pidfile=", "fake")
		c.waitLine("Site starting on")
		entries, _ := os.ReadDir(dir)
		if len(entries) != 0 {
			t.Errorf("files in the run directory: %v", entries)
		}
		c.signal(syscall.SIGTERM)
		wantExit(t, c, 0)
	})

	t.Run("a pidfile that changed hands is left alone", func(t *testing.T) {
		dir := t.TempDir()
		pidfile := filepath.Join(dir, "gotwistd.pid")
		c := startChild(t, dir, nil, "-n", "fake")
		c.waitLine("Site starting on")
		if err := os.WriteFile(pidfile, []byte(livePID+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c.signal(syscall.SIGTERM)
		c.waitLine("not our PID")
		wantExit(t, c, 0)
		if b, _ := os.ReadFile(pidfile); string(b) != livePID+"\n" {
			t.Errorf("someone else's pidfile was changed to %q", b)
		}
	})
}

// reapOrphans makes this test process adopt orphaned descendants, so that
// the daemon (whose parent exits) can be waited for and its exit status
// checked.
func reapOrphans(t *testing.T) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot become a child subreaper to watch the daemon: %v", err)
	}
}

// waitDaemon waits for the adopted daemon pid to exit and returns its
// status.
func waitDaemon(t *testing.T, pid int) syscall.WaitStatus {
	t.Helper()
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("wait for daemon %d: %v", pid, err)
		}
		return ws
	}
}

func killDaemonAtCleanup(t *testing.T, pid int) {
	t.Cleanup(func() {
		if syscall.Kill(pid, 0) == nil {
			syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
		}
	})
}

func runParent(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = childEnviron()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pidfile: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile holds %q", b)
	}
	return pid
}

func TestDaemon(t *testing.T) {
	reapOrphans(t)
	dir := t.TempDir()
	out, code := runParent(t, dir, "--pidfile=d.pid", "fake")
	if code != 0 || out != "" {
		t.Fatalf("parent: exit %d, output %q; want 0 and silence", code, out)
	}
	pid := readPID(t, filepath.Join(dir, "d.pid"))
	killDaemonAtCleanup(t, pid)

	// Its own session, stdio on /dev/null, umask 0077.
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("daemon session %d (%v), want its own (%d)", sid, err, pid)
	}
	for fd := range 3 {
		if target, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(fd)); target != "/dev/null" {
			t.Errorf("daemon fd %d is %q, want /dev/null", fd, target)
		}
	}
	status, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if !strings.Contains(string(status), "Umask:\t0077") {
		t.Errorf("daemon umask is not 0077:\n%s", status)
	}

	// The default log file, relative to the starting directory.
	logPath := filepath.Join(dir, "gotwistd.log")
	log := waitFile(t, logPath, "Site starting on")
	if !regexp.MustCompile(`(?m)` + linePrefix + `\[-\] Log opened\.$`).MatchString(log) {
		t.Errorf("log lacks \"Log opened.\":\n%s", log)
	}
	if fi, _ := os.Stat(logPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, want 0600 (umask 0077)", fi.Mode().Perm())
	}
	p := port(t, log)
	if got := get(t, p, "/"); got != "hello from "+strconv.Itoa(pid)+"\n" {
		t.Errorf("GET / = %q", got)
	}

	syscall.Kill(pid, syscall.SIGTERM)
	ws := waitDaemon(t, pid)
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("daemon ended with %v, want exit status 0", ws)
	}
	waitFile(t, logPath, "Server Shut Down.")
	if _, err := os.Stat(filepath.Join(dir, "d.pid")); !os.IsNotExist(err) {
		t.Errorf("pidfile left behind: %v", err)
	}
}

func TestDaemonStartErrors(t *testing.T) {
	reapOrphans(t)
	tests := []struct {
		name    string
		args    []string
		want    []string // lines of the parent's output
		daemons int      // daemon processes started (and failed)
	}{
		{"listen fails", []string{"fake", "--fail-listen=bind: address already in use"},
			[]string{"An error has occurred: bind: address already in use", "Please look at log file for more information."}, 1},
		{"log file cannot be opened", []string{"--logfile=nodir/x.log", "fake"},
			[]string{"An error has occurred: open log file: open NODIR/x.log: no such file or directory", "Please look at log file for more information."}, 1},
		{"plugin usage error: no daemon started", []string{"fake", "--bogus"},
			[]string{"gotwistd: error: flag provided but not defined: -bogus", "Try: gotwistd fake --help"}, 0},
		{"daemon cannot log to stdout", []string{"-l", "-", "fake"},
			[]string{"gotwistd: error: a daemon cannot log to stdout (--logfile=-): add --nodaemon, or log to a file or --syslog", "Try: gotwistd --help"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out, code := runParent(t, dir, append([]string{"--pidfile=d.pid"}, tt.args...)...)
			want := strings.ReplaceAll(strings.Join(tt.want, "\n")+"\n", "NODIR", filepath.Join(dir, "nodir"))
			if code != 1 || out != want {
				t.Errorf("parent: exit %d, output:\n%s\nwant exit 1 and:\n%s", code, out, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "d.pid")); !os.IsNotExist(err) {
				t.Errorf("pidfile left behind: %v", err)
			}
			// The failed daemon, adopted by this process, exits with status 1;
			// nothing runs on.
			reaped := make(chan []syscall.WaitStatus, 1)
			go func() {
				var all []syscall.WaitStatus
				for {
					var ws syscall.WaitStatus
					_, err := syscall.Wait4(-1, &ws, 0, nil)
					if err == syscall.EINTR {
						continue
					}
					if err != nil { // ECHILD: no children left
						reaped <- all
						return
					}
					all = append(all, ws)
				}
			}()
			select {
			case all := <-reaped:
				if len(all) != tt.daemons {
					t.Errorf("%d daemons ended, want %d", len(all), tt.daemons)
				}
				for _, ws := range all {
					if !ws.Exited() || ws.ExitStatus() != 1 {
						t.Errorf("the daemon ended with %v, want exit status 1", ws)
					}
				}
			case <-time.After(waitLimit):
				t.Fatal("the failed daemon did not exit")
			}
		})
	}
}

func TestSIGUSR1(t *testing.T) {
	t.Run("log file", func(t *testing.T) {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "x.log")
		c := startChild(t, dir, nil, "-n", "--pidfile=", "-l", "x.log", "fake")
		waitFile(t, logPath, "Site starting on")

		// logrotate: move the file away, then SIGUSR1: a fresh x.log.
		if err := os.Rename(logPath, logPath+".1"); err != nil {
			t.Fatal(err)
		}
		c.signal(syscall.SIGUSR1)
		waitFile(t, logPath, "Received SIGUSR1, reopened the log files.")
		waitFile(t, logPath, "[fake] fake: logs reopened")
		if old, _ := os.ReadFile(logPath + ".1"); strings.Contains(string(old), "SIGUSR1") || !strings.Contains(string(old), "Site starting on") {
			t.Errorf("x.log.1 should hold the start-up lines only:\n%s", old)
		}

		// twistd: SIGUSR1 alone rotates x.log -> x.log.1 -> x.log.2.
		c.signal(syscall.SIGUSR1)
		waitFile(t, logPath, "Received SIGUSR1, rotated the log file")
		waitFile(t, logPath+".2", "Site starting on")
		waitFile(t, logPath+".1", "Received SIGUSR1, reopened")

		c.signal(syscall.SIGTERM)
		wantExit(t, c, 0)
		if stderr := c.output(); stderr != "" {
			t.Errorf("stderr is not empty with a log file:\n%s", stderr)
		}
	})
	t.Run("stdout", func(t *testing.T) {
		// twistd dies on SIGUSR1 when logging to stdout; gotwistd does not.
		cmd := exec.Command(os.Args[0], "-n", "--pidfile=", "-l", "-", "fake")
		cmd.Env = childEnviron()
		cmd.Dir = t.TempDir()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		c := &child{t: t, cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
		go func() {
			buf := make([]byte, 4096)
			var part string
			for {
				n, err := stdout.Read(buf)
				part += string(buf[:n])
				for {
					line, rest, ok := strings.Cut(part, "\n")
					if !ok {
						break
					}
					c.lines <- line
					part = rest
				}
				if err != nil {
					close(c.lines)
					return
				}
			}
		}()
		c.waitLine("Site starting on")
		c.signal(syscall.SIGUSR1)
		c.waitLine("Received SIGUSR1, reopened the log files.")
		c.signal(syscall.SIGTERM)
		c.waitLine("Server Shut Down.")
		for range c.lines {
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit: %v", err)
		}
	})
}

func TestSIGHUPReloads(t *testing.T) {
	c := startChild(t, t.TempDir(), nil, "-n", "--pidfile=", "fake")
	p := port(t, c.waitLine("Site starting on"))
	for range 2 {
		c.signal(syscall.SIGHUP)
		c.waitLine("[-] Received SIGHUP, reloading.")
		c.waitLine("[fake] fake: reloaded")
		c.waitLine("[-] Reload complete.")
		get(t, p, "/")
	}
	c.signal(syscall.SIGTERM)
	wantExit(t, c, 0)
}

// startWithHangingRequest starts the fake server with the given
// --shutdown-timeout option and a request for /hang, whose response the
// server begins but does not finish until the connection is closed. It
// returns once the server has logged the request; the error of reading the
// response body (nil if a byte of it arrived) comes on the channel.
func startWithHangingRequest(t *testing.T, shutdownTimeout string) (*child, <-chan error) {
	t.Helper()
	c := startChild(t, t.TempDir(), nil, "-n", "--pidfile=", shutdownTimeout, "fake")
	p := port(t, c.waitLine("Site starting on"))
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://127.0.0.1:" + p + "/hang")
		if err == nil {
			_, err = resp.Body.Read(make([]byte, 1))
			resp.Body.Close()
		}
		errc <- err
	}()
	c.waitLine("fake: /hang started")
	return c, errc
}

func TestShutdownGracePeriod(t *testing.T) {
	t.Run("second signal closes at once", func(t *testing.T) {
		c, errc := startWithHangingRequest(t, "--shutdown-timeout=1h")
		c.signal(syscall.SIGTERM)
		c.waitLine("Received SIGTERM, shutting down.")
		// The server drains: it no longer accepts.
		c.signal(syscall.SIGINT)
		c.waitLine("Received SIGINT again, closing all connections now.")
		c.waitLine("Server Shut Down.")
		wantExit(t, c, 0)
		if err := <-errc; err == nil {
			t.Error("the hanging request completed; it should have been cut")
		}
	})
	t.Run("grace period ends", func(t *testing.T) {
		c, errc := startWithHangingRequest(t, "--shutdown-t=50ms")
		c.signal(syscall.SIGTERM)
		c.waitLine("Grace period of 50ms is over: closed the connections still open.")
		c.waitLine("Server Shut Down.")
		wantExit(t, c, 0)
		<-errc
	})
	t.Run("serve failure exits 1", func(t *testing.T) {
		c := startChild(t, t.TempDir(), nil, "-n", "--pidfile=", "fake", "--fail-serve=accept: too many open files")
		c.waitLine("[-#error] server failed: accept: too many open files")
		c.waitLine("Server Shut Down.")
		wantExit(t, c, 1)
	})
}

// freePrivilegedPort finds a port below 1024 that 127.0.0.1 can bind now.
func freePrivilegedPort(t *testing.T) string {
	t.Helper()
	for p := 900; p < 1024; p++ {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			ln.Close()
			return strconv.Itoa(p)
		}
	}
	t.Skip("no free port below 1024 on 127.0.0.1")
	return ""
}

// procStatus returns the Uid, Gid and Groups lines of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "Uid" || k == "Gid" || k == "Groups") {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

func TestDropPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dropping privileges needs root; run the tests as root to cover -u/-g")
	}
	tests := []struct {
		name   string
		args   []string
		logged string
		want   map[string]string
	}{
		{"user and group", []string{"-u", "nobody", "-g", "nogroup"}, "[-] set uid/gid 65534/65534",
			map[string]string{"Uid": "65534 65534 65534 65534", "Gid": "65534 65534 65534 65534", "Groups": "65534"}},
		{"numbers, group from the user", []string{"--uid=65534"}, "[-] set uid/gid 65534/65534",
			map[string]string{"Uid": "65534 65534 65534 65534", "Gid": "65534 65534 65534 65534", "Groups": "65534"}},
		{"group only", []string{"-g", "nogroup"}, "[-] set uid/gid 0/65534",
			map[string]string{"Uid": "0 0 0 0", "Gid": "65534 65534 65534 65534", "Groups": "65534"}},
		{"effective ids only", []string{"--euid", "-u", "nobody"}, "[-] set euid/egid 65534/65534",
			map[string]string{"Uid": "0 65534 0 65534", "Gid": "0 65534 0 65534", "Groups": "65534"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A privileged port: the bind must happen before the drop.
			addr := "127.0.0.1:" + freePrivilegedPort(t)
			args := append(append([]string{"-n", "--pidfile="}, tt.args...), "fake", "--addr="+addr)
			c := startChild(t, t.TempDir(), nil, args...)
			c.waitLine("Site starting on")
			c.waitLine(tt.logged)
			got := procStatus(t, c.cmd.Process.Pid)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: %q, want %q", k, got[k], v)
				}
			}
			resp, err := http.Get("http://" + addr + "/")
			if err != nil {
				t.Fatalf("the listener bound before the drop does not serve: %v", err)
			}
			resp.Body.Close()
			c.signal(syscall.SIGTERM)
			wantExit(t, c, 0)
		})
	}
}

func TestNotify(t *testing.T) {
	dir := t.TempDir()
	sockPath, msgs := notifySocket(t, dir)
	// next returns the next datagram that is not a watchdog ping (nor a
	// start-timeout extension, should a loaded machine make the start slow).
	pings := 0
	next := func() string {
		t.Helper()
		for m := range msgs {
			if m == "WATCHDOG=1" {
				pings++
				continue
			}
			if strings.HasPrefix(m, "EXTEND_TIMEOUT_USEC=") {
				continue
			}
			return m
		}
		t.Fatal("notify socket closed")
		return ""
	}

	c := startChild(t, dir, []string{"NOTIFY_SOCKET=" + sockPath, "WATCHDOG_USEC=200000"}, "-n", "--pidfile=", "fake")
	c.waitLine("Site starting on")
	if m := next(); !strings.HasPrefix(m, "READY=1\nSTATUS=serving fake on 127.0.0.1:") {
		t.Errorf("first notification %q, want READY=1 with STATUS=", m)
	}
	c.signal(syscall.SIGHUP)
	if m := next(); !regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=\d+$`).MatchString(m) {
		t.Errorf("on SIGHUP: %q, want RELOADING=1 with MONOTONIC_USEC", m)
	}
	if m := next(); !strings.HasPrefix(m, "READY=1\nSTATUS=serving fake") {
		t.Errorf("after the reload: %q, want READY=1", m)
	}
	// The watchdog pings (every 100ms): wait for one.
	for pings == 0 {
		select {
		case m := <-msgs:
			if m == "WATCHDOG=1" {
				pings++
			}
		case <-c.done:
			t.Fatal("exited")
		}
	}
	c.signal(syscall.SIGTERM)
	if m := next(); m != "STOPPING=1\nSTATUS=shutting down" {
		t.Errorf("on SIGTERM: %q, want STOPPING=1", m)
	}
	wantExit(t, c, 0)

	t.Run("start failure", func(t *testing.T) {
		c := startChild(t, dir, []string{"NOTIFY_SOCKET=" + sockPath}, "-n", "--pidfile=", "fake", "--fail-listen=listen tcp: bind: permission denied")
		wantExit(t, c, 1)
		if m := next(); m != "STATUS=listen tcp: bind: permission denied" {
			t.Errorf("on a failed start: %q", m)
		}
	})
}

func TestClosedStdoutDoesNotKill(t *testing.T) {
	// Logging to a stdout whose reader went away: writes fail with EPIPE
	// instead of SIGPIPE killing the server.
	cmd := exec.Command(os.Args[0], "-n", "--pidfile=", "-l", "-", "fake")
	cmd.Env = childEnviron()
	cmd.Dir = t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 4096)
	var out string
	for !strings.Contains(out, "Site starting on") {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("stdout ended: %v\n%s", err, out)
		}
		out += string(buf[:n])
	}
	p := port(t, out)
	r.Close()
	for range 3 {
		cmd.Process.Signal(syscall.SIGHUP) // each logs lines into the broken pipe
		get(t, p, "/")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("gotwistd ended with %v, want exit status 0", ee.ProcessState)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestClosedStderrAtStart: a server whose stderr (the foreground log) has
// no reader from the start comes up and stops cleanly. Its opening lines
// are written while the runner is still taking its signals, SIGPIPE among
// them: written to descriptor 2 itself, they could kill it (Go's SIGPIPE
// rule for stdout and stderr).
func TestClosedStderrAtStart(t *testing.T) {
	for i := range 10 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-n", "--pidfile=x.pid", "fake")
		cmd.Env = childEnviron()
		cmd.Dir = dir
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		cmd.Stderr = w
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.After(waitLimit)
	wait:
		for {
			select {
			case err := <-exited:
				t.Fatalf("run %d: gotwistd with a closed stderr ended before it wrote its pidfile: %v", i+1, err)
			case <-deadline:
				cmd.Process.Kill()
				t.Fatalf("run %d: no pidfile after %s", i+1, waitLimit)
			case <-time.After(5 * time.Millisecond):
				if b, _ := os.ReadFile(filepath.Join(dir, "x.pid")); len(b) > 0 {
					break wait
				}
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Fatalf("run %d: gotwistd with a closed stderr ended with %v after SIGTERM, want exit status 0", i+1, err)
		}
	}
}

// TestHelpToClosedStdout: a plugin's --help printed into a pipe nobody
// reads fails the write; SIGPIPE does not kill the process, although the
// runner takes its signals while Plugin.New runs (the help waits for them).
func TestHelpToClosedStdout(t *testing.T) {
	for i := range 20 {
		cmd := exec.Command(os.Args[0], "-n", "--pidfile=", "fake", "--help")
		cmd.Env = childEnviron()
		cmd.Dir = t.TempDir()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		cmd.Stdout = w
		err = cmd.Run()
		w.Close()
		if err != nil {
			t.Fatalf("run %d: gotwistd fake --help into a closed pipe ended with %v, want exit status 0", i+1, err)
		}
	}
}

func TestWatchdogStopsWhenTheLoopHangs(t *testing.T) {
	dir := t.TempDir()
	sockPath, msgs := notifySocket(t, dir)
	c := startChild(t, dir, []string{"NOTIFY_SOCKET=" + sockPath, "WATCHDOG_USEC=400000"},
		"-n", "--pidfile=", "fake", "--hang-reload")
	c.waitLine("Site starting on")
	c.waitLine("[-] systemd watchdog: 400ms, pinging every 200ms.")
	for nextNotify(t, msgs) != "WATCHDOG=1" { // until the first ping
	}
	// A reload that never returns blocks the main loop: the health check
	// fails and the pings stop, so systemd would restart the service.
	c.signal(syscall.SIGHUP)
	c.waitLine("fake: reload hangs")
	c.waitLine("[-#warn] systemd watchdog: the main loop did not answer; not pinging.")
}

func TestRundirAndUmask(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, dir, nil, "-n", "--pidfile=x.pid", "-d", "sub", "--umask=027", "-l", "x.log", "fake")
	waitFile(t, filepath.Join(dir, "x.log"), "Site starting on")
	pid := strconv.Itoa(c.cmd.Process.Pid)
	if cwd, _ := os.Readlink("/proc/" + pid + "/cwd"); cwd != sub {
		t.Errorf("working directory %q, want %q", cwd, sub)
	}
	status, _ := os.ReadFile("/proc/" + pid + "/status")
	if !strings.Contains(string(status), "Umask:\t0027") {
		t.Errorf("umask is not 0027:\n%s", status)
	}
	// The pidfile and the log stay where they were named, from the
	// starting directory, not from --rundir.
	if _, err := os.Stat(filepath.Join(dir, "x.pid")); err != nil {
		t.Errorf("pidfile: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "x.log")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("log file: %v, mode %v; want 0640 under umask 027", err, fi.Mode().Perm())
	}
	c.signal(syscall.SIGTERM)
	wantExit(t, c, 0)
}

func TestChroot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root; run the tests as root to cover --chroot")
	}
	jail := t.TempDir()
	c := startChild(t, t.TempDir(), nil, "-n", "--pidfile=", "--chroot", jail, "-u", "nobody", "fake")
	p := port(t, c.waitLine("Site starting on"))
	c.waitLine("set uid/gid 65534/65534")
	pid := strconv.Itoa(c.cmd.Process.Pid)
	if root, _ := os.Readlink("/proc/" + pid + "/root"); root != jail {
		t.Errorf("root %q, want the jail %q", root, jail)
	}
	if cwd, _ := os.Readlink("/proc/" + pid + "/cwd"); cwd != jail {
		t.Errorf("working directory %q, want the jail's / (%q)", cwd, jail)
	}
	get(t, p, "/")
	c.signal(syscall.SIGTERM)
	wantExit(t, c, 0)
}

// TestCommandKeepsDefaultSignals: Main takes its signals from its first
// step, and gives them back before a command plugin runs: a Ctrl-C
// (SIGINT) or a SIGTERM still ends a command that is waiting, as it ends
// any other program.
func TestCommandKeepsDefaultSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "wait")
			cmd.Env = childEnviron()
			stdin, err := cmd.StdinPipe() // held open: the command waits
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || line != "waiting\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("command printed %q (%v), want waiting", line, err)
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("the command still ran 10 s after %v: the runner kept the signal", sig)
			}
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != sig {
				t.Fatalf("command ended with %v (%v), want killed by %v", cmd.ProcessState, err, sig)
			}
		})
	}
}
