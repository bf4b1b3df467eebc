package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// plainError is printed as is, without the "gotwistd: error:" prefix,
// because twistd prints these messages that way and scripts may match them.
type plainError struct{ msg string }

func (e *plainError) Error() string { return e.msg }

// checkPIDFile does what twistd's checkPID does before starting: a missing
// file (or no --pidfile) is fine; a file that does not hold a number is an
// error; a pid that is alive means another server runs here, an error; a
// dead pid (or our own pid, which a restarted container reuses) is stale,
// and the file is removed. It reports whether it removed a stale file.
func checkPIDFile(path string) (staleRemoved bool, err error) {
	if path == "" {
		return false, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return false, &plainError{fmt.Sprintf("Pidfile %s contains non-numeric value", path)}
	}
	if pid <= 0 {
		return false, &plainError{fmt.Sprintf("Pidfile %s contains an invalid PID %d", path, pid)}
	}
	if pid != os.Getpid() {
		alive, err := processAlive(pid)
		if err != nil {
			return false, &plainError{fmt.Sprintf("Can't check status of PID %d from pidfile %s: %v", pid, path, err)}
		}
		if alive {
			return false, &plainError{fmt.Sprintf(`Another gotwistd server is running, PID %d

This could either be a previously started instance of your application or a
different application entirely. To start a new one, either run it in some other
directory, or use the --pidfile and --logfile parameters to avoid clashes.`, pid)}
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("remove stale pidfile: %w", err)
	}
	return true, nil
}

// writePIDFile writes pid as a decimal number and a newline to path, mode
// 0600, atomically: readers see either no file or the whole pid.
func writePIDFile(path string, pid int) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("write pidfile %s: its directory %s does not exist: create it (RuntimeDirectory= in a unit), or use --pidfile= for none: %w", path, dir, fs.ErrNotExist)
		case errors.Is(err, fs.ErrPermission):
			return fmt.Errorf("write pidfile %s: its directory %s is not writable by this user: %w", path, dir, fs.ErrPermission)
		}
		return fmt.Errorf("write pidfile %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write pidfile: %w", err)
	}
	if _, err := tmp.WriteString(strconv.Itoa(pid) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("write pidfile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write pidfile: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write pidfile: %w", err)
	}
	return nil
}

// removePIDFile removes path at exit if it still holds pid. It returns a
// message to log when it could not (twistd logs such problems and goes on),
// or "" when the file is gone.
func removePIDFile(path string, pid int) string {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		return fmt.Sprintf("Failed to read PID file %s: %v", path, err)
	}
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(pid) {
		return fmt.Sprintf("PID file %s now holds %q, not our PID %d; leaving it", path, got, pid)
	}
	err = os.Remove(path)
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
		return ""
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("Warning: No permission to delete pid file %s", path)
	}
	return fmt.Sprintf("Failed to unlink PID file %s: %v", path, err)
}
