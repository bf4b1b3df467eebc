//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/loadgen"
)

// Restarts under load with the units as a user writes them: the tutorial's
// socket-activated service verbatim (testdata/seed: `--port
// systemd:domain=INET:index=0`, User=nobody, Restart=always,
// NonBlocking=true, no FD store), and the same with nothing but
// FileDescriptorStoreMax= added. TestRestarts covers the unit that also
// sets $FDSTORE and ExecReload=.

// seedUnit is one way of writing the tutorial's unit.
type seedUnit struct {
	name   string
	dropIn string // a drop-in added to the verbatim unit, or ""
	// store: the unit has an FD store, so keep-alive connections are
	// handed over and every request must be answered; without one a
	// keep-alive client that sends just as an idle connection closes may
	// lose that request, which the test reports but does not fail on.
	store bool
	// small: the store has room for 2 connections only, fewer than the
	// load's clients.
	small bool
	// v254: the box runs systemd 254 from bookworm-backports, which sets
	// $FDSTORE itself, so no D-Bus question is asked.
	v254 bool
}

// seedScenarios are the short runs CI makes on each unit.
func seedScenarios() []restartScenario {
	return []restartScenario{
		{restartRestart, loadgen.PerRequest, 4, 6 * time.Second},
		{restartRestart, loadgen.KeepAlive, 4, 6 * time.Second},
	}
}

// TestRestartsSeedUnit restarts the tutorial's unit under load: a
// connection per request loses nothing even without an FD store (every
// connection the stopping instance accepted is answered, the ones still
// queued go to the next instance), and with FileDescriptorStoreMax= alone
// (systemd 252 sets no $FDSTORE) keep-alive connections are handed over
// and nothing is lost either.
func TestRestartsSeedUnit(t *testing.T) {
	t.Parallel()
	SkipUnlessRoot(t)
	units := []seedUnit{
		{name: "verbatim"},
		{name: "FileDescriptorStoreMax", dropIn: "testdata/seed/fdstoremax.conf", store: true},
		{name: "FileDescriptorStoreMax=2", dropIn: "testdata/seed/fdstoremax2.conf", small: true},
		{name: "FileDescriptorStoreMax on systemd 254", dropIn: "testdata/seed/fdstoremax.conf", store: true, v254: true},
	}
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			seedSuite(t, u)
		})
	}
}

// seedSuite boots a box with unit u behind the tutorial's socket and runs
// the scenarios on it.
func seedSuite(t *testing.T, u seedUnit) {
	var cfg Config
	if u.v254 {
		cfg.Overlay = notifyUnpack(notifyDebs(t))
	}
	box, page := tutorialBoxWith(t, cfg)
	// The test counts the handover's lines in the journal: no rate limit.
	must(t, box.WriteFile("/etc/systemd/journald.conf.d/restart.conf", []byte("[Journal]\nRateLimitIntervalSec=0\n"), 0o644))
	systemctl(t, box, "restart", "systemd-journald")
	install(t, box, repoFile("deploy/systemd/www.example.com.socket"), socketFile)
	install(t, box, "testdata/seed/www.example.com.socketactivated.service", serviceFile)
	if u.dropIn != "" {
		install(t, box, u.dropIn, "/etc/systemd/system/www.example.com.service.d/store.conf")
	}
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", socket)
	if body := eventuallyCurl(t, box, "http://127.0.0.1/"); body != string(page) {
		t.Fatalf("curl http://127.0.0.1/ = %q, want the page", body)
	}
	if u.v254 {
		if v, _ := box.Run("systemctl", "--version"); !strings.Contains(v, "systemd 254") {
			t.Fatalf("the box runs %q, want systemd 254", strings.SplitN(v, "\n", 2)[0])
		}
	}
	if v, _ := box.Show(service, "Environment"); strings.Contains(v, "FDSTORE") {
		t.Fatalf("Environment=%s: the unit must not set FDSTORE", v)
	}
	for _, sc := range seedScenarios() {
		if u.small && sc.mode != loadgen.KeepAlive {
			continue
		}
		t.Run(sc.name(), func(t *testing.T) {
			// The unit keeps systemd's start limit (5 starts in 10 s):
			// each scenario starts from a clean count.
			systemctl(t, box, "reset-failed", service)
			f := restartRun(t, box, restartGotwistd, sc, page)
			t.Logf("%s: %v; %d pids, %d connections handed over, %d adopted", sc, f.res, f.pids, f.handed, f.adopted)
			for _, e := range f.res.Errors() {
				t.Logf("  %s", e)
			}
			if f.pids != sc.count+1 {
				t.Errorf("%s: %d distinct main pids, want %d", sc, f.pids, sc.count+1)
			}
			lossless := sc.mode == loadgen.PerRequest || u.store
			if lossless && f.res.Failures() != 0 {
				t.Errorf("%s: %d of %d requests failed, want none", sc, f.res.Failures(), f.res.Requests)
			}
			if sc.mode == loadgen.KeepAlive {
				if u.store && !u.v254 && !strings.Contains(f.journal, "File descriptor store: FileDescriptorStoreMax=4096") {
					t.Errorf("%s: no instance said it learnt the store's size over D-Bus", sc)
				}
				if u.v254 && strings.Contains(f.journal, "over D-Bus") {
					t.Errorf("%s: systemd 254 sets $FDSTORE, yet an instance asked D-Bus", sc)
				}
				if u.store && (f.handed == 0 || f.adopted == 0) {
					t.Errorf("%s: %d connections handed over, %d adopted; want FileDescriptorStoreMax= alone to hand them over", sc, f.handed, f.adopted)
				}
				if !u.store && !u.small && f.handed != 0 {
					t.Errorf("%s: %d connections handed over without an FD store", sc, f.handed)
				}
				if u.small {
					// At most 2 a restart, and never one systemd had
					// to close for want of room.
					if f.handed == 0 || f.handed > 2*sc.count {
						t.Errorf("%s: %d connections handed over to a store of 2, want 1 to %d", sc, f.handed, 2*sc.count)
					}
					if strings.Contains(f.journal, "Cannot store more fds") {
						t.Errorf("%s: systemd closed connections sent to a full store", sc)
					}
					if !strings.Contains(f.journal, "The file descriptor store is full") {
						t.Errorf("%s: no instance said the store was full", sc)
					}
				}
			}
			if t.Failed() {
				t.Logf("first failure of each kind at: %s\njournal:\n%s", restartFirstAt(f.res), f.journal)
			}
		})
	}
}
