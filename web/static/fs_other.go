//go:build !unix

package static

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// fsState is the platform part of a Handler.
type fsState struct {
	root string
}

// initFS checks what this platform supports: NoFollowSymlinks needs the
// openat family of system calls, which only Unix systems have here.
func (h *Handler) initFS(root string) error {
	if h.noFollow {
		return errors.New("NoFollowSymlinks is only supported on Unix systems")
	}
	h.fs.root = root
	return nil
}

func (h *Handler) path(rel string) string {
	return filepath.Join(h.fs.root, filepath.FromSlash(rel))
}

func infoFromFS(fi fs.FileInfo) fileInfo {
	info := fileInfo{id: fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}}
	switch {
	case fi.Mode().IsRegular():
		info.kind = kindRegular
	case fi.IsDir():
		info.kind = kindDir
	}
	return info
}

func (h *Handler) statJoin(a, b, c string) (fileInfo, error) { return h.stat(a + b + c) }

func (h *Handler) stat(rel string) (fileInfo, error) {
	fi, err := os.Stat(h.path(rel))
	if err != nil {
		return fileInfo{}, err
	}
	return infoFromFS(fi), nil
}

func (h *Handler) open(rel string) (*os.File, fileInfo, error) {
	f, err := os.Open(h.path(rel))
	if err != nil {
		return nil, fileInfo{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileInfo{}, err
	}
	info := infoFromFS(fi)
	if info.kind != kindRegular && info.kind != kindDir {
		f.Close()
		return nil, fileInfo{}, errNotServable
	}
	return f, info, nil
}

func (h *Handler) readDir(rel string) ([]dirEntry, error) {
	dir := h.path(rel)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]dirEntry, 0, len(ents))
	for _, e := range ents {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		out = append(out, dirEntry{name: e.Name(), info: infoFromFS(fi)})
	}
	return out, nil
}

func errnoStatus(error) (int, bool) { return 0, false }

func fstat(f *os.File) (fileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileInfo{}, err
	}
	return infoFromFS(fi), nil
}

// haveOpenat2 exists for the tests shared with Unix systems.
const haveOpenat2 = false
