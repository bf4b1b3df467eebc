package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestWriteAndRemovePIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pid")
	if err := writePIDFile(path, 4242); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "4242\n" {
		t.Errorf("pidfile holds %q", b)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	// Another pid: left alone.
	if msg := removePIDFile(path, 99); msg == "" {
		t.Error("removed a pidfile holding another pid")
	}
	if msg := removePIDFile(path, 4242); msg != "" {
		t.Errorf("remove: %s", msg)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("still there: %v", err)
	}
	if msg := removePIDFile(path, 4242); msg != "" {
		t.Errorf("removing a missing pidfile: %s", msg)
	}
}

func TestCheckPIDFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		stale         bool
		err           string
	}{
		{"own pid is stale", strconv.Itoa(os.Getpid()) + "\n", true, ""},
		{"spaces around", " " + strconv.Itoa(os.Getpid()) + " \n", true, ""},
		{"zero", "0\n", false, "Pidfile PATH contains an invalid PID 0"},
		{"negative", "-1\n", false, "Pidfile PATH contains an invalid PID -1"},
		{"words", "twelve\n", false, "Pidfile PATH contains non-numeric value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.pid")
			os.WriteFile(path, []byte(tt.content), 0o600)
			stale, err := checkPIDFile(path)
			if tt.err != "" {
				want := filepath.Join(dir, "x.pid")
				if err == nil || err.Error() != replacePath(tt.err, want) {
					t.Errorf("err = %v, want %q", err, replacePath(tt.err, want))
				}
				return
			}
			if err != nil || stale != tt.stale {
				t.Errorf("stale=%v err=%v", stale, err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Error("stale pidfile not removed")
			}
		})
	}
	if stale, err := checkPIDFile(""); stale || err != nil {
		t.Errorf("no pidfile: %v %v", stale, err)
	}
	if stale, err := checkPIDFile(filepath.Join(dir, "missing.pid")); stale || err != nil {
		t.Errorf("missing pidfile: %v %v", stale, err)
	}
}

func replacePath(s, path string) string {
	const marker = "PATH"
	for i := 0; i+len(marker) <= len(s); i++ {
		if s[i:i+len(marker)] == marker {
			return s[:i] + path + s[i+len(marker):]
		}
	}
	return s
}

// TestPIDFileMissingDirectory: the error names the missing directory and
// the fix, not the temporary file the write goes through.
func TestPIDFileMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "gotwistd")
	path := filepath.Join(dir, "x.pid")
	err := writePIDFile(path, 4242)
	if err == nil {
		t.Fatal("no error")
	}
	want := "write pidfile " + path + ": its directory " + dir + " does not exist: create it (RuntimeDirectory= in a unit), or use --pidfile= for none: file does not exist"
	if err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
}
