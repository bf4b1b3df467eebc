package systemd

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// listenFdsStart is SD_LISTEN_FDS_START: the first inherited descriptor.
const listenFdsStart = 3

// Socket is one file descriptor passed by systemd socket activation.
type Socket struct {
	// FD is the descriptor number: 3 for the first socket, 4 for the next.
	FD int
	// Name is the socket's name from LISTEN_FDNAMES: the .socket unit's
	// FileDescriptorName=, by default the unit's own name
	// ("www.example.com.socket"), "connection" for an Accept=yes
	// connection, "stored" for an fd-store entry without a name. It is ""
	// when LISTEN_FDNAMES is unset or does not hold LISTEN_FDS names.
	Name string
	// File holds FD. It is shared by every caller of Sockets: duplicate it
	// (net.FileListener and net.FilePacketConn do) rather than close it.
	File *os.File
	// Family is the socket's address family as the kernel reports it
	// (SO_DOMAIN): unix.AF_INET, unix.AF_INET6, unix.AF_UNIX, ...; 0 when
	// the descriptor is not a socket (systemd's fd store can pass files).
	Family int
	// Type is the socket type (SO_TYPE): unix.SOCK_STREAM, unix.SOCK_DGRAM
	// or unix.SOCK_SEQPACKET; 0 when the descriptor is not a socket.
	Type int
	// Listening reports whether a stream socket is listening
	// (SO_ACCEPTCONN): true for ListenStream= sockets, false for the
	// connected socket of an Accept=yes unit and for datagram sockets.
	Listening bool
}

// activationOS is the seam between socket activation and the operating
// system; tests replace it to run without systemd.
type activationOS struct {
	getenv   func(key string) string
	unsetenv func(key string) error
	getpid   func() int
	// pidfdID returns the id of this process's pidfd (its inode number on
	// pidfs, Linux >= 6.9), the id systemd >= 256 puts in LISTEN_PIDFDID;
	// ok is false when the kernel has no such id.
	pidfdID func() (id uint64, ok bool)
	// prepare sets FD_CLOEXEC on fd and reports what kind of descriptor
	// it is; an error means fd is not open.
	prepare func(fd int) (family, typ int, listening bool, err error)
	// newFile wraps fd in an *os.File.
	newFile func(fd int, name string) *os.File
}

// activation is one read of the sockets systemd passed, through its
// seam to the operating system: the process has one (activated); tests
// make their own, so they neither share nor reset it.
type activation struct {
	os      activationOS
	once    sync.Once
	sockets []Socket
	err     error
}

// activated is this process's activation, which Sockets reads.
var activated = &activation{os: activationOSEnv()}

// Sockets returns the descriptors systemd passed to this process through
// socket activation, in order (fd 3 first). It reads the environment once:
// every call, from any goroutine, returns the same sockets, and the
// environment variables LISTEN_PID, LISTEN_PIDFDID, LISTEN_FDS and
// LISTEN_FDNAMES are unset after that first read so that child processes do not inherit them.
// Every descriptor gets FD_CLOEXEC for the same reason.
//
// The results:
//   - (sockets, nil): LISTEN_PID is this process and LISTEN_FDS >= 1 (and,
//     where systemd >= 256 sets LISTEN_PIDFDID and the kernel gives
//     processes pidfd ids, LISTEN_PIDFDID is this process's id too). Each
//     socket's Name comes from LISTEN_FDNAMES when it holds exactly
//     LISTEN_FDS names, otherwise every Name is "" (systemd before v227,
//     or a launcher that sets no names): selecting by index still works.
//   - (nil, nil): not socket-activated: LISTEN_PID or LISTEN_FDS is unset,
//     LISTEN_PID names another process (the variables were inherited from
//     a parent), LISTEN_PIDFDID names another process (a process that got
//     the pid of the one systemd started, after it died), or LISTEN_FDS is
//     0.
//   - (nil, err): LISTEN_PID, LISTEN_PIDFDID or LISTEN_FDS is not a number (err wraps
//     ErrBadEnvironment), or one of the LISTEN_FDS descriptors is not open;
//     err says which.
func Sockets() ([]Socket, error) {
	return activated.get()
}

// get does the work of Sockets for a.
func (a *activation) get() ([]Socket, error) {
	a.once.Do(func() {
		a.sockets, a.err = readSockets(a.os)
	})
	if a.sockets == nil {
		return nil, a.err
	}
	return append([]Socket(nil), a.sockets...), a.err
}

// SocketsNamed returns the sockets of Sockets whose Name is name, in
// order. It returns (nil, nil) when none has that name, and Sockets's
// error when Sockets fails.
func SocketsNamed(name string) ([]Socket, error) {
	return activated.named(name)
}

// named does the work of SocketsNamed for a.
func (a *activation) named(name string) ([]Socket, error) {
	all, err := a.get()
	if err != nil {
		return nil, err
	}
	var named []Socket
	for _, s := range all {
		if s.Name == name {
			named = append(named, s)
		}
	}
	return named, nil
}

// readSockets does the work of Sockets through o.
func readSockets(o activationOS) ([]Socket, error) {
	pidStr, fdsStr, namesStr := o.getenv("LISTEN_PID"), o.getenv("LISTEN_FDS"), o.getenv("LISTEN_FDNAMES")
	pidfdStr := o.getenv("LISTEN_PIDFDID")
	var errs []error
	for _, k := range []string{"LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if err := o.unsetenv(k); err != nil {
			errs = append(errs, fmt.Errorf("unset %s: %w", k, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	if pidStr == "" || fdsStr == "" {
		return nil, nil
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_PID=%q is not a process id: %w", pidStr, ErrBadEnvironment)
	}
	if pid != o.getpid() {
		return nil, nil
	}
	if pidfdStr != "" {
		want, err := strconv.ParseUint(pidfdStr, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("socket activation: LISTEN_PIDFDID=%q is not a pidfd id: %w", pidfdStr, ErrBadEnvironment)
		}
		// Without pidfd ids (a kernel before 6.9, or seccomp refusing
		// pidfd_open) LISTEN_PID alone decides, as in sd_listen_fds.
		if id, ok := o.pidfdID(); ok && id != want {
			return nil, nil
		}
	}
	n, err := strconv.Atoi(fdsStr)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a count of descriptors: %w", fdsStr, ErrBadEnvironment)
	}
	if n == 0 {
		return nil, nil
	}
	names := make([]string, n)
	if namesStr != "" {
		if split := strings.Split(namesStr, ":"); len(split) == n {
			names = split
		}
	}
	// Inspect every descriptor before wrapping any in an *os.File, so that
	// an error leaves no File behind to close a descriptor when collected.
	sockets := make([]Socket, n)
	for i := range sockets {
		fd := listenFdsStart + i
		family, typ, listening, err := o.prepare(fd)
		if err != nil {
			return nil, fmt.Errorf("socket activation: LISTEN_FDS=%d but fd %d is not usable: %w", n, fd, err)
		}
		sockets[i] = Socket{FD: fd, Name: names[i], Family: family, Type: typ, Listening: listening}
	}
	for i := range sockets {
		fileName := names[i]
		if fileName == "" {
			fileName = "LISTEN_FD_" + strconv.Itoa(sockets[i].FD)
		}
		sockets[i].File = o.newFile(sockets[i].FD, fileName)
	}
	return sockets, nil
}
