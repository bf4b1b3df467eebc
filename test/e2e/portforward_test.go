//go:build linux

package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// Units of the portforward case: a gotwistd web server as the destination,
// and twistd's portforward plugin socket-activated in front of it, as
// Type=notify with a watchdog, running as nobody.
const (
	pfBackendUnit = `[Service]
Type=notify
ExecStart=/usr/bin/gotwistd --nodaemon --pidfile= web --listen tcp:8090:interface=127.0.0.1 --path /srv/www
`
	pfSocketUnit = `[Socket]
ListenStream=0.0.0.0:8091

[Install]
WantedBy=sockets.target
`
	pfServiceUnit = `[Unit]
Requires=pf.socket

[Service]
Type=notify
WatchdogSec=4
ExecStart=/usr/bin/gotwistd --nodaemon --pidfile= --shutdown-timeout=30s portforward --port systemd:domain=INET:index=0 --host 127.0.0.1 --dest_port 8090
User=nobody
Group=nogroup
Restart=always
`
)

// pfStopScript opens a connection through the forwarder with half a
// request, stops the service, waits until systemd says it is deactivating
// (so the stop has begun while the connection is open), sends the rest of
// the request and prints the status line of the answer.
const pfStopScript = `
import socket, subprocess, time
c = socket.create_connection(("127.0.0.1", 8091))
c.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")
time.sleep(0.2)
subprocess.run(["systemctl", "stop", "--no-block", "pf.service"], check=True)
for _ in range(200):
    st = subprocess.run(["systemctl", "show", "-p", "ActiveState", "--value", "pf.service"], capture_output=True, text=True).stdout.strip()
    if st == "deactivating":
        break
    time.sleep(0.05)
print("state during stop:", st)
c.sendall(b"Connection: close\r\n\r\n")
data = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    data += b
print(data.split(b"\r\n", 1)[0].decode())
`

func TestPortforwardSocketActivated(t *testing.T) {
	t.Parallel()
	SkipUnlessRoot(t)
	bin := gotwistdBinary(t)
	page, err := os.ReadFile("testdata/index.html")
	must(t, err)
	box := Start(t, Config{})
	must(t, box.CopyFile(bin, "/usr/bin/gotwistd", 0o755))
	must(t, box.WriteFile("/srv/www/index.html", page, 0o644))
	must(t, box.WriteFile("/etc/systemd/system/pf-backend.service", []byte(pfBackendUnit), 0o644))
	must(t, box.WriteFile("/etc/systemd/system/pf.socket", []byte(pfSocketUnit), 0o644))
	must(t, box.WriteFile("/etc/systemd/system/pf.service", []byte(pfServiceUnit), 0o644))
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", "pf-backend.service")
	systemctl(t, box, "enable", "--now", "pf.socket")

	t.Run("the first connection starts it and is forwarded", func(t *testing.T) {
		if st := status(t, box, "pf.service"); !strings.Contains(st, "Active: inactive") {
			t.Fatalf("pf.service runs before any connection:\n%s", st)
		}
		body, err := box.Curl("http://127.0.0.1:8091/")
		if err != nil || body != string(page) {
			t.Fatalf("curl through the socket-activated forwarder = %q, %v; want the page", body, err)
		}
		pid := mainPID(t, box, "pf.service")
		wantIDs(t, box, pid, "nobody", "nogroup")
		wantContains(t, "status", status(t, box, "pf.service"),
			"Active: active (running)",
			`Status: "forwarding systemd:domain=INET:index=0 to 127.0.0.1:8090`)
		waitJournal(t, box, "pf.service", "ProxyFactory starting on 8091")
	})

	t.Run("the watchdog is pinged", func(t *testing.T) {
		// WatchdogSec=4: unpinged, systemd would kill it within 4 s; the
		// pings land every 2 s, so after 6 s the service is still the same.
		pid := mainPID(t, box, "pf.service")
		err := eventually(20*time.Second, func() error {
			out, err := box.Show("pf.service", "WatchdogTimestampMonotonic")
			if err != nil {
				return err
			}
			if strings.TrimSpace(out) == "0" || strings.TrimSpace(out) == "" {
				return errString("no WATCHDOG=1 yet")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(6 * time.Second) // an observation window longer than WatchdogSec, not a synchronisation
		if now := mainPID(t, box, "pf.service"); now != pid {
			t.Fatalf("main pid changed %d -> %d: the watchdog killed a healthy forwarder", pid, now)
		}
	})

	t.Run("stop lets an open connection finish", func(t *testing.T) {
		out, err := box.Run("/usr/bin/python3", "-c", pfStopScript)
		if err != nil {
			t.Fatalf("stop script: %v\n%s", err, out)
		}
		wantContains(t, "stop script", out, "state during stop: deactivating", "HTTP/1.1 200 OK")
		err = eventually(20*time.Second, func() error {
			if st, _ := box.Show("pf.service", "ActiveState"); strings.TrimSpace(st) != "inactive" {
				return errString("pf.service is " + strings.TrimSpace(st))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		wantContains(t, "status", status(t, box, "pf.service"), "status=0/SUCCESS")
		// The socket stays with systemd: the next connection starts it again.
		if body, err := box.Curl("http://127.0.0.1:8091/"); err != nil || body != string(page) {
			t.Fatalf("after the stop, curl = %q, %v; want the page from a new instance", body, err)
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }
