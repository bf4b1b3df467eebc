//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// gotwistdBinary builds ./cmd/gotwistd once per test binary, without the
// race detector whatever the test binary was built with, and returns its
// path on the host.
func gotwistdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		mod := strings.TrimSpace(string(gomod))
		if mod == "" || mod == os.DevNull {
			buildErr = fmt.Errorf("go env GOMOD = %q: run the tests from the gotwistd module", mod)
			return
		}
		root := filepath.Dir(mod)
		buildDir, err = os.MkdirTemp("", fmt.Sprintf("gotwistd-e2e-%d-build-", os.Getpid()))
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(buildDir, "gotwistd")
		// As the README says to build it: static, without cgo, with the
		// garbage collector that holds less memory at idle.
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/gotwistd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOEXPERIMENT=nogreenteagc")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/gotwistd: %w\n%s", err, out)
			return
		}
		buildBin = bin
	})
	if buildErr != nil {
		t.Fatalf("e2e: %v", buildErr)
	}
	return buildBin
}

// repoFile returns the path of a file of the repository, relative to this
// package's directory (the working directory of its tests).
func repoFile(rel string) string { return filepath.Join("..", "..", rel) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func systemctl(t *testing.T, box *Box, args ...string) string {
	t.Helper()
	out, err := box.Systemctl(args...)
	if err != nil {
		t.Fatalf("systemctl %s: %v\n%s", strings.Join(args, " "), err, box.diagnostics())
	}
	return out
}

func status(t *testing.T, box *Box, unit string) string {
	t.Helper()
	out, err := box.Status(unit)
	if err != nil {
		t.Fatalf("systemctl status %s: %v", unit, err)
	}
	return out
}

func mainPID(t *testing.T, box *Box, unit string) int {
	t.Helper()
	pid, err := box.MainPID(unit)
	must(t, err)
	if pid == 0 {
		st, _ := box.Status(unit)
		t.Fatalf("%s has no main pid\n%s", unit, st)
	}
	return pid
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

// eventually polls cond every 20ms until it returns nil or timeout passes,
// and returns its last error.
func eventually(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventuallyCurl fetches url in the box, retrying while the server starts.
func eventuallyCurl(t *testing.T, box *Box, url string) string {
	t.Helper()
	var body string
	err := eventually(10*time.Second, func() error {
		var err error
		body, err = box.Curl(url)
		return err
	})
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	return body
}

// waitJournal waits for the unit's journal to hold every line wanted
// (journald stores stream output asynchronously) and returns it.
func waitJournal(t *testing.T, box *Box, unit string, wants ...string) string {
	t.Helper()
	var journal string
	err := eventually(10*time.Second, func() error {
		var err error
		journal, err = box.Journal(unit)
		if err != nil {
			return err
		}
		for _, w := range wants {
			if !strings.Contains(journal, w) {
				return fmt.Errorf("no %q", w)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("journal of %s: %v:\n%s", unit, err, journal)
	}
	return journal
}

// wantIDs checks that the box's process pid runs with every uid the user
// has and every gid the group has (real, effective, saved, filesystem).
func wantIDs(t *testing.T, box *Box, pid int, user, group string) {
	t.Helper()
	uid := lookupID(t, box, "passwd", user)
	gid := lookupID(t, box, "group", group)
	st, err := box.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(t, err)
	for _, line := range strings.Split(string(st), "\n") {
		key, val, _ := strings.Cut(line, ":")
		want := ""
		switch key {
		case "Uid":
			want = uid
		case "Gid":
			want = gid
		default:
			continue
		}
		for _, id := range strings.Fields(val) {
			if id != want {
				t.Errorf("pid %d %s: %s, want %s (%s) for all four", pid, key, strings.TrimSpace(val), want, map[string]string{"Uid": user, "Gid": group}[key])
				break
			}
		}
	}
}

func lookupID(t *testing.T, box *Box, db, name string) string {
	t.Helper()
	out, err := box.Run("getent", db, name)
	must(t, err)
	fields := strings.Split(strings.TrimSpace(out), ":")
	if len(fields) < 3 {
		t.Fatalf("getent %s %s = %q", db, name, out)
	}
	if _, err := strconv.Atoi(fields[2]); err != nil {
		t.Fatalf("getent %s %s = %q", db, name, out)
	}
	return fields[2]
}

func lstatHost(p string) (os.FileInfo, error) { return os.Lstat(p) }
