//go:build unix

package static

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// fsState is the platform part of a Handler.
type fsState struct {
	// prefix is Root with a trailing slash: prefix+rel names a file.
	prefix string
	// noOpenat2 is set once openat2 turned out to be unavailable (old
	// kernel, seccomp); the component-by-component walk is used instead.
	noOpenat2 atomic.Bool
}

// initFS resolves the root. With NoFollowSymlinks the root's own symbolic
// links are resolved once here, so that only links below Root are refused.
func (h *Handler) initFS(root string) error {
	if h.noFollow {
		real, err := filepath.EvalSymlinks(root)
		if err != nil {
			return err
		}
		root = real
	}
	h.fs.prefix = strings.TrimSuffix(root, "/") + "/"
	if h.seams.forceWalk {
		h.fs.noOpenat2.Store(true)
	}
	return nil
}

func (h *Handler) path(rel string) string {
	return h.fs.prefix + rel
}

func infoFromStat(st *unix.Stat_t) fileInfo {
	fi := fileInfo{id: fileID{
		dev:   devID(st),
		ino:   uint64(st.Ino),
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		fi.kind = kindRegular
	case unix.S_IFDIR:
		fi.kind = kindDir
	case unix.S_IFLNK:
		fi.kind = kindSymlink
	}
	return fi
}

// statJoin is stat(a+b+c), without building the string on Linux when
// links are followed: the hot path of every request.
func (h *Handler) statJoin(a, b, c string) (fileInfo, error) {
	if !h.noFollow {
		if fi, err, ok := statxJoin(h.fs.prefix, a, b, c); ok {
			return fi, err
		}
	}
	return h.stat(a + b + c)
}

// stat describes the file at rel, following symbolic links unless
// NoFollowSymlinks is set, in which case any link on the way is an error.
func (h *Handler) stat(rel string) (fileInfo, error) {
	var st unix.Stat_t
	if !h.noFollow {
		if err := ignoringEINTR(func() error { return unix.Stat(h.path(rel), &st) }); err != nil {
			return fileInfo{}, err
		}
		return infoFromStat(&st), nil
	}
	if oPath == 0 {
		return h.statWalk(rel)
	}
	fd, err := h.openNoFollow(rel, oPath|unix.O_CLOEXEC)
	if err != nil {
		return fileInfo{}, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return fileInfo{}, err
	}
	return infoFromStat(&st), nil
}

// open opens rel for reading (a regular file or a directory) and describes
// what it opened. O_NONBLOCK keeps a FIFO swapped in after stat from
// blocking the open; anything but a file or directory is refused.
func (h *Handler) open(rel string) (*os.File, fileInfo, error) {
	flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK
	var fd int
	var err error
	path := h.path(rel)
	err = waitingForDescriptors(func() error {
		if h.noFollow {
			var e error
			fd, e = h.openNoFollow(rel, flags)
			return e
		}
		return ignoringEINTR(func() error {
			var e error
			fd, e = unix.Open(path, flags, 0)
			return e
		})
	})
	if err != nil {
		return nil, fileInfo{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fileInfo{}, err
	}
	fi := infoFromStat(&st)
	if fi.kind != kindRegular && fi.kind != kindDir {
		unix.Close(fd)
		return nil, fileInfo{}, errNotServable
	}
	return os.NewFile(uintptr(fd), path), fi, nil
}

// openNoFollow opens rel refusing every symbolic link below Root: with
// openat2(RESOLVE_NO_SYMLINKS) when the kernel has it, else by walking the
// path one component at a time with O_NOFOLLOW.
func (h *Handler) openNoFollow(rel string, flags int) (int, error) {
	if !h.fs.noOpenat2.Load() {
		fd, err := openat2NoSymlinks(h.path(rel), flags)
		if err == nil || !errors.Is(err, errNoOpenat2) {
			return fd, err
		}
		h.fs.noOpenat2.Store(true)
	}
	dir, last, err := h.walkParent(rel)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dir)
	if last == "" {
		return unix.Openat(dir, ".", flags|unix.O_DIRECTORY, 0)
	}
	fd, err := unix.Openat(dir, last, flags|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, err
	}
	if oPath != 0 && flags&oPath != 0 {
		// O_PATH|O_NOFOLLOW opens a link itself instead of failing.
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(fd)
			return -1, unix.ELOOP
		}
	}
	return fd, nil
}

