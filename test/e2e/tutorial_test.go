//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tutorial's paths, as it writes them.
const (
	sitePage    = "/srv/www/www.example.com/static/index.html"
	serviceFile = "/etc/systemd/system/www.example.com.service"
	socketFile  = "/etc/systemd/system/www.example.com.socket"
	service     = "www.example.com.service"
	socket      = "www.example.com.socket"
)

// tutorialBox boots a box with the freshly built gotwistd installed as
// /usr/bin/gotwistd and the tutorial's page in /srv, as the tutorial's
// prerequisites ask.
func tutorialBox(t *testing.T) (*Box, []byte) {
	t.Helper()
	return tutorialBoxWith(t, Config{})
}

// tutorialBoxWith is tutorialBox with the box configured by cfg.
func tutorialBoxWith(t *testing.T, cfg Config) (*Box, []byte) {
	t.Helper()
	SkipUnlessRoot(t)
	bin := gotwistdBinary(t)
	page, err := os.ReadFile("testdata/index.html")
	must(t, err)
	box := Start(t, cfg)
	must(t, box.CopyFile(bin, "/usr/bin/gotwistd", 0o755))
	must(t, box.WriteFile(sitePage, page, 0o644))
	return box, page
}

// install copies a file of the repository into the box.
func install(t *testing.T, box *Box, repoPath, boxPath string) {
	t.Helper()
	must(t, box.CopyFile(repoPath, boxPath, 0o644))
}

// installDropIn installs the repository file repoPath as unit's drop-in
// /etc/systemd/system/<unit>.d/override.conf, where `systemctl edit`
// writes one; an empty repoPath installs none.
func installDropIn(t *testing.T, box *Box, repoPath, unit string) {
	t.Helper()
	if repoPath != "" {
		install(t, box, repoPath, "/etc/systemd/system/"+unit+".d/override.conf")
	}
}

// enableWantedBy runs `systemctl enable unit` and checks that it linked
// unit into target's .wants directory, as unit's WantedBy=target asks,
// pointing at unitFile.
func enableWantedBy(t *testing.T, box *Box, unit, target, unitFile string) {
	t.Helper()
	systemctl(t, box, "enable", unit)
	wants := target + ".wants/" + unit
	link, err := box.Run("readlink", "/etc/systemd/system/"+wants)
	must(t, err)
	if got := strings.TrimSpace(link); got != unitFile {
		t.Errorf("%s -> %q, want %q", wants, got, unitFile)
	}
}

