//go:build unix

package cli

import (
	"errors"
	"os/exec"
	"os/user"
	"slices"
	"strings"
)

// gotwistd is built without cgo (a static binary starts faster and maps
// no libc), so os/user reads only /etc/passwd and /etc/group. Users and
// groups that come from other NSS sources (systemd's DynamicUser=,
// LDAP, sssd) are looked up with getent(1) when those files do not have
// them, as the C library would.

// lookupUser is user.Lookup, then getent.
func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if !errors.As(err, new(user.UnknownUserError)) {
		return u, err
	}
	if u := getentUser(name); u != nil {
		return u, nil
	}
	return nil, err
}

// lookupUserID is user.LookupId, then getent.
func lookupUserID(uid string) (*user.User, error) {
	u, err := user.LookupId(uid)
	if !errors.As(err, new(user.UnknownUserIdError)) {
		return u, err
	}
	if u := getentUser(uid); u != nil && u.Uid == uid {
		return u, nil
	}
	return nil, err
}

// getentUser is getent's passwd entry for key (a name or a uid), or nil.
func getentUser(key string) *user.User {
	f := getent("passwd", key)
	if len(f) < 7 {
		return nil
	}
	return &user.User{Username: f[0], Uid: f[2], Gid: f[3], Name: f[4], HomeDir: f[5]}
}

// lookupGroup is user.LookupGroup, then getent.
func lookupGroup(name string) (*user.Group, error) {
	g, err := user.LookupGroup(name)
	if !errors.As(err, new(user.UnknownGroupError)) {
		return g, err
	}
	if f := getent("group", name); len(f) >= 3 {
		return &user.Group{Name: f[0], Gid: f[2]}, nil
	}
	return nil, err
}

// groupIDs is u.GroupIds (the groups /etc/group lists u in, and u's
// primary group) plus what getent's initgroups adds from other sources.
func groupIDs(u *user.User) ([]string, error) {
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	// "NAME  GID GID ...": every group initgroups(3) would give NAME.
	if line, ok := getentLine("initgroups", u.Username); ok {
		for _, id := range strings.Fields(line)[1:] {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// getent returns the colon-separated fields of getent's entry for key in
// db, or nil when getent is missing or has none.
func getent(db, key string) []string {
	line, ok := getentLine(db, key)
	if !ok {
		return nil
	}
	return strings.Split(line, ":")
}

// getentLine runs getent db key and returns its first line.
func getentLine(db, key string) (string, bool) {
	if key == "" || strings.HasPrefix(key, "-") {
		return "", false // never an option to getent
	}
	out, err := exec.Command("getent", db, key).Output()
	if err != nil {
		return "", false
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line, line != ""
}
