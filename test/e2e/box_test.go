//go:build linux

package e2e

import (
	"strconv"
	"strings"
	"testing"
)

// TestBoxSelfTest proves the harness with a stand-in server (Python's
// http.server), independently of gotwistd: a unit written into the box
// starts, runs as the User=/Group= it names, serves on the box's own
// loopback (the box's only link), and files written into the box stay in
// its overlay; the box's systemd cannot change the host's kernel.
func TestBoxSelfTest(t *testing.T) {
	t.Parallel()
	box := Start(t, Config{})

	const page = "stand-in page\n"
	must(t, box.WriteFile("/srv/standin/index.html", []byte(page), 0o644))
	must(t, box.WriteFile("/etc/systemd/system/e2e-standin.service", []byte(`[Unit]
Description=e2e harness stand-in

[Service]
ExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 8080
WorkingDirectory=/srv/standin
User=nobody
Group=nogroup
`), 0o644))
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", "e2e-standin.service")

	status := status(t, box, "e2e-standin.service")
	wantContains(t, "status", status, "Active: active (running)")

	pid := mainPID(t, box, "e2e-standin.service")
	wantIDs(t, box, pid, "nobody", "nogroup")

	body := eventuallyCurl(t, box, "http://127.0.0.1:8080/index.html")
	if body != page {
		t.Errorf("curl in the box = %q, want %q", body, page)
	}

	for _, p := range []string{"/srv/standin", "/etc/systemd/system/e2e-standin.service"} {
		if _, err := lstatHost(p); err == nil {
			t.Errorf("%s exists on the host: the box wrote through its overlay", p)
		}
	}
	// The kernel's global knobs are read-only in the box, its network
	// namespace's writable; its systemd cannot load modules or set the
	// clock.
	if _, err := box.Run("sh", "-c", "! test -w /proc/sys/kernel/pid_max && test -w /proc/sys/net/ipv4/ip_forward"); err != nil {
		t.Errorf("/proc/sys in the box: want read-only but for /proc/sys/net: %v", err)
	}
	st, err := box.ReadFile("/proc/1/status")
	must(t, err)
	for _, line := range strings.Split(string(st), "\n") {
		if hexCaps, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bnd, err := strconv.ParseUint(strings.TrimSpace(hexCaps), 16, 64)
			must(t, err)
			const capSysModule, capSysTime = 16, 25
			if bnd&(1<<capSysModule|1<<capSysTime) != 0 {
				t.Errorf("box pid 1 CapBnd %x: want CAP_SYS_MODULE and CAP_SYS_TIME dropped", bnd)
			}
		}
	}

	out, err := box.Run("ip", "-o", "link", "show")
	must(t, err)
	if strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "lo:") || !strings.Contains(out, "UP") {
		t.Errorf("box links = %q, want only lo, up", out)
	}
}