// TestTutorialStatic walks "Basic Systemd Service Configuration" with the
// shipped deploy/systemd/www.example.com.static.service installed as
// www.example.com.service, as shipped (--listen tcp:8080) and with the
// tutorial's own "--port 8080" through a drop-in.
func TestTutorialStatic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		dropIn  string // testdata file installed as www.example.com.service.d/<name>.conf
		cmdLine string // the command line systemctl status shows
	}{
		{
			name:    "listen tcp:8080",
			cmdLine: "/usr/bin/gotwistd --nodaemon --pidfile= web --listen tcp:8080 --path .",
		},
		{
			name:    "port 8080",
			dropIn:  "testdata/port.conf",
			cmdLine: "/usr/bin/gotwistd --nodaemon --pidfile= web --port 8080 --path .",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			box, page := tutorialBox(t)

			// Create a systemd.service file; reload systemd.
			install(t, box, repoFile("deploy/systemd/www.example.com.static.service"), serviceFile)
			installDropIn(t, box, tc.dropIn, service)
			systemctl(t, box, "daemon-reload")

			// Start the service: status, journal, the page.
			systemctl(t, box, "start", "www.example.com")
			st := status(t, box, service)
			pid := mainPID(t, box, service)
			wantContains(t, "status after start", st,
				"www.example.com.service - Example Web Server",
				"Loaded: loaded (/etc/systemd/system/www.example.com.service;",
				"Active: active (running)",
				fmt.Sprintf("Main PID: %d (gotwistd)", pid),
				fmt.Sprintf("%d %s", pid, tc.cmdLine))
			waitJournal(t, box, service,
				"Started www.example.com.service - Example Web Server.",
				fmt.Sprintf("gotwistd[%d]: ", pid),
				"starting up",
				"Site starting on 8080")
			if body := eventuallyCurl(t, box, "http://localhost:8080/"); body != string(page) {
				t.Errorf("curl http://localhost:8080/ = %q, want the tutorial's page %q", body, page)
			}

			// The process runs as User=nobody, Group=nogroup.
			wantIDs(t, box, pid, "nobody", "nogroup")

			// Enable the service: the multi-user.target.wants symlink.
			enableWantedBy(t, box, service, "multi-user.target", serviceFile)
			if wants, _ := box.Show("multi-user.target", "Wants"); !strings.Contains(wants, service) {
				t.Errorf("multi-user.target Wants=%s, want it to include %s", wants, service)
			}

			// Kill the process: Restart=always brings it back with a new pid.
			restarted(t, box, service, pid)
			if body := eventuallyCurl(t, box, "http://localhost:8080/"); body != string(page) {
				t.Errorf("after the restart, curl = %q, want the page", body)
			}

			// Stop the service: inactive (dead), exited with status 0.
			systemctl(t, box, "stop", service)
			st = status(t, box, service)
			wantContains(t, "status after stop", st,
				"Active: inactive (dead)",
				"ExecStart="+tc.cmdLine+" (code=exited, status=0/SUCCESS)")
			if _, err := box.Curl("http://localhost:8080/"); !curlRefused(err) {
				t.Errorf("after stop, curl :8080 = %v, want connection refused", err)
			}
		})
	}
}

// restarted kills the unit's main process as the tutorial does (`kill PID`,
// SIGTERM) and checks that systemd restarts it with a new pid within 2 s.
func restarted(t *testing.T, box *Box, unit string, old int) {
	t.Helper()
	begin := time.Now()
	if _, err := box.Run("kill", strconv.Itoa(old)); err != nil {
		t.Fatalf("kill %d: %v", old, err)
	}
	var pid int
	var state string
	err := eventually(2*time.Second, func() error {
		var err error
		if pid, err = box.MainPID(unit); err != nil {
			return err
		}
		if state, err = box.Show(unit, "SubState"); err != nil {
			return err
		}
		if pid == 0 || pid == old || state != "running" {
			return fmt.Errorf("main pid %d, state %s", pid, state)
		}
		return nil
	})
	if err != nil {
		st, _ := box.Status(unit)
		t.Fatalf("after kill %d: not running again with a new pid within 2s: %v\n%s", old, err, st)
	}
	t.Logf("kill %d: running again as pid %d after %v", old, pid, time.Since(begin).Round(time.Millisecond))
	if n, _ := box.Show(unit, "NRestarts"); n != "1" {
		t.Errorf("NRestarts=%s, want 1", n)
	}
	st := status(t, box, unit)
	wantContains(t, "status after restart", st, "Active: active (running)",
		fmt.Sprintf("Main PID: %d (gotwistd)", pid))
}

// curlRefused says whether a Box.Curl error is curl's "couldn't connect"
// (exit status 7).
func curlRefused(err error) bool {
	var exit *exec.ExitError
	return errors.As(err, &exit) && exit.ExitCode() == 7
}

