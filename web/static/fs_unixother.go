//go:build unix && !linux

package static

import (
	"errors"

	"golang.org/x/sys/unix"
)

// oPath is 0 where O_PATH does not exist; stat then walks with fstatat.
const oPath = 0

var errNoOpenat2 = errors.New("openat2 unavailable")

// haveOpenat2: openat2 is Linux's; NoFollowSymlinks always walks.
const haveOpenat2 = false

func openat2NoSymlinks(string, int) (int, error) { return -1, errNoOpenat2 }

func devID(st *unix.Stat_t) uint64 { return uint64(st.Dev) }

func statxJoin(_, _, _, _ string) (fileInfo, error, bool) { return fileInfo{}, nil, false }
