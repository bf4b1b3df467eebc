package logfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, lf *File, s string) {
	t.Helper()
	if _, err := lf.Write([]byte(s)); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

func TestOpenAppendsAndIsAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("x.log", []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lf, err := Open("x.log", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if want := filepath.Join(dir, "x.log"); lf.Path() != want {
		t.Errorf("Path() = %q, want %q", lf.Path(), want)
	}
	write(t, lf, "new\n")
	if got := readFile(t, filepath.Join(dir, "x.log")); got != "old\nnew\n" {
		t.Errorf("content = %q, want old line kept and new appended", got)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", Options{}); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	_, err := Open(filepath.Join(t.TempDir(), "missing", "x.log"), Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open in a missing directory: err = %v, want one wrapping ErrNotExist", err)
	}
}

func TestConcurrentWritesKeepLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	lf, err := Open(path, Options{MaxSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				if _, err := fmt.Fprintf(lf, "writer %d line %d %s\n", w, i, strings.Repeat("x", 20)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Rotations race with the writers too.
	for range 5 {
		if _, err := lf.Rotate(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	// Every line, across every rotated file, is whole and present once.
	seen := map[string]bool{}
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		for _, line := range strings.Split(strings.TrimSuffix(readFile(t, f), "\n"), "\n") {
			if line == "" {
				continue
			}
			if !strings.HasPrefix(line, "writer ") || !strings.HasSuffix(line, strings.Repeat("x", 20)) || seen[line] {
				t.Fatalf("torn or duplicated line %q in %s", line, f)
			}
			seen[line] = true
		}
	}
	if len(seen) != writers*lines {
		t.Errorf("found %d lines, want %d", len(seen), writers*lines)
	}
}

func TestRotateLikeTwistd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	lf, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	for i, want := range []string{"first\n", "second\n", "third\n"} {
		write(t, lf, want)
		rotated, err := lf.Rotate()
		if err != nil || !rotated {
			t.Fatalf("rotation %d: rotated=%v err=%v", i+1, rotated, err)
		}
	}
	write(t, lf, "current\n")
	for name, want := range map[string]string{
		path:        "current\n",
		path + ".1": "third\n", // the newest rotated file is .1
		path + ".2": "second\n",
		path + ".3": "first\n",
	} {
		if got := readFile(t, name); got != want {
			t.Errorf("%s = %q, want %q", filepath.Base(name), got, want)
		}
	}
}

func TestRotateAfterExternalRenameOnlyReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	lf, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	write(t, lf, "before\n")
	// logrotate: mv x.log x.log.1, then the postrotate script sends SIGUSR1.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, lf, "still old\n")
	rotated, err := lf.Rotate()
	if err != nil || rotated {
		t.Fatalf("Rotate after external rename: rotated=%v err=%v, want a plain reopen", rotated, err)
	}
	write(t, lf, "after\n")
	if got := readFile(t, path+".1"); got != "before\nstill old\n" {
		t.Errorf("x.log.1 = %q", got)
	}
	if got := readFile(t, path); got != "after\n" {
		t.Errorf("x.log = %q", got)
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Error("x.log.2 exists: Rotate shifted a file logrotate had already rotated")
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	lf, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	write(t, lf, "a\n")
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := lf.Reopen(); err != nil {
		t.Fatal(err)
	}
	write(t, lf, "b\n")
	if got := readFile(t, path+".old"); got != "a\n" {
		t.Errorf("renamed file = %q", got)
	}
	if got := readFile(t, path); got != "b\n" {
		t.Errorf("reopened file = %q", got)
	}
}

func TestFailedReopenKeepsWriting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x.log")
	lf, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	keep := filepath.Join(filepath.Dir(dir), "kept.log")
	if err := os.Rename(path, keep); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := lf.Reopen(); err == nil {
		t.Fatal("Reopen into a removed directory succeeded")
	}
	if _, err := lf.Rotate(); err == nil {
		t.Fatal("Rotate into a removed directory succeeded")
	}
	write(t, lf, "still logged\n")
	if got := readFile(t, keep); got != "still logged\n" {
		t.Errorf("old file = %q, want the line written after the failed reopen", got)
	}
}

func TestMaxSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, []byte("123456\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lf, err := Open(path, Options{MaxSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	write(t, lf, "ab\n")       // 7+3 = 10: fits
	write(t, lf, "cd\n")       // would be 13: rotate first
	write(t, lf, "0123456789") // would be 13: rotate, then one oversized write
	for name, want := range map[string]string{
		path:        "0123456789",
		path + ".1": "cd\n",
		path + ".2": "123456\nab\n",
	} {
		if got := readFile(t, name); got != want {
			t.Errorf("%s = %q, want %q", filepath.Base(name), got, want)
		}
	}
}

func TestWriteAfterClose(t *testing.T) {
	lf, err := Open(filepath.Join(t.TempDir(), "x.log"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := lf.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lf.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := lf.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: err = %v, want ErrClosed", err)
	}
	if err := lf.Reopen(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Reopen after Close: err = %v, want ErrClosed", err)
	}
}

func TestNewFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	lf, err := Open(path, Options{Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
}