// statWalk is stat for NoFollowSymlinks where O_PATH does not exist.
func (h *Handler) statWalk(rel string) (fileInfo, error) {
	dir, last, err := h.walkParent(rel)
	if err != nil {
		return fileInfo{}, err
	}
	defer unix.Close(dir)
	if last == "" {
		last = "."
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dir, last, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fileInfo{}, err
	}
	fi := infoFromStat(&st)
	if fi.kind == kindSymlink {
		return fileInfo{}, unix.ELOOP
	}
	return fi, nil
}

// walkParent opens the directory holding rel's last segment, refusing
// symbolic links on the way, and returns it with that segment ("" when rel
// is Root itself, in which case dir is Root).
func (h *Handler) walkParent(rel string) (dir int, last string, err error) {
	dir, err = unix.Open(h.fs.prefix, oPath|unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", err
	}
	for rel != "" {
		i := strings.IndexByte(rel, '/')
		if i < 0 {
			return dir, rel, nil
		}
		next, err := unix.Openat(dir, rel[:i], oPath|unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(dir)
		if err != nil {
			return -1, "", err
		}
		dir, rel = next, rel[i+1:]
	}
	return dir, "", nil
}

// readDir lists the directory rel: every entry with what it names
// (symbolic links followed, or skipped under NoFollowSymlinks). Entries
// that cannot be described (broken links) are left out, as twistd does.
func (h *Handler) readDir(rel string) ([]dirEntry, error) {
	f, fi, err := h.open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.kind != kindDir {
		return nil, unix.ENOTDIR
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	statFlags := 0
	if h.noFollow {
		statFlags = unix.AT_SYMLINK_NOFOLLOW
	}
	out := make([]dirEntry, 0, len(names))
	cerr := sc.Control(func(fd uintptr) {
		var st unix.Stat_t
		for _, name := range names {
			if unix.Fstatat(int(fd), name, &st, statFlags) != nil {
				continue
			}
			info := infoFromStat(&st)
			if info.kind == kindSymlink {
				continue
			}
			out = append(out, dirEntry{name: name, info: info})
		}
	})
	if cerr != nil {
		return nil, cerr
	}
	return out, nil
}

// descriptorWait bounds how long waitingForDescriptors waits in all.
const descriptorWait = 250 * time.Millisecond

// waitingForDescriptors calls fn, an open, and calls it again while it
// fails for want of a descriptor (EMFILE, ENFILE), after pauses of 1, 2,
// 4... ms, for up to descriptorWait in all. At the open-files limit,
// connections taken from the listen queue as descriptors free up would
// otherwise take the last of them, and the request that needs one more
// for its file would get a 500 although one is a few milliseconds away:
// the queued connections that turn out closed give theirs back at once.
func waitingForDescriptors(fn func() error) error {
	pause, waited := time.Millisecond, time.Duration(0)
	for {
		err := fn()
		if !errors.Is(err, unix.EMFILE) && !errors.Is(err, unix.ENFILE) || waited >= descriptorWait {
			return err
		}
		time.Sleep(pause)
		waited += pause
		pause = min(2*pause, descriptorWait-waited)
	}
}

func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if err != unix.EINTR {
			return err
		}
	}
}

// errnoStatus maps a system error to an HTTP status: missing or refused
// paths are 404, permission problems 403, anything else 500.
func errnoStatus(err error) (int, bool) {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return 0, false
	}
	switch errno {
	case unix.ENOENT, unix.ENOTDIR, unix.ENAMETOOLONG, unix.ELOOP, unix.EINVAL, unix.EXDEV:
		return 404, true
	case unix.EACCES, unix.EPERM:
		return 403, true
	}
	return 500, true
}

// fstat describes an open file.
func fstat(f *os.File) (fileInfo, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return fileInfo{}, err
	}
	var st unix.Stat_t
	var serr error
	if err := sc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return fileInfo{}, err
	}
	if serr != nil {
		return fileInfo{}, serr
	}
	return infoFromStat(&st), nil
}
