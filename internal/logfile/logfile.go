// Package logfile is an append-only log file that is safe for concurrent
// use and can be reopened and rotated while the program runs, for
// gotwistd's main log (-l/--logfile) and the web plugin's access log.
//
// Two ways of rotating work, so both twistd's habits and logrotate's do:
//
//   - twistd's: send SIGUSR1 and the runner calls Rotate, which renames
//     NAME to NAME.1 (shifting an existing NAME.1 to NAME.2 and so on, the
//     newest rotated file always being NAME.1, as Twisted's LogFile does)
//     and starts a fresh NAME.
//   - logrotate's: `mv NAME NAME.1; kill -USR1 PID` (a postrotate script).
//     Rotate notices that NAME no longer is the file it writes to and only
//     reopens NAME, creating it, without renaming anything. Reopen does the
//     same unconditionally. logrotate's copytruncate also works, since
//     every write appends.
//
// Optionally a File rotates itself once it would grow past MaxSize bytes,
// like Twisted's LogFile with its rotateLength of 1,000,000 bytes. gotwistd
// leaves this off unless asked (--log-max-size), so it never fights an
// external logrotate.
//
// Rotated files are never deleted: as with twistd, cleaning up is left to
// the administrator or logrotate.
package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Options tunes a File. The zero value is a file that only rotates when told.
type Options struct {
	// MaxSize, when positive, rotates the file before a write that would
	// make it larger than MaxSize bytes (twistd uses 1,000,000). A single
	// write larger than MaxSize still goes into one file. Zero: never
	// rotate by size.
	MaxSize int64
	// Mode is the permission a newly created file gets, before the umask.
	// Zero means 0666, so the umask decides, as for twistd's log files.
	Mode fs.FileMode
}

// File is an open log file. Its methods are safe for concurrent use. Write
// errors are returned to the caller; a failed Reopen or Rotate leaves the
// File writing to the file it had open, so logging never stops.
type File struct {
	path string // absolute
	opts Options

	mu      sync.Mutex
	f       *os.File
	size    int64
	special bool // f is not a regular file (/dev/null, a FIFO): never rotated
}

// Open opens (creating if needed) the log file at path for appending. A
// relative path is made absolute against the current directory now, so a
// later chdir (--rundir) does not move the log.
func Open(path string, opts Options) (*File, error) {
	if path == "" {
		return nil, errors.New("open log file: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open log file %s: %w", path, err)
	}
	if opts.Mode == 0 {
		opts.Mode = 0o666
	}
	lf := &File{path: abs, opts: opts}
	f, size, special, err := lf.open()
	if err != nil {
		return nil, err
	}
	lf.f, lf.size, lf.special = f, size, special
	return lf, nil
}

// open opens the path; special reports a file that is not regular (a
// device such as /dev/null, a FIFO), which is never rotated.
func (lf *File) open() (f *os.File, size int64, special bool, err error) {
	f, err = os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, lf.opts.Mode)
	if err != nil {
		return nil, 0, false, fmt.Errorf("open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, false, fmt.Errorf("open log file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return f, 0, true, nil
	}
	return f, fi.Size(), false, nil
}

// Path returns the absolute path of the log file.
func (lf *File) Path() string { return lf.path }

// Write appends p to the file, rotating first when Options.MaxSize says so.
// A failed size rotation is not fatal: p is written to the current file.
func (lf *File) Write(p []byte) (int, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return 0, fmt.Errorf("write log file %s: %w", lf.path, os.ErrClosed)
	}
	if lf.opts.MaxSize > 0 && !lf.special && lf.size > 0 && lf.size+int64(len(p)) > lf.opts.MaxSize {
		_ = lf.rotateLocked()
	}
	n, err := lf.f.Write(p)
	lf.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("write log file: %w", err)
	}
	return n, nil
}

// Reopen closes the file and opens the path again, creating it if it was
// moved away. Use it after an external rotation (logrotate's
// `mv NAME NAME.1` followed by SIGUSR1). On error the old file stays open
// and in use.
func (lf *File) Reopen() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	return lf.reopenLocked()
}

func (lf *File) reopenLocked() error {
	if lf.f == nil {
		return fmt.Errorf("reopen log file %s: %w", lf.path, os.ErrClosed)
	}
	f, size, special, err := lf.open()
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	old := lf.f
	lf.f, lf.size, lf.special = f, size, special
	old.Close()
	return nil
}

// Rotate does what twistd does on SIGUSR1 when the path still names the
// file being written: NAME.N becomes NAME.N+1 for every existing NAME.N
// (from the highest down), NAME becomes NAME.1, and a new NAME is started.
// When the path is gone or names another file (someone rotated it already)
// Rotate only reopens. It reports whether it renamed files. On error the
// File keeps writing to the file it had open.
func (lf *File) Rotate() (rotated bool, err error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return false, fmt.Errorf("rotate log file %s: %w", lf.path, os.ErrClosed)
	}
	ours, err := lf.stillOursLocked()
	if err != nil {
		return false, err
	}
	if !ours {
		return false, lf.reopenLocked()
	}
	if err := lf.rotateLocked(); err != nil {
		return false, err
	}
	return true, nil
}

// stillOursLocked reports whether lf.path still names the open file.
func (lf *File) stillOursLocked() (bool, error) {
	open, err := lf.f.Stat()
	if err != nil {
		return false, fmt.Errorf("rotate log file: %w", err)
	}
	if !open.Mode().IsRegular() {
		return false, nil // a device or FIFO: reopening is all we can do
	}
	named, err := os.Stat(lf.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rotate log file: %w", err)
	}
	return os.SameFile(open, named), nil
}

func (lf *File) rotateLocked() error {
	if lf.special {
		return nil // a device or FIFO is never renamed away
	}
	// Find the highest consecutive NAME.N and shift from there down.
	n := 0
	for {
		if _, err := os.Lstat(lf.rotated(n + 1)); err != nil {
			break
		}
		n++
	}
	for i := n; i >= 1; i-- {
		if err := os.Rename(lf.rotated(i), lf.rotated(i+1)); err != nil {
			return fmt.Errorf("rotate log file: %w", err)
		}
	}
	if err := os.Rename(lf.path, lf.rotated(1)); err != nil {
		return fmt.Errorf("rotate log file: %w", err)
	}
	return lf.reopenLocked()
}

func (lf *File) rotated(n int) string { return lf.path + "." + strconv.Itoa(n) }

// Close closes the file. Later writes fail with an error wrapping
// os.ErrClosed.
func (lf *File) Close() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return nil
	}
	err := lf.f.Close()
	lf.f = nil
	if err != nil {
		return fmt.Errorf("close log file: %w", err)
	}
	return nil
}
