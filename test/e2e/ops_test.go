//go:build linux

package e2e

import (
	"fmt"
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
}
