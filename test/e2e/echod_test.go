//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// echodScript connects to echod's socket, reads the greeting, sends a line
// and prints both answers.
const echodScript = `
import socket
c = socket.create_connection(("127.0.0.1", 7000))
f = c.makefile("rwb")
greeting = f.readline()
f.write(b"ping\n"); f.flush()
print(greeting.decode().strip(), f.readline().decode().strip())
`

// TestRunnerExampleDaemon builds the package runner's example daemon
// (examples/echod), installs it with the unit files beside it, verbatim,
// and checks that socket activation, Type=notify, User= and a clean stop
// work for a daemon that is not gotwistd.
func TestRunnerExampleDaemon(t *testing.T) {
	t.Parallel()
	SkipUnlessRoot(t)
	bin := filepath.Join(t.TempDir(), "echod")
	build := exec.Command("go", "build", "-o", bin, "./examples/echod")
	build.Dir = repoFile(".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/echod: %v\n%s", err, out)
	}
	box := Start(t, Config{})
	must(t, box.CopyFile(bin, "/usr/local/bin/echod", 0o755))
	install(t, box, repoFile("examples/echod/echod.socket"), "/etc/systemd/system/echod.socket")
	install(t, box, repoFile("examples/echod/echod.service"), "/etc/systemd/system/echod.service")
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "enable", "--now", "echod.socket")

	out, err := box.Run("/usr/bin/python3", "-c", echodScript)
	if err != nil || strings.TrimSpace(out) != "hello ping" {
		t.Fatalf("a client of the socket-activated echod got %q, %v; want the greeting, then its line back", out, err)
	}
	pid := mainPID(t, box, "echod.service")
	wantIDs(t, box, pid, "nobody", "nogroup")
	wantContains(t, "status", status(t, box, "echod.service"),
		"Active: active (running)", `Status: "serving on systemd:domain=INET:index=0"`)
	waitJournal(t, box, "echod.service", "echo starting on 7000")

	systemctl(t, box, "stop", "echod.service")
	wantContains(t, "status after stop", status(t, box, "echod.service"), "status=0/SUCCESS")
	waitJournal(t, box, "echod.service", "Received SIGTERM, shutting down.", "(TCP Port 7000 Closed)", "Server Shut Down.")
}
