//go:build linux

package logfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDeviceNeverRotates: a log "file" that is a device (the -l /dev/null
// of the tutorial's command lines) is written to, never renamed or
// replaced by a plain file, however much is written and however often
// Rotate is asked (twistd renames /dev/null away at its 1 MB limit). The
// device is a null device made in a temp dir, so that a failure cannot
// take the machine's /dev/null.
func TestDeviceNeverRotates(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making a device node needs root")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "null")
	if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod: %v", err)
	}
	lf, err := Open(path, Options{MaxSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	line := strings.Repeat("x", 60) + "\n"
	for range 100 {
		write(t, lf, line)
	}
	if rotated, err := lf.Rotate(); rotated || err != nil {
		t.Errorf("Rotate on a device: rotated %v, %v", rotated, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want the device alone", len(entries))
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("%s is no longer the device: %v %v", path, fi.Mode(), err)
	}
}
