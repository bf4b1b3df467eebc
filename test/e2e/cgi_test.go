package e2e

import (
	"strings"
	"testing"
)

// cgiScript prints who and where it runs, and how much body it read.
const cgiScript = `#!/bin/sh
echo "script stderr line" >&2
printf 'Content-Type: text/plain\n\n'
printf 'uid=%s\n' "$(id -u)"
printf 'cwd=%s\n' "$(pwd)"
printf 'path_info=%s\n' "$PATH_INFO"
printf 'body=%s\n' "$(wc -c | tr -d ' ')"
`

// TestCGIHardened runs a CGI script under the shipped hardened,
// socket-activated service with --cgi added by a drop-in: the sandbox
// (DynamicUser=, PrivateTmp=, SystemCallFilter=, MemoryDenyWriteExecute=
// ...) lets it run, as the service's unprivileged user, in its own
// directory; a body too large for memory goes through the private /tmp;
// its stderr reaches the journal. Without --cgi the script is 403.
func TestCGIHardened(t *testing.T) {
	t.Parallel()
	box, _ := tutorialBox(t)
	const dir = "/srv/www/www.example.com/static"
	must(t, box.WriteFile(dir+"/id.cgi", []byte(cgiScript), 0o755))
	install(t, box, repoFile("deploy/systemd/www.example.com.socket"), socketFile)
	install(t, box, repoFile("deploy/systemd/www.example.com.hardened.service"), serviceFile)
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", socket)

	out, err := box.Run("curl", "--silent", "--max-time", "20", "--write-out", "%{http_code}", "http://localhost:80/id.cgi")
	if err != nil || !strings.HasSuffix(out, "403") || strings.Contains(out, "printf") {
		t.Fatalf("without --cgi: %q, %v", out, err)
	}
	waitJournal(t, box, service, "refusing /id.cgi (403)", "--cgi")
	systemctl(t, box, "stop", socket, service)

	must(t, box.WriteFile("/etc/systemd/system/"+service+".d/cgi.conf", []byte(
		"[Service]\nExecStart=\nExecStart=/usr/bin/gotwistd --nodaemon --pidfile= web --listen systemd:domain=INET:index=0 --path . --cgi\n"), 0o644))
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", socket)
	body, err := box.Curl("http://localhost:80/id.cgi/extra")
	if err != nil {
		st, _ := box.Status(service)
		t.Fatalf("GET /id.cgi/extra: %q, %v\n%s", body, err, st)
	}
	wantContains(t, "GET /id.cgi/extra", body, "cwd="+dir+"\n", "path_info=/extra\n", "body=0\n")
	if strings.Contains(body, "uid=0\n") || !strings.Contains(body, "uid=") {
		t.Errorf("the script ran as %q", body)
	}
	big := strings.Repeat("x", 200000)
	must(t, box.WriteFile("/root/body.bin", []byte(big), 0o644))
	body, err = box.Curl("http://localhost:80/id.cgi", "--data-binary", "@/root/body.bin")
	if err != nil || !strings.Contains(body, "body=200000\n") {
		t.Errorf("POST of 200000 bytes: %q, %v", body, err)
	}
	waitJournal(t, box, service, "CGI /id.cgi/extra stderr: script stderr line", `"POST /id.cgi HTTP/1.1" 200`)
	systemctl(t, box, "stop", socket, service)
}
