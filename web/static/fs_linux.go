package static

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oPath opens a path only to name it (Linux O_PATH): no read permission
// needed, as for stat(2).
const oPath = unix.O_PATH

var errNoOpenat2 = errors.New("openat2 unavailable")

// haveOpenat2: openat2 is tried (the kernel may still lack it).
const haveOpenat2 = true

// openat2NoSymlinks opens path refusing any symbolic link in it.
func openat2NoSymlinks(path string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(unix.AT_FDCWD, path, &how)
		switch err {
		case nil:
			return fd, nil
		case unix.EINTR, unix.EAGAIN:
			continue
		case unix.ENOSYS, unix.E2BIG, unix.EPERM:
			// EPERM: a seccomp filter that does not know openat2.
			return -1, errors.Join(errNoOpenat2, err)
		}
		return -1, err
	}
}

// devID is the device number as major<<32 | minor, the same whether it
// comes from stat(2) or statx(2).
func devID(st *unix.Stat_t) uint64 {
	return uint64(unix.Major(uint64(st.Dev)))<<32 | uint64(unix.Minor(uint64(st.Dev)))
}

// pathBufs holds the NUL-terminated path buffers of statxJoin.
var pathBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 512)
	return &b
}}

// atFDCWD is AT_FDCWD (-100) as a system call argument.
var atFDCWD = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }()

// noStatx is set once statx(2) turned out to be unavailable (Linux < 4.11,
// or a seccomp filter that does not know it).
var noStatx atomic.Bool

const statxMask = unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_INO | unix.STATX_SIZE |
	unix.STATX_MTIME | unix.STATX_CTIME

// statxJoin stats prefix+a+b+c, following links, with statx(2) on a pooled
// buffer: no allocation. ok is false when statx is not available.
func statxJoin(prefix, a, b, c string) (fi fileInfo, err error, ok bool) {
	if noStatx.Load() {
		return fileInfo{}, nil, false
	}
	if len(prefix)+len(a)+len(b)+len(c) >= unix.PathMax {
		// What the kernel would say, without growing a pooled buffer to
		// the size of a hostile URL.
		return fileInfo{}, unix.ENAMETOOLONG, true
	}
	bp := pathBufs.Get().(*[]byte)
	buf := append(append(append(append((*bp)[:0], prefix...), a...), b...), c...)
	buf = append(buf, 0)
	var stx unix.Statx_t
	var errno unix.Errno
	for {
		_, _, errno = unix.Syscall6(unix.SYS_STATX, atFDCWD, uintptr(unsafe.Pointer(&buf[0])),
			0, statxMask, uintptr(unsafe.Pointer(&stx)), 0)
		if errno != unix.EINTR {
			break
		}
	}
	*bp = buf
	pathBufs.Put(bp)
	switch errno {
	case 0:
	case unix.ENOSYS, unix.EPERM:
		noStatx.Store(true)
		return fileInfo{}, nil, false
	default:
		return fileInfo{}, errno, true
	}
	fi = fileInfo{id: fileID{
		dev:   uint64(stx.Dev_major)<<32 | uint64(stx.Dev_minor),
		ino:   stx.Ino,
		size:  int64(stx.Size),
		mtime: stx.Mtime.Sec*1e9 + int64(stx.Mtime.Nsec),
		ctime: stx.Ctime.Sec*1e9 + int64(stx.Ctime.Nsec),
	}}
	switch uint32(stx.Mode) & unix.S_IFMT {
	case unix.S_IFREG:
		fi.kind = kindRegular
	case unix.S_IFDIR:
		fi.kind = kindDir
	case unix.S_IFLNK:
		fi.kind = kindSymlink
	}
	return fi, nil, true
}
