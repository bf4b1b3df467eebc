package static

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// resolveBeneath returns the absolute path of rel with every symbolic link
// resolved, refusing a path that leaves Root on the way (a link to "/" or
// "../.."): openat2(RESOLVE_BENEATH) from Root, and RESOLVE_NO_SYMLINKS
// too under NoFollowSymlinks. Without openat2 it resolves by
// filepath.EvalSymlinks and checks the result.
func (h *Handler) resolveBeneath(rel string) (string, error) {
	root, err := unix.Open(h.fs.prefix, oPath|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(root)
	resolve := uint64(unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS)
	if h.noFollow {
		resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	how := unix.OpenHow{Flags: uint64(oPath | unix.O_CLOEXEC), Resolve: resolve}
	var fd int
	for {
		fd, err = unix.Openat2(root, rel, &how)
		if err != unix.EINTR && err != unix.EAGAIN {
			break
		}
	}
	switch {
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.E2BIG), errors.Is(err, unix.EPERM):
		return h.resolveEval(rel)
	case err != nil:
		return "", err
	}
	defer unix.Close(fd)
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return h.resolveEval(rel)
	}
	if !filepath.IsAbs(real) {
		return "", errors.New("file has no path (deleted?)")
	}
	return real, nil
}
