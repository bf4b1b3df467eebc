package static

import (
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"unicode/utf8"
)

// mapPath maps a request URL to a path relative to Root. rel uses "/" as
// separator, has no empty, "." or ".." segment and no leading or trailing
// slash; "" is Root itself. slash reports whether the URL path ended in "/".
// ok is false when the path must not be served (answer 404): a "." or ".."
// segment, an encoded "/" inside a segment, a backslash or NUL byte, invalid
// UTF-8 (overlong encodings included), or a dotfile segment when dotfiles are
// not served. Empty segments ("//") are merged, as nginx does.
//
// The mapping is lexical: joined below Root, rel can only leave Root through
// a symbolic link, which is followed or refused according to
// Config.NoFollowSymlinks.
func (h *Handler) mapPath(u *url.URL) (rel string, slash, ok bool) {
	if u.RawPath == "" {
		// No segment held an encoded "/": u.Path splits exactly as the
		// request line did. This is the allocation-free common case.
		return h.mapDecoded(u.Path)
	}
	// Split the escaped form, then decode segment by segment, so that %2F
	// stays inside its segment (and is refused there).
	raw := u.EscapedPath()
	if raw == "" || raw[0] != '/' {
		return "", false, raw == ""
	}
	parts := strings.Split(raw[1:], "/")
	segs := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		seg, err := url.PathUnescape(p)
		if err != nil || strings.IndexByte(seg, '/') >= 0 || !h.segmentOK(seg, len(segs) == 0) {
			return "", false, false
		}
		segs = append(segs, seg)
	}
	return strings.Join(segs, "/"), raw[len(raw)-1] == '/', true
}

// mapDecoded is mapPath for a decoded path whose "/" are all separators.
func (h *Handler) mapDecoded(p string) (rel string, slash, ok bool) {
	if p == "" {
		// An absolute-form request without a path: Root, redirected to "/".
		return "", false, true
	}
	if p[0] != '/' {
		return "", false, false
	}
	clean := true
	first := true
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[start:i]
		start = i + 1
		if seg == "" {
			if i != len(p) {
				clean = false
			}
			continue
		}
		if !h.segmentOK(seg, first) {
			return "", false, false
		}
		first = false
	}
	slash = p[len(p)-1] == '/'
	if clean {
		rel = p[1:]
		if slash && rel != "" {
			rel = rel[:len(rel)-1]
		}
		return rel, slash, true
	}
	parts := strings.Split(p[1:], "/")
	segs := parts[:0]
	for _, s := range parts {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return strings.Join(segs, "/"), slash, true
}

// segmentOK reports whether one decoded, non-empty path segment may be
// served. first is true for the segment directly below Root, where
// ".well-known" is allowed even when dotfiles are not.
func (h *Handler) segmentOK(seg string, first bool) bool {
	if seg == "." || seg == ".." {
		return false
	}
	if seg[0] == '.' && !h.serveDotfiles && !(first && seg == ".well-known") {
		return false
	}
	ascii := true
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c == '\\' || c == 0:
			// Checked on every byte: a NUL or backslash after a non-ASCII
			// character must be refused too.
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(seg) {
		return false
	}
	if runtime.GOOS == "windows" && !filepath.IsLocal(seg) {
		// Drive letters, reserved names (NUL, COM1) and the like.
		return false
	}
	return true
}

// joinRel joins a relative directory and a name.
func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// baseName is the last segment of rel.
func baseName(rel string) string {
	return rel[strings.LastIndexByte(rel, '/')+1:]
}
