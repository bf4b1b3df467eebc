package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLeastPrivilege starts gotwistd as root with -u nobody -g nogroup on
// tcp:80 (in a network namespace of its own, with only a loopback): it
// binds the privileged port, then runs with every uid and gid 65534, no
// other group and no capability, and a file only root may read answers
// 403 while the rest is served.
func TestLeastPrivilege(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("least privilege: needs root, to start as root and bind port 80")
	}
	for _, tool := range []string{"unshare", "nsenter", "ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("least privilege: %s is not installed (util-linux, iproute2, curl)", tool)
		}
	}
	if out, err := exec.Command("unshare", "--net", "true").CombinedOutput(); err != nil {
		t.Skipf("least privilege: cannot make a network namespace (%v): %s", err, out)
	}
	tr := newTree(t)
	private := map[string]os.FileMode{"private.txt": 0o600, "privdir": 0o700 | os.ModeDir}
	for name, mode := range private {
		p := filepath.Join(tr.root, name)
		if mode.IsDir() {
			if err := os.Mkdir(p, mode.Perm()); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(p, "index.html"), []byte(marker+" in a 0700 directory\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, []byte(marker+" 0600 root file\n"), mode.Perm()); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode.Perm()); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	netns := []string{"unshare", "--net", "--", "sh", "-c", `ip link set lo up && exec "$0" "$@"`}
	s := startCmd(t, netns, []string{"-u", "nobody", "-g", "nogroup"},
		"--listen", "tcp:80:interface=127.0.0.1", "--path", tr.root)
	if s.addr() != "127.0.0.1:80" {
		t.Fatalf("listening on %s, want 127.0.0.1:80", s.addr())
	}
	status := waitDropped(t, s)
	var shown []string
	for _, l := range strings.Split(status, "\n") {
		for _, k := range []string{"Uid:", "Gid:", "Groups:", "CapPrm:", "CapEff:"} {
			if strings.HasPrefix(l, k) {
				shown = append(shown, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	t.Logf("bound 127.0.0.1:80, then /proc/%d/status: %s", s.pid(), strings.Join(shown, "; "))
	for _, want := range []string{
		"Uid:\t65534\t65534\t65534\t65534",
		"Gid:\t65534\t65534\t65534\t65534",
		"CapPrm:\t0000000000000000",
		"CapEff:\t0000000000000000",
		"CapAmb:\t0000000000000000",
	} {
		if !strings.Contains(status, want+"\n") {
			t.Errorf("/proc/%d/status has no line %q:\n%s", s.pid(), want, status)
		}
	}
	for _, l := range strings.Split(status, "\n") {
		if g, ok := strings.CutPrefix(l, "Groups:"); ok {
			if g := strings.TrimSpace(g); g != "" && g != "65534" {
				t.Errorf("supplementary groups %q, want none or only 65534 (nogroup)", g)
			}
		}
	}
	// The line is logged right after the ids change, which the status
	// file showed: wait for it to come through the pipe.
	waitLog(t, s, regexp.MustCompile(`set uid/gid 65534/65534`), 15*time.Second)
	curl := func(path string) (int, string) {
		t.Helper()
		out, err := exec.Command("nsenter", "--net=/proc/"+fmt.Sprint(s.pid())+"/ns/net", "--",
			"curl", "-sS", "--max-time", "10", "--path-as-is", "-w", "\n%{http_code}", "http://127.0.0.1"+path).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", path, err, out)
		}
		// The body, then a line with the status (-w).
		i := strings.LastIndexByte(string(out), '\n')
		var code int
		fmt.Sscan(string(out[i+1:]), &code)
		return code, string(out[:i])
	}
	if code, body := curl("/index.html"); code != 200 || body != indexBody {
		t.Errorf("GET /index.html as nobody: %d %q", code, body)
	}
	for _, path := range []string{"/private.txt", "/privdir/", "/privdir/index.html"} {
		code, body := curl(path)
		if code != 403 {
			t.Errorf("GET %s (root-only): %d, want 403", path, code)
		}
		if strings.Contains(body, marker) {
			t.Errorf("GET %s served a root-only file:\n%s", path, body)
		}
	}
	s.alive()
}

// waitDropped waits until the server runs as uid 65534 and returns its
// /proc/PID/status.
func waitDropped(t *testing.T, s *server) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
		if err != nil {
			t.Fatalf("the server is gone: %v\n%s", err, s.log)
		}
		if strings.Contains(string(b), "Uid:\t65534\t") {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server still does not run as uid 65534 after 15 s:\n%s\n%s", b, s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
