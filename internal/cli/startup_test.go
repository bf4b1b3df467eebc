//go:build linux

package cli

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket listens on a unixgram socket in dir, as systemd's notify
// socket, and returns its path and the datagrams it receives.
func notifySocket(t *testing.T, dir string) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	msgs := make(chan string, 100)
	go func() {
		defer close(msgs)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return path, msgs
}

// nextNotify returns the next datagram, failing the test if none comes.
func nextNotify(t *testing.T, msgs <-chan string) string {
	t.Helper()
	select {
	case m, ok := <-msgs:
		if !ok {
			t.Fatal("notify socket closed")
		}
		return m
	case <-time.After(waitLimit):
		t.Fatal("no notification")
	}
	return ""
}

// extendRE is what a slow start sends every second.
var extendRE = regexp.MustCompile(`^EXTEND_TIMEOUT_USEC=(\d+)\nSTATUS=starting up \(\d+s so far\): fake: Listen \(binding the listeners\)$`)

// TestSlowStart runs starts whose Listen waits for a file (as a start
// waiting for a slow disk or a FIFO's reader would) under a notify socket.
func TestSlowStart(t *testing.T) {
	t.Parallel()

	t.Run("extends the start timeout until ready", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		sock, msgs := notifySocket(t, dir)
		gate := filepath.Join(dir, "go")
		c := startChild(t, dir, []string{"NOTIFY_SOCKET=" + sock}, "-n", "--pidfile=", "fake", "--listen-wait="+gate)
		// After a second, then every second: 3 s more, with what it waits for.
		for range 2 {
			m := nextNotify(t, msgs)
			sub := extendRE.FindStringSubmatch(m)
			if sub == nil || sub[1] != "3000000" {
				t.Fatalf("while Listen waits: %q, want EXTEND_TIMEOUT_USEC=3000000 with STATUS=", m)
			}
		}
		c.waitLine("[-] Start-up is taking a while (fake: Listen (binding the listeners)); asking systemd for more time (EXTEND_TIMEOUT_USEC) for up to --start-timeout 1m30s in all.")
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		c.waitLine("Site starting on")
		for {
			m := nextNotify(t, msgs)
			if extendRE.MatchString(m) {
				continue // sent before Listen returned
			}
			if !strings.HasPrefix(m, "READY=1\nSTATUS=serving fake on 127.0.0.1:") {
				t.Errorf("once listening: %q, want READY=1", m)
			}
			break
		}
		c.signal(syscall.SIGTERM)
		if code := c.wait(); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})

	t.Run("SIGTERM ends a slow start at once", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		sock, msgs := notifySocket(t, dir)
		pidfile := filepath.Join(dir, "x.pid")
		c := startChild(t, dir, []string{"NOTIFY_SOCKET=" + sock}, "-n", "--pidfile="+pidfile, "fake", "--listen-wait="+filepath.Join(dir, "never"))
		if m := nextNotify(t, msgs); !extendRE.MatchString(m) {
			t.Fatalf("while Listen waits: %q, want EXTEND_TIMEOUT_USEC", m)
		}
		c.signal(syscall.SIGTERM)
		c.waitLine("[-] Received SIGTERM while starting up (fake: Listen (binding the listeners)), exiting.")
		if code := c.wait(); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
		if strings.Contains(c.output(), "Site starting") {
			t.Errorf("the interrupted start went on:\n%s", c.output())
		}
		if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
			t.Errorf("pidfile left behind (stat: %v)", err)
		}
	})

	t.Run("SIGHUP during a slow start reloads once started", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		sock, msgs := notifySocket(t, dir)
		gate := filepath.Join(dir, "go")
		c := startChild(t, dir, []string{"NOTIFY_SOCKET=" + sock}, "-n", "--pidfile=", "fake", "--listen-wait="+gate)
		if m := nextNotify(t, msgs); !extendRE.MatchString(m) {
			t.Fatalf("while Listen waits: %q, want EXTEND_TIMEOUT_USEC", m)
		}
		c.signal(syscall.SIGHUP)
		c.waitLine("[-] Received SIGHUP while starting up; handling it once started.")
		if err := os.WriteFile(gate, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		c.waitLine("Site starting on")
		c.waitLine("[-] Received SIGHUP, reloading.")
		c.waitLine("[fake] fake: reloaded")
		c.signal(syscall.SIGTERM)
		if code := c.wait(); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})

	t.Run("--start-timeout fails a start that takes longer", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		sock, msgs := notifySocket(t, dir)
		c := startChild(t, dir, []string{"NOTIFY_SOCKET=" + sock}, "-n", "--pidfile=", "--start-timeout=1500ms",
			"fake", "--listen-wait="+filepath.Join(dir, "never"))
		const msg = "start-up did not finish within --start-timeout 1.5s (still in fake: Listen (binding the listeners)): find what it waits for, or raise --start-timeout"
		c.waitLine("[-#error] " + msg)
		if code := c.wait(); code != 1 {
			t.Errorf("exit status %d, want 1", code)
		}
		for {
			m := nextNotify(t, msgs)
			if sub := extendRE.FindStringSubmatch(m); sub != nil {
				// Never beyond --start-timeout, plus a second.
				if usec, _ := strconv.Atoi(sub[1]); usec > 1500000 {
					t.Errorf("%q asks for more than the 1.5s left", m)
				}
				continue
			}
			if m != "STATUS="+msg {
				t.Errorf("after the timeout: %q, want STATUS= with the error", m)
			}
			break
		}
	})
}

// TestWatchdogFollowsHealthy: while the service's Healthy fails, the
// runner says so and stops pinging; once it passes again, pings resume.
func TestWatchdogFollowsHealthy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock, msgs := notifySocket(t, dir)
	sick := filepath.Join(dir, "sick")
	c := startChild(t, dir, []string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000"},
		"-n", "--pidfile=", "fake", "--unhealthy="+sick)
	waitPing := func() {
		t.Helper()
		for nextNotify(t, msgs) != "WATCHDOG=1" {
		}
	}
	waitPing()
	if err := os.WriteFile(sick, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c.waitLine("[-#warn] systemd watchdog: health check failed, not pinging: fake: unhealthy")
	c.waitLine("[-#warn] systemd watchdog: health check failed, not pinging: fake: unhealthy")
	if err := os.Remove(sick); err != nil {
		t.Fatal(err)
	}
	// Drain what was sent before; a ping after the warnings' second
	// round can only come from a passing check.
	for len(msgs) > 0 {
		<-msgs
	}
	waitPing()
	c.signal(syscall.SIGTERM)
	if code := c.wait(); code != 0 {
		t.Errorf("exit status %d", code)
	}
}
