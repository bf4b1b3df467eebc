//go:build linux

package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// opsShow returns unit properties as "Name=value" lines.
func opsShow(t *testing.T, box *Box, unit string, props ...string) string {
	t.Helper()
	out, err := box.Systemctl("show", unit, "-p", strings.Join(props, ","))
	if err != nil {
		t.Fatalf("systemctl show %s: %v", unit, err)
	}
	return out
}

// opsWaitInactive waits for the service to stop on its own.
func opsWaitInactive(t *testing.T, box *Box, unit string) {
	t.Helper()
	var last string
	err := eventually(30*time.Second, func() error {
		last = opsShow(t, box, unit, "ActiveState")
		if strings.TrimSpace(last) != "ActiveState=inactive" {
			return fmt.Errorf("%s", strings.TrimSpace(last))
		}
		return nil
	})
	if err != nil {
		st, _ := box.Status(unit)
		t.Fatalf("%s did not exit when idle: %v\n%s", unit, err, st)
	}
}

// TestExitIdleTime walks --exit-idle-time under a real systemd: the first
// connection starts the service, a transfer longer than the idle time
// completes (in-flight connections first), the service then exits 0 on
// its own with the socket still listening, and the next request starts it
// again and is served.
func TestExitIdleTime(t *testing.T) {
	t.Parallel()
	box, page := tutorialBox(t)
	sockInstallDir(t, box, "testdata/ops")
	big := strings.Repeat("0123456789abcdef", 1<<17) // 2 MiB
	must(t, box.WriteFile("/srv/www/www.example.com/static/big.bin", []byte(big), 0o644))
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", "www-idle.socket")
	wantContains(t, "service before the first connection", status(t, box, "www-idle.service"), "Active: inactive (dead)")

	if body, err := box.Curl("http://127.0.0.1:8095/"); err != nil || body != string(page) {
		t.Fatalf("first request = %q, %v; want the page", body, err)
	}
	pid := mainPID(t, box, "www-idle.service")
	// 2 MiB at 512 KiB/s: 4 s, twice the idle time; the service waits.
	out, err := box.Curl("http://127.0.0.1:8095/big.bin", "--limit-rate", "512k", "-o", "/dev/null", "--write-out", "%{size_download}")
	if err != nil || strings.TrimSpace(out) != fmt.Sprint(len(big)) {
		t.Fatalf("slow download = %q, %v; want %d bytes", out, err, len(big))
	}
	if got := mainPID(t, box, "www-idle.service"); got != pid {
		t.Fatalf("during the download the main pid went from %d to %d", pid, got)
	}

	opsWaitInactive(t, box, "www-idle.service")
	wantContains(t, "service after the idle exit", opsShow(t, box, "www-idle.service", "Result", "ExecMainStatus"),
		"Result=success", "ExecMainStatus=0")
	wantContains(t, "socket after the idle exit", status(t, box, "www-idle.socket"), "Active: active (listening)")
	waitJournal(t, box, "www-idle.service",
		"No connection for 2s (--exit-idle-time): exiting; systemd starts gotwistd again on the next connection.",
		"Server Shut Down.")

	if body, err := box.Curl("http://127.0.0.1:8095/"); err != nil || body != string(page) {
		t.Fatalf("request after the idle exit = %q, %v; want the page", body, err)
	}
	again := mainPID(t, box, "www-idle.service")
	if again == pid {
		t.Errorf("after the idle exit the main pid is still %d, want a new process", pid)
	}
	if body, err := box.Curl("http://127.0.0.1:8095/healthz"); err != nil || body != "ok\n" {
		t.Errorf("/healthz = %q, %v; want ok", body, err)
	}
	metrics, err := box.Curl("http://127.0.0.1:8095/metrics")
	if err != nil || !strings.Contains(metrics, `gotwistd_http_requests_total{protocol="http1",code="2xx"} 2`) {
		t.Errorf("/metrics of the second process = %v; want its 2 answers (/ and /healthz):\n%s", err, metrics)
	}
	opsWaitInactive(t, box, "www-idle.service")

	// The same with the hardened pair `gotwistd units --exit-idle-time`
	// writes: Restart=on-failure, so the idle exit stays an exit.
	if out, err := box.Run("/usr/bin/gotwistd", "units", "--name", "www-ondemand", "--path", "/srv/www/www.example.com/static",
		"--listen", "tcp:8096", "--exit-idle-time", "2s", "--out", "/etc/systemd/system"); err != nil {
		t.Fatalf("gotwistd units: %v\n%s", err, out)
	}
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", "www-ondemand.socket")
	for round := 1; round <= 2; round++ {
		if body, err := box.Curl("http://127.0.0.1:8096/"); err != nil || body != string(page) {
			t.Fatalf("www-ondemand, round %d: %q, %v; want the page", round, body, err)
		}
		opsWaitInactive(t, box, "www-ondemand.service")
		wantContains(t, "www-ondemand.service after its idle exit", opsShow(t, box, "www-ondemand.service", "Result", "NRestarts"),
			"Result=success", "NRestarts=0")
	}
	wantContains(t, "www-ondemand.socket", status(t, box, "www-ondemand.socket"), "Active: active (listening)")
}

