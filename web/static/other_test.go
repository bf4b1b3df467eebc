//go:build !unix

package static

import (
	"bytes"
	"errors"
	"log/slog"
)

func mkfifo(string) error { return errors.New("no FIFOs here") }

func errnoCases() []struct {
	name string
	err  error
	want int
} {
	return nil
}

func newTextLogger(b *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
