//go:build unix

package web

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// rootProblem says why the user the process runs as (its effective ids,
// after -u/-g) cannot serve the files under root: a directory on the way,
// or root itself, that it may not search. "" when it can serve them (a
// root it may search but not read only has its listings refused).
func rootProblem(root string) string {
	if err := unix.Faccessat(unix.AT_FDCWD, root, unix.R_OK|unix.X_OK, unix.AT_EACCESS); err == nil {
		return ""
	} else if err != unix.EACCES && err != unix.EPERM {
		return fmt.Sprintf("--path %s cannot be served as %s: %v", root, whoami(), err)
	}
	// Name the first directory on the way that is not searchable.
	dir := string(filepath.Separator)
	for _, part := range splitPath(root) {
		if unix.Faccessat(unix.AT_FDCWD, dir, unix.X_OK, unix.AT_EACCESS) != nil {
			return fmt.Sprintf("--path %s cannot be served as %s: the directory %s is not searchable by that user, so every request will be answered 403 Forbidden: give it o+x (or g+x for a group of the user), or run as another user (-u)",
				root, whoami(), dir)
		}
		dir = filepath.Join(dir, part)
	}
	if unix.Faccessat(unix.AT_FDCWD, root, unix.X_OK, unix.AT_EACCESS) == nil {
		// Searchable but not readable: files and index pages are
		// served, only listings are refused, which may well be meant.
		return ""
	}
	return fmt.Sprintf("--path %s cannot be served as %s: the directory %s is not searchable by that user, so every request will be answered 403 Forbidden: give it o+rx (or g+rx for a group of the user), or run as another user (-u)",
		root, whoami(), root)
}

// splitPath returns the names of an absolute, clean path, from the top.
func splitPath(p string) []string {
	var parts []string
	for p != string(filepath.Separator) && p != "." && p != "" {
		parts = append([]string{filepath.Base(p)}, parts...)
		p = filepath.Dir(p)
	}
	return parts
}

// whoami names the effective user and group: "user nobody (uid 65534, gid
// 65534)", or "uid 1234 (gid 1234)" when the user has no name.
func whoami() string {
	uid, gid := os.Geteuid(), os.Getegid()
	ids := "uid " + strconv.Itoa(uid) + ", gid " + strconv.Itoa(gid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return "user " + u.Username + " (" + ids + ")"
	}
	return ids
}
