//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fakeGetent puts a getent on PATH that knows one user and group from
// "another NSS source" (as systemd's DynamicUser= users are), and records
// its arguments.
func fakeGetent(t *testing.T) (argsFile string) {
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	script := `#!/bin/sh
echo "$@" >> ` + argsFile + `
case "$1 $2" in
"passwd gtdyn"|"passwd 61234") echo "gtdyn:x:61234:61235:Dynamic User:/:/usr/sbin/nologin" ;;
"group gtdyn") echo "gtdyn:x:61235:" ;;
"initgroups gtdyn") echo "gtdyn                 61235 61236" ;;
*) exit 2 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "getent"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return argsFile
}

// TestResolveCredsNSS: -u/-g names that /etc/passwd and /etc/group do not
// have are found through getent, with the groups initgroups would give.
func TestResolveCredsNSS(t *testing.T) {
	fakeGetent(t)
	cases := []struct {
		name, uid, gid string
		want           creds
	}{
		{"user by name", "gtdyn", "", creds{uid: 61234, gid: 61235, groups: []int{61235, 61236}}},
		{"user by number", "61234", "", creds{uid: 61234, gid: 61235, groups: []int{61235, 61236}}},
		{"group by name", "", "gtdyn", creds{uid: -1, gid: 61235, groups: []int{61235}}},
		{"both", "gtdyn", "gtdyn", creds{uid: 61234, gid: 61235, groups: []int{61235, 61236}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := resolveCreds(tc.uid, tc.gid)
			if err != nil {
				t.Fatal(err)
			}
			if c.uid != tc.want.uid || c.gid != tc.want.gid || !slices.Equal(c.groups, tc.want.groups) {
				t.Errorf("resolveCreds(%q, %q) = %+v, want %+v", tc.uid, tc.gid, *c, tc.want)
			}
		})
	}
}

// TestResolveCredsUnknown: a name nobody knows is a usage error naming
// it; a name that looks like an option never reaches getent.
func TestResolveCredsUnknown(t *testing.T) {
	args := fakeGetent(t)
	for _, tc := range []struct{ uid, gid, want string }{
		{"gtnosuch", "", `--uid "gtnosuch": no such user`},
		{"", "gtnosuch", `--gid "gtnosuch": no such group`},
		{"--help", "", `--uid "--help": no such user`},
	} {
		_, err := resolveCreds(tc.uid, tc.gid)
		if err == nil || err.Error() != tc.want {
			t.Errorf("resolveCreds(%q, %q): %v, want %s", tc.uid, tc.gid, err, tc.want)
		}
	}
	b, _ := os.ReadFile(args)
	if want := "passwd gtnosuch\ngroup gtnosuch\n"; string(b) != want {
		t.Errorf("getent was run with %q, want %q", b, want)
	}
}