// TestDebianPackage builds the .deb with scripts/deb, installs it with
// dpkg inside a box (the host's dpkg database is untouched: the box's /
// is an overlay), and runs the service from it: the units come disabled,
// start by their socket, serve /var/www/html on port 80 hardened; the man
// page and the bash completion are where man and bash look; dpkg -r takes
// it all away.
func TestDebianPackage(t *testing.T) {
	t.Parallel()
	SkipUnlessRoot(t)
	for _, tool := range []string{"dpkg-deb", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: cannot build the package", tool)
		}
	}
	dist := t.TempDir()
	cmd := exec.Command("bash", repoFile("scripts/deb"), dist)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/deb: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	deb := lines[len(lines)-1]
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("scripts/deb printed %q, want the package's path last", out)
	}
	box := Start(t, Config{})
	must(t, box.CopyFile(deb, "/tmp/gotwistd.deb", 0o644))
	if out, err := box.Run("dpkg", "-i", "/tmp/gotwistd.deb"); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	if out, err := box.Run("dpkg-query", "-W", "-f=${Status} ${Version}", "gotwistd"); err != nil || !strings.HasPrefix(out, "install ok installed ") {
		t.Fatalf("dpkg-query after dpkg -i: %q, %v", out, err)
	}
	enabled, _ := box.Run("sh", "-c", "systemctl is-enabled gotwistd.socket gotwistd.service; true")
	if strings.Fields(enabled)[0] != "disabled" {
		t.Errorf("gotwistd.socket is %q after installing, want disabled", enabled)
	}
	active, _ := box.Run("sh", "-c", "systemctl is-active gotwistd.socket gotwistd.service; true")
	if strings.Join(strings.Fields(active), " ") != "inactive inactive" {
		t.Errorf("after installing: %q, want both units inactive", active)
	}
	if v, err := box.Run("/usr/bin/gotwistd", "--version"); err != nil || !strings.HasPrefix(v, "gotwistd ") {
		t.Errorf("/usr/bin/gotwistd --version = %q, %v", v, err)
	}

	page := "<!DOCTYPE html><title>packaged</title><p>served by the package\n"
	must(t, box.WriteFile("/var/www/html/index.html", []byte(page), 0o644))
	systemctl(t, box, "enable", "--now", "gotwistd.socket")
	wantContains(t, "socket status", status(t, box, "gotwistd.socket"), "Active: active (listening)", "Listen: 0.0.0.0:80 (Stream)")
	if body, err := box.Curl("http://127.0.0.1/"); err != nil || body != page {
		st, _ := box.Status("gotwistd.service")
		t.Fatalf("curl http://127.0.0.1/ = %q, %v; want the page\n%s", body, err, st)
	}
	wantContains(t, "service status", status(t, box, "gotwistd.service"), "Active: active (running)", "/usr/bin/gotwistd --nodaemon --pidfile= web --path .")
	sockWantSafe(t, box, "gotwistd.service")

	if p, err := box.Run("man", "-w", "gotwistd"); err != nil || strings.TrimSpace(p) != "/usr/share/man/man1/gotwistd.1.gz" {
		t.Errorf("man -w gotwistd = %q, %v", p, err)
	}
	if text, err := box.Run("sh", "-c", "LC_ALL=C MANWIDTH=100 man gotwistd | col -b"); err != nil || !strings.Contains(text, "--exit-idle-time=DURATION") {
		t.Errorf("man gotwistd: %v, no --exit-idle-time in:\n%s", err, text)
	}
	comp, err := box.Run("bash", "--norc", "-c", "source /usr/share/bash-completion/completions/gotwistd; COMP_WORDS=(gotwistd web --exit-id); COMP_CWORD=2; _gotwistd; echo ${COMPREPLY[*]}")
	if err != nil || strings.TrimSpace(comp) != "--exit-idle-time" {
		t.Errorf("bash completion of `gotwistd web --exit-id` = %q, %v", comp, err)
	}

	systemctl(t, box, "disable", "--now", "gotwistd.socket", "gotwistd.service")
	if out, err := box.Run("dpkg", "-r", "gotwistd"); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, out)
	}
	if _, err := box.Run("test", "-e", "/usr/bin/gotwistd"); err == nil {
		t.Errorf("/usr/bin/gotwistd is still there after dpkg -r")
	}
}