// TestTutorialSocketActivation walks "Socket Activation" with the shipped
// deploy/systemd/www.example.com.socket and
// www.example.com.socketactivated.service (installed as
// www.example.com.service): as shipped (index=0), and with the socket named
// through FileDescriptorName=my-web-port and adopted by
// systemd:domain=INET:name=my-web-port (drop-ins).
func TestTutorialSocketActivation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		socketDropIn  string
		serviceDropIn string
		cmdLine       string
	}{
		{
			name:    "index=0",
			cmdLine: "/usr/bin/gotwistd --nodaemon --pidfile= web --listen systemd:domain=INET:index=0 --path .",
		},
		{
			name:          "name=my-web-port",
			socketDropIn:  "testdata/fdname.socket.conf",
			serviceDropIn: "testdata/fdname.service.conf",
			cmdLine:       "/usr/bin/gotwistd --nodaemon --pidfile= web --listen systemd:domain=INET:name=my-web-port --path .",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			box, page := tutorialBox(t)

			// Create the socket file and the modified service file.
			install(t, box, repoFile("deploy/systemd/www.example.com.socket"), socketFile)
			install(t, box, repoFile("deploy/systemd/www.example.com.socketactivated.service"), serviceFile)
			installDropIn(t, box, tc.socketDropIn, socket)
			installDropIn(t, box, tc.serviceDropIn, service)
			systemctl(t, box, "daemon-reload")

			// Start the socket: systemd listens on port 80, gotwistd has
			// not started.
			systemctl(t, box, "start", socket)
			wantContains(t, "socket status", status(t, box, socket),
				"Loaded: loaded (/etc/systemd/system/www.example.com.socket;",
				"Active: active (listening)",
				"Listen: 0.0.0.0:80 (Stream)")
			waitJournal(t, box, socket, "Listening on www.example.com.socket.")
			wantContains(t, "service status before the first connection", status(t, box, service),
				"Loaded: loaded (/etc/systemd/system/www.example.com.service; static)",
				"Active: inactive (dead)")

			// Enable the socket: the sockets.target.wants symlink.
			enableWantedBy(t, box, socket, "sockets.target", socketFile)

			// The first connection starts gotwistd, which answers it.
			body, err := box.Curl("http://localhost:80/")
			if err != nil {
				st, _ := box.Status(service)
				t.Fatalf("first curl http://localhost:80/: %v\n%s", err, st)
			}
			if body != string(page) {
				t.Errorf("first curl http://localhost:80/ = %q, want the tutorial's page %q", body, page)
			}
			pid := mainPID(t, box, service)
			wantContains(t, "service status after the first connection", status(t, box, service),
				"Active: active (running)",
				fmt.Sprintf("Main PID: %d (gotwistd)", pid),
				fmt.Sprintf("%d %s", pid, tc.cmdLine))
			waitJournal(t, box, service,
				"Started www.example.com.service - Example Web Server.",
				fmt.Sprintf("gotwistd[%d]: ", pid),
				"Site starting on 80")

			// gotwistd runs as nobody, yet serves port 80: the listener
			// is systemd's socket, shared, not one of its own.
			wantIDs(t, box, pid, "nobody", "nogroup")
			ss, err := box.Run("ss", "-H", "-l", "-t", "-n", "-p", "sport = :80")
			must(t, err)
			if lines := strings.Split(strings.TrimSpace(ss), "\n"); len(lines) != 1 ||
				!strings.Contains(ss, "0.0.0.0:80") ||
				!strings.Contains(ss, fmt.Sprintf(`("gotwistd",pid=%d,`, pid)) ||
				!strings.Contains(ss, `("systemd",pid=1,`) {
				t.Errorf("listeners on :80 = %q, want one, 0.0.0.0:80, held by systemd and gotwistd pid %d", ss, pid)
			}
			if body, err := box.Curl("http://127.0.0.1/"); err != nil || body != string(page) {
				t.Errorf("second curl = %q, %v; want the page", body, err)
			}
			if again := mainPID(t, box, service); again != pid {
				t.Errorf("second connection: main pid %d, want the same %d", again, pid)
			}

			systemctl(t, box, "stop", socket, service)
			wantContains(t, "service status after stop", status(t, box, service),
				"Active: inactive (dead)",
				"ExecStart="+tc.cmdLine+" (code=exited, status=0/SUCCESS)")
		})
	}
}
