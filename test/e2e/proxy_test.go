//go:build linux

package e2e

import (
	"strconv"
	"strings"
	"testing"
)

// proxyClient keeps one connection to port 80 across a restart: it sends
// a PROXY header naming the client 203.0.113.7, a request, restarts the
// service, and sends another request on the same connection.
const proxyClient = `
import http.client, subprocess
c = http.client.HTTPConnection("127.0.0.1", 80, timeout=20)
c.connect()
c.sock.sendall(b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n")
for agent in ("px-before", "px-after"):
    c.request("GET", "/", headers={"User-Agent": agent})
    r = c.getresponse()
    body = r.read()
    print(agent, r.status, len(body))
    if agent == "px-before":
        subprocess.run(["systemctl", "restart", "www.example.com.service"], check=True)
`

// TestProxyHandover: behind a load balancer (haproxy:systemd:...), a
// keep-alive connection parked in systemd's FD store on restart keeps the
// client address its PROXY header gave: the next instance serves the
// client's next request on it and logs the same client.
func TestProxyHandover(t *testing.T) {
	t.Parallel()
	box, page := tutorialBox(t)
	install(t, box, repoFile("deploy/systemd/www.example.com.socket"), socketFile)
	install(t, box, repoFile("deploy/systemd/www.example.com.socketactivated.service"), serviceFile)
	install(t, box, "testdata/proxy_handover.conf", "/etc/systemd/system/www.example.com.service.d/proxy.conf")
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", socket)
	out, err := box.RunInput([]byte(proxyClient), "python3", "-")
	if err != nil {
		t.Fatalf("client: %v\n%s\njournal:\n%s", err, out, must2(box.Journal(service)))
	}
	want := "px-before 200 " + strconv.Itoa(len(page)) + "\npx-after 200 " + strconv.Itoa(len(page)) + "\n"
	if out != want {
		t.Errorf("client saw %q, want %q", out, want)
	}
	journal := waitJournal(t, box, service, `"px-before"`, `"px-after"`, "Adopted 1 connections")
	for _, agent := range []string{"px-before", "px-after"} {
		for _, l := range strings.Split(journal, "\n") {
			if strings.Contains(l, `"`+agent+`"`) && !strings.Contains(l, `"203.0.113.7" - - [`) {
				t.Errorf("access line %q does not show the client from the PROXY header", l)
			}
		}
	}
	if !strings.Contains(journal, "Handed 1 idle connections") {
		t.Errorf("no handover line:\n%s", journal)
	}
}

func must2(s string, _ error) string { return s }
