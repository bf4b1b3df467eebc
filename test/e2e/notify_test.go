//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notifyBigSize is the size of /srv/www/big.bin: much more than loopback's socket
// buffers hold, so a client that stops reading keeps its request in flight.
const notifyBigSize = 32 << 20

// TestNotify runs gotwistd as a Type=notify service of Debian 12's systemd
// (252), one box for every case, in order: READY=1 and STATUS=, start
// failures as STATUS=/ERRNO=, EXTEND_TIMEOUT_USEC on a slow start, reload
// by ExecReload=kill -HUP (certificates and access log, keeping
// connections), the watchdog's pings and what happens when they stop, and
// STOPPING=1 with a graceful exit.
func TestNotify(t *testing.T) {
	t.Parallel()
	box := notifyBox(t, Config{}, "www-notify.service", "www-nopath.service", "www-inuse.service",
		"www-slow.service", "www-strict.service")
	page, err := os.ReadFile("testdata/index.html")
	must(t, err)
	notifyInstallCert(t, box, 1001)
	_, err = box.Run("sh", "-c", fmt.Sprintf("head -c %d /dev/zero >/srv/www/big.bin", notifyBigSize))
	must(t, err)

	const unit = "www-notify.service"
	var pid int
	step := func(name string, f func(t *testing.T)) {
		if t.Failed() {
			return // each step builds on the ones before
		}
		begin := time.Now()
		t.Run(name, f)
		t.Logf("%s: %v", name, time.Since(begin).Round(time.Millisecond))
	}

	step("READY=1 once every listener is up, with STATUS=", func(t *testing.T) {
		// Enabled, as in production: systemd keeps its state (exit
		// status, restart count) once it is inactive.
		systemctl(t, box, "enable", "--now", unit)
		// systemctl start has returned, so READY=1 came: both listeners
		// answer now, at the first try.
		if body, err := box.Curl("http://127.0.0.1:8081/"); err != nil || body != string(page) {
			t.Errorf("right after start, curl tcp:8081 = %q, %v; want the page", body, err)
		}
		if body, err := box.Curl("https://127.0.0.1:8443/", "--insecure"); err != nil || body != string(page) {
			t.Errorf("right after start, curl ssl:8443 = %q, %v; want the page", body, err)
		}
		pid = mainPID(t, box, unit)
		wantContains(t, "status", status(t, box, unit),
			"Active: active (running)",
			`Status: "serving /srv/www (static) on tcp:8081, ssl:8443"`,
			fmt.Sprintf("Main PID: %d (gotwistd)", pid))
	})

	step("start failures as STATUS= and ERRNO=", func(t *testing.T) {
		cases := []struct {
			unit, text, errno, errLine string
		}{
			{
				unit:    "www-nopath.service",
				text:    `--path /srv/missing: root directory "/srv/missing" does not exist: stat /srv/missing: no such file or directory`,
				errno:   "2",
				errLine: "Error: 2 (No such file or directory)",
			},
			{
				unit:    "www-inuse.service",
				text:    "endpoint tcp:8081: port 8081 is already in use: stop the server using it (ss -ltnp shows it) or choose another port: listen tcp :8081: bind: address already in use",
				errno:   "98",
				errLine: "Error: 98 (Address already in use)",
			},
		}
		for _, tc := range cases {
			t.Run(tc.unit, func(t *testing.T) {
				if _, err := box.Systemctl("start", tc.unit); err == nil {
					t.Errorf("systemctl start %s succeeded, want the start to fail", tc.unit)
				}
				m := notifyShow(t, box, tc.unit, "ActiveState", "Result", "StatusText", "StatusErrno")
				want := map[string]string{"ActiveState": "failed", "Result": "exit-code", "StatusText": tc.text, "StatusErrno": tc.errno}
				for k, v := range want {
					if m[k] != v {
						t.Errorf("%s: %s=%q, want %q", tc.unit, k, m[k], v)
					}
				}
				wantContains(t, "status of "+tc.unit, status(t, box, tc.unit),
					"Active: failed (Result: exit-code)", `Status: "`+tc.text+`"`, tc.errLine)
			})
		}
	})

	step("EXTEND_TIMEOUT_USEC keeps a slow start alive", func(t *testing.T) {
		// Both wait to open their access log, a FIFO, until a reader
		// opens it; www-strict has the extension turned off.
		systemctl(t, box, "start", "--no-block", "www-slow.service", "www-strict.service")
		var m map[string]string
		err := eventually(30*time.Second, func() error {
			m = notifyShow(t, box, "www-strict.service", "ActiveState", "Result")
			if m["ActiveState"] != "failed" {
				return fmt.Errorf("www-strict.service is %s", m["ActiveState"])
			}
			return nil
		})
		if err != nil || m["Result"] != "timeout" {
			st, _ := box.Status("www-strict.service")
			t.Fatalf("without extension: %v, Result=%s; want TimeoutStartSec=2 to fail the start\n%s", err, m["Result"], st)
		}
		waitJournal(t, box, "www-strict.service",
			"www-strict.service: start operation timed out. Terminating.",
			"Received SIGTERM while starting up (web: Listen (binding the listeners)), exiting.")

		// www-slow is still starting, well past its TimeoutStartSec=2,
		// and says what it waits for.
		err = eventually(30*time.Second, func() error {
			m = notifyShow(t, box, "www-slow.service", "ActiveState", "StatusText")
			if m["ActiveState"] != "activating" {
				return fmt.Errorf("www-slow.service is %s, want activating", m["ActiveState"])
			}
			sub := soFarRE.FindStringSubmatch(m["StatusText"])
			if sub == nil {
				return fmt.Errorf("StatusText=%q", m["StatusText"])
			}
			if n, _ := strconv.Atoi(sub[1]); n < 3 {
				return fmt.Errorf("StatusText=%q", m["StatusText"])
			}
			return nil
		})
		if err != nil {
			st, _ := box.Status("www-slow.service")
			t.Fatalf("with extension: %v\n%s", err, st)
		}
		wantContains(t, "status of the slow start", status(t, box, "www-slow.service"),
			"Active: activating (start)",
			`Status: "starting up (`, `s so far): web: Listen (binding the listeners)"`)

		// The log's reader starts: the start completes.
		_, err = box.Run("systemd-run", "--quiet", "--unit=www-slow-log-reader", "/bin/sh", "-c", "exec cat /run/www-slow/access.fifo")
		must(t, err)
		err = eventually(30*time.Second, func() error {
			m = notifyShow(t, box, "www-slow.service", "ActiveState", "ExecMainStartTimestampMonotonic",
				"ActiveEnterTimestampMonotonic", "NRestarts", "TimeoutStartUSec")
			if m["ActiveState"] != "active" {
				return fmt.Errorf("www-slow.service is %s", m["ActiveState"])
			}
			return nil
		})
		if err != nil {
			st, _ := box.Status("www-slow.service")
			t.Fatalf("once the reader came: %v\n%s", err, st)
		}
		took := time.Duration(notifyUsec(t, m, "ActiveEnterTimestampMonotonic")-notifyUsec(t, m, "ExecMainStartTimestampMonotonic")) * time.Microsecond
		if took <= 2*time.Second || m["TimeoutStartUSec"] != "2s" || m["NRestarts"] != "0" {
			t.Errorf("www-slow.service became active %v after its start with TimeoutStartUSec=%s, NRestarts=%s; want longer than 2s, 2s, 0",
				took, m["TimeoutStartUSec"], m["NRestarts"])
		}
		t.Logf("the slow start took %v with TimeoutStartSec=2", took.Round(time.Millisecond))
		waitJournal(t, box, "www-slow.service", "Start-up is taking a while (web: Listen (binding the listeners)); "+
			"asking systemd for more time (EXTEND_TIMEOUT_USEC) for up to --start-timeout 1m30s in all.")
		if body, err := box.Curl("http://127.0.0.1:8082/?via-fifo"); err != nil || body != string(page) {
			t.Errorf("curl the slow-started server = %q, %v; want the page", body, err)
		}
		// Its access lines reach the reader through the FIFO.
		waitJournal(t, box, "www-slow-log-reader.service", `"GET /?via-fifo HTTP/1.1" 200`)
		// The reader ends with the writer (end of file).
		systemctl(t, box, "stop", "www-slow.service")
	})

	step("reload by ExecReload=kill -HUP", func(t *testing.T) {
		old := notifyConnect(t, box, "127.0.0.1:8443", true)
		if s := old.serial(t); s != 1001 {
			t.Fatalf("certificate serial %d before the reload, want 1001", s)
		}
		if code, _, err := old.get("/"); err != nil || code != 200 {
			t.Fatalf("GET / before the reload: %d, %v", code, err)
		}
		// logrotate's way: move the log away, then reload; and a renewed
		// certificate.
		notifyWaitFile(t, box, "/var/log/www/access.log", `"GET / HTTP/1.1" 200`)
		_, err := box.Run("mv", "/var/log/www/access.log", "/var/log/www/access.log.1")
		must(t, err)
		notifyInstallCert(t, box, 2002)

		systemctl(t, box, "reload", unit)
		waitJournal(t, box, unit, "Received SIGHUP, reloading.", "Reload complete.")
		if got := mainPID(t, box, unit); got != pid {
			t.Errorf("main pid %d after the reload, want the same %d", got, pid)
		}
		// New handshakes get the new certificate...
		fresh := notifyConnect(t, box, "127.0.0.1:8443", true)
		if s := fresh.serial(t); s != 2002 {
			t.Errorf("certificate serial %d after the reload, want 2002", s)
		}
		if code, body, err := fresh.get("/"); err != nil || code != 200 || body != string(page) {
			t.Errorf("GET / on a new connection: %d %q %v", code, body, err)
		}
		// ...while the connection opened before it still serves.
		if code, body, err := old.get("/?after-reload"); err != nil || code != 200 || body != string(page) {
			t.Errorf("GET on the connection opened before the reload: %d %q %v", code, body, err)
		}
		if s := old.serial(t); s != 1001 {
			t.Errorf("the old connection now shows serial %d", s)
		}
		// The access log was reopened: new lines go to a new file.
		notifyWaitFile(t, box, "/var/log/www/access.log", `"GET /?after-reload HTTP/1.1" 200`)
		if rotated, err := box.ReadFile("/var/log/www/access.log.1"); err != nil || strings.Contains(string(rotated), "after-reload") {
			t.Errorf("the moved-away log: %v, or it got a line after the reload:\n%s", err, rotated)
		}
	})

	step("WatchdogSec= is fed", func(t *testing.T) {
		if m := notifyShow(t, box, unit, "WatchdogUSec"); m["WatchdogUSec"] != "2s" {
			t.Fatalf("WatchdogUSec=%s, want 2s", m["WatchdogUSec"])
		}
		waitJournal(t, box, unit, "systemd watchdog: 2s, pinging every 1s.")
		// Pings keep coming beyond three intervals, and the service is
		// never restarted.
		var m map[string]string
		var broken error
		err := eventually(30*time.Second, func() error {
			m = notifyShow(t, box, unit, "MainPID", "NRestarts", "ExecMainStartTimestampMonotonic", "WatchdogTimestampMonotonic")
			if m["MainPID"] != strconv.Itoa(pid) || m["NRestarts"] != "0" {
				broken = fmt.Errorf("MainPID=%s NRestarts=%s, want %d and 0", m["MainPID"], m["NRestarts"], pid)
				return nil
			}
			if d := notifyUsec(t, m, "WatchdogTimestampMonotonic") - notifyUsec(t, m, "ExecMainStartTimestampMonotonic"); d < 7e6 {
				return fmt.Errorf("last ping %v after the start", time.Duration(d)*time.Microsecond)
			}
			return nil
		})
		if err == nil {
			err = broken
		}
		if err != nil {
			j, _ := box.Journal(unit)
			t.Fatalf("watchdog: %v\n%s", err, tail(j, 30))
		}
	})

	step("a hung server stops pinging: the watchdog restarts it", func(t *testing.T) {
		_, err := box.Run("kill", "-STOP", strconv.Itoa(pid))
		must(t, err)
		old := pid
		err = eventually(30*time.Second, func() error {
			m := notifyShow(t, box, unit, "MainPID", "SubState")
			if m["MainPID"] == "0" || m["MainPID"] == strconv.Itoa(old) || m["SubState"] != "running" {
				return fmt.Errorf("MainPID=%s SubState=%s", m["MainPID"], m["SubState"])
			}
			return nil
		})
		if err != nil {
			st, _ := box.Status(unit)
			t.Fatalf("after kill -STOP %d: %v\n%s", old, err, st)
		}
		pid = mainPID(t, box, unit)
		if m := notifyShow(t, box, unit, "NRestarts"); m["NRestarts"] != "1" {
			t.Errorf("NRestarts=%s, want 1", m["NRestarts"])
		}
		waitJournal(t, box, unit, unit+": Watchdog timeout (limit 2s)!", unit+": Failed with result 'watchdog'.")
		if body, err := box.Curl("http://127.0.0.1:8081/"); err != nil || body != string(page) {
			t.Errorf("the restarted server: curl = %q, %v", body, err)
		}
	})

	step("STOPPING=1, then a graceful exit with status 0", func(t *testing.T) {
		// A download in flight, its client not reading: the shutdown
		// waits for it.
		c := notifyConnect(t, box, "127.0.0.1:8081", false)
		_, err := fmt.Fprintf(c.conn, "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
		must(t, err)
		resp, err := http.ReadResponse(c.br, nil)
		must(t, err)
		defer resp.Body.Close()
		// kill, not systemctl stop: only STOPPING=1 tells systemd.
		_, err = box.Run("kill", "-TERM", strconv.Itoa(pid))
		must(t, err)
		var m map[string]string
		err = eventually(10*time.Second, func() error {
			m = notifyShow(t, box, unit, "ActiveState", "SubState", "StatusText")
			if m["ActiveState"] != "deactivating" {
				return fmt.Errorf("ActiveState=%s", m["ActiveState"])
			}
			return nil
		})
		if err != nil {
			t.Fatalf("after SIGTERM with a request in flight: %v", err)
		}
		if m["SubState"] != "stop-sigterm" || m["StatusText"] != "shutting down" {
			t.Errorf("SubState=%s StatusText=%q, want stop-sigterm and \"shutting down\"", m["SubState"], m["StatusText"])
		}
		wantContains(t, "status while stopping", status(t, box, unit),
			"Active: deactivating (stop-sigterm)", `Status: "shutting down"`)
		// The download completes, then gotwistd exits 0.
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != notifyBigSize {
			t.Errorf("the download in flight got %d bytes, %v; want all %d", n, err, notifyBigSize)
		}
		err = eventually(20*time.Second, func() error {
			m = notifyShow(t, box, unit, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus", "NRestarts")
			if m["ActiveState"] != "inactive" {
				return fmt.Errorf("ActiveState=%s", m["ActiveState"])
			}
			return nil
		})
		if err != nil {
			st, _ := box.Status(unit)
			t.Fatalf("after the download: %v\n%s", err, st)
		}
		if m["Result"] != "success" || m["ExecMainStatus"] != "0" || m["NRestarts"] != "1" {
			t.Errorf("Result=%s ExecMainStatus=%s NRestarts=%s, want success, 0, 1 (no restart)", m["Result"], m["ExecMainStatus"], m["NRestarts"])
		}
		wantContains(t, "status after the exit", status(t, box, unit), "Active: inactive (dead)", "status=0/SUCCESS")
		waitJournal(t, box, unit, "Received SIGTERM, shutting down.", "Server Shut Down.")
	})
}

// soFarRE matches the STATUS= of a slow start, e.g. "starting up (3s so
// far): web: Listen (binding the listeners)".
var soFarRE = regexp.MustCompile(`^starting up \((\d+)s so far\): web: Listen \(binding the listeners\)$`)

// TestNotifyReloadType runs gotwistd as a Type=notify-reload service, which
// needs systemd >= 253: the box gets systemd 254 from bookworm-backports,
// unpacked into its overlay. systemctl reload sends SIGHUP and completes
// only once gotwistd answered RELOADING=1 with MONOTONIC_USEC, then READY=1.
func TestNotifyReloadType(t *testing.T) {
	t.Parallel()
	SkipUnlessRoot(t)
	debs := notifyDebs(t)
	box := notifyBox(t, Config{Overlay: notifyUnpack(debs)}, "www-notify-reload.service")
	const unit = "www-notify-reload.service"

	ver, err := box.Run("systemctl", "--version")
	must(t, err)
	var major int
	if _, err := fmt.Sscanf(ver, "systemd %d", &major); err != nil || major < 253 {
		t.Fatalf("the box runs %q, want systemd >= 253", notifyFirstLine(ver))
	}
	t.Logf("the box runs %s", notifyFirstLine(ver))

	notifyInstallCert(t, box, 1001)
	systemctl(t, box, "enable", "--now", unit)
	pid := mainPID(t, box, unit)
	old := notifyConnect(t, box, "127.0.0.1:8443", true)
	if s := old.serial(t); s != 1001 {
		t.Fatalf("certificate serial %d, want 1001", s)
	}
	if code, _, err := old.get("/"); err != nil || code != 200 {
		t.Fatalf("GET / before the reload: %d, %v", code, err)
	}

	notifyInstallCert(t, box, 2002)
	// A reload whose handshake fails hangs until TimeoutStartSec= (90s):
	// bound it well below.
	begin := time.Now()
	if _, err := box.Run("timeout", "20", "systemctl", "reload", unit); err != nil {
		st, _ := box.Status(unit)
		t.Fatalf("systemctl reload: %v\n%s", err, st)
	}
	t.Logf("systemctl reload returned after %v", time.Since(begin).Round(time.Millisecond))
	waitJournal(t, box, unit, "Received SIGHUP, reloading.", "Reload complete.", "Reloaded www-notify-reload.service")
	m := notifyShow(t, box, unit, "ActiveState", "SubState", "MainPID", "ReloadResult", "NRestarts")
	want := map[string]string{"ActiveState": "active", "SubState": "running", "MainPID": strconv.Itoa(pid), "ReloadResult": "success", "NRestarts": "0"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("after the reload: %s=%s, want %s", k, m[k], v)
		}
	}
	fresh := notifyConnect(t, box, "127.0.0.1:8443", true)
	if s := fresh.serial(t); s != 2002 {
		t.Errorf("certificate serial %d after the reload, want 2002", s)
	}
	if code, _, err := fresh.get("/"); err != nil || code != 200 {
		t.Errorf("GET / on a new connection: %d, %v", code, err)
	}
	if code, _, err := old.get("/?after-reload"); err != nil || code != 200 {
		t.Errorf("GET on the connection opened before the reload: %d, %v", code, err)
	}

	systemctl(t, box, "stop", unit)
	m = notifyShow(t, box, unit, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
	want = map[string]string{"ActiveState": "inactive", "Result": "success", "ExecMainCode": "1", "ExecMainStatus": "0"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("after stop: %s=%s, want %s (exited with status 0)", k, m[k], v)
		}
	}
}

// notifyWaitFile waits until the access log file in the box has a line
// containing want (the web plugin writes lines out within a second).
func notifyWaitFile(t *testing.T, box *Box, path, want string) {
	t.Helper()
	var got []byte
	err := eventually(10*time.Second, func() error {
		var err error
		if got, err = box.ReadFile(path); err != nil {
			return err
		}
		if !strings.Contains(string(got), want) {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: no line with %q: %v\n%s", path, want, err, got)
	}
}

func notifyFirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
