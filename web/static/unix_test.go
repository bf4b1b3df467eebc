//go:build unix

package static

import (
	"bytes"
	"log/slog"

	"golang.org/x/sys/unix"
)

func mkfifo(path string) error { return unix.Mkfifo(path, 0o644) }

func errnoCases() []struct {
	name string
	err  error
	want int
} {
	return []struct {
		name string
		err  error
		want int
	}{
		{"ENOENT", unix.ENOENT, 404},
		{"ENOTDIR", unix.ENOTDIR, 404},
		{"ELOOP (refused link)", unix.ELOOP, 404},
		{"ENAMETOOLONG", unix.ENAMETOOLONG, 404},
		{"EACCES", unix.EACCES, 403},
		{"EPERM", unix.EPERM, 403},
		{"EIO", unix.EIO, 500},
	}
}

func newTextLogger(b *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
