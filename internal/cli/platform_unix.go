//go:build unix

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// processAlive reports whether pid names a live process, as twistd's
// os.kill(pid, 0): ESRCH is dead; EPERM (another user's process) is an
// error, because twistd reports it as one.
func processAlive(pid int) (bool, error) {
	err := syscall.Kill(pid, 0)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.ESRCH):
		return false, nil
	}
	return false, err
}

// sigReopenLogs is the signal that rotates or reopens the log files.
var sigReopenLogs os.Signal = syscall.SIGUSR1

func setUmask(m int) { syscall.Umask(m) }

func chroot(dir string) error {
	if err := syscall.Chroot(dir); err != nil {
		return fmt.Errorf("chroot to %s: %w", dir, err)
	}
	return nil
}

// daemonAttr detaches the daemon child into its own session, as twistd's
// setsid between its two forks.
func daemonAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// selfExe is the running binary, even if it was replaced on disk since.
func selfExe() string {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe"
	}
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

func closeOnExec(fd uintptr) { syscall.CloseOnExec(int(fd)) }

// creds is who the process becomes after binding its ports.
type creds struct {
	uid, gid int   // -1: leave as is
	groups   []int // supplementary groups to set; nil: leave as is
}

// resolveCreds turns -u/-g (names or numbers) into ids the way twistd does:
// a --gid defaults to the --uid user's primary group. Supplementary groups
// become the user's groups (initgroups), or just the gid when only -g is
// given or the uid has no passwd entry.
func resolveCreds(uidArg, gidArg string) (*creds, error) {
	c := &creds{uid: -1, gid: -1}
	var u *user.User
	if uidArg != "" {
		if n, err := strconv.Atoi(uidArg); err == nil && n >= 0 {
			c.uid = n
			u, _ = lookupUserID(uidArg)
		} else {
			u, err = lookupUser(uidArg)
			if err != nil {
				return nil, usageErrorf("--uid %q: no such user", uidArg)
			}
			c.uid, _ = strconv.Atoi(u.Uid)
		}
	}
	if gidArg != "" {
		if n, err := strconv.Atoi(gidArg); err == nil && n >= 0 {
			c.gid = n
		} else {
			g, err := lookupGroup(gidArg)
			if err != nil {
				return nil, usageErrorf("--gid %q: no such group", gidArg)
			}
			c.gid, _ = strconv.Atoi(g.Gid)
		}
	} else if c.uid >= 0 {
		if u == nil {
			return nil, usageErrorf("--uid %d has no passwd entry, so it has no default group: give --gid too", c.uid)
		}
		c.gid, _ = strconv.Atoi(u.Gid)
	}
	if c.uid < 0 && c.gid < 0 {
		return c, nil
	}
	c.groups = []int{c.gid}
	if u != nil {
		ids, err := groupIDs(u)
		if err != nil {
			return nil, fmt.Errorf("look up the groups of user %s: %w", u.Username, err)
		}
		for _, s := range ids {
			if n, err := strconv.Atoi(s); err == nil && !slices.Contains(c.groups, n) {
				c.groups = append(c.groups, n)
			}
		}
	}
	return c, nil
}

// drop sheds privileges after the ports are bound: supplementary groups,
// then the gid, then the uid (Go applies each to every thread). With euid
// only the effective ids change, so root can take its privileges back. It
// returns twistd's description, e.g. "uid/gid 65534/65534", or "" when
// there was nothing to do.
func (c *creds) drop(euid bool) (string, error) {
	if c == nil || (c.uid < 0 && c.gid < 0) {
		return "", nil
	}
	e := ""
	if euid {
		e = "e"
	}
	uid, gid := c.uid, c.gid
	if uid < 0 {
		uid = os.Geteuid()
	}
	desc := fmt.Sprintf("%suid/%sgid %d/%d", e, e, uid, gid)
	if os.Geteuid() != 0 {
		// Not root: fine if nothing changes, as twistd warns and goes on.
		if uid == os.Geteuid() && gid == os.Getegid() {
			return desc, nil
		}
		return "", fmt.Errorf("failed to set %s: %w (are you root?)", desc, syscall.EPERM)
	}
	if err := syscall.Setgroups(c.groups); err != nil {
		return "", fmt.Errorf("failed to set %s: setgroups: %w", desc, err)
	}
	setgid, setuid := syscall.Setgid, syscall.Setuid
	if euid {
		setgid, setuid = syscall.Setegid, syscall.Seteuid
	}
	if err := setgid(gid); err != nil {
		return "", fmt.Errorf("failed to set %s: setgid: %w", desc, err)
	}
	if c.uid >= 0 {
		if err := setuid(uid); err != nil {
			return "", fmt.Errorf("failed to set %s: setuid: %w", desc, err)
		}
	}
	// Trust but verify: a server that thinks it dropped root must have.
	if os.Geteuid() != uid || os.Getegid() != gid || (!euid && (os.Getuid() != uid || os.Getgid() != gid)) {
		return "", fmt.Errorf("failed to set %s: the process still runs as uid %d/%d, gid %d/%d",
			desc, os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	}
	if !euid && uid != 0 {
		if err := syscall.Setuid(0); err == nil {
			return "", fmt.Errorf("failed to set %s: the process could become root again", desc)
		}
	}
	return desc, nil
}

// ownStream returns a writer to what w, the process's stdout or stderr,
// is open on, through a descriptor of the runner's own; other writers are
// returned as they are. Go kills a process whose write to descriptor 1 or
// 2 finds the reader gone (SIGPIPE) unless it has taken SIGPIPE with
// os/signal; a write to any other descriptor fails with EPIPE instead. So
// the log never kills the server, also before the runner has taken its
// signals, which it does beside the first steps of the start (see
// runner.serve). The descriptor stays open, as stdout and stderr do, so a
// line a goroutine logs while the process exits is not lost.
func ownStream(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok || (f != os.Stdout && f != os.Stderr) {
		return w
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return w // out of descriptors: the stream itself
	}
	return os.NewFile(uintptr(fd), f.Name())
}
