package static

import (
	"net/http"
	"strings"
)

// header returns the first value of an already canonical header key,
// without the allocation-free-but-slower canonicalisation of Header.Get.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// preconditions evaluates the conditional request headers in RFC 9110
// section 13.2.2's order against a file's validators and returns 0 (go on),
// 304 or 412. If-Modified-Since is also honoured in twistd's older form
// with a "; length=N" suffix.
func preconditions(r *http.Request, etag, lastMod string, modSecs int64) int {
	h := r.Header
	if v := header(h, "If-Match"); v != "" {
		if !etagListMatch(v, etag, true) {
			return http.StatusPreconditionFailed
		}
	} else if v := header(h, "If-Unmodified-Since"); v != "" {
		if t, ok := parseHTTPDate(v); ok && modSecs > t {
			return http.StatusPreconditionFailed
		}
	}
	getOrHead := r.Method == http.MethodGet || r.Method == http.MethodHead
	if v := header(h, "If-None-Match"); v != "" {
		if etagListMatch(v, etag, false) {
			if getOrHead {
				return http.StatusNotModified
			}
			return http.StatusPreconditionFailed
		}
	} else if v := header(h, "If-Modified-Since"); v != "" && getOrHead {
		if v == lastMod {
			return http.StatusNotModified
		}
		if t, ok := parseHTTPDate(v); ok && modSecs <= t {
			return http.StatusNotModified
		}
	}
	return 0
}

// ifRange reports whether a Range header applies: there is no If-Range, or
// it names the current representation (the same strong ETag, or exactly
// its Last-Modified date).
func ifRange(r *http.Request, etag string, modSecs int64) bool {
	v := header(r.Header, "If-Range")
	if v == "" {
		return true
	}
	if v[0] == '"' || strings.HasPrefix(v, "W/") {
		return v == etag
	}
	t, ok := parseHTTPDate(v)
	return ok && t == modSecs
}

// parseHTTPDate parses an HTTP-date in any of its three forms, ignoring
// anything after ';' as twistd does.
func parseHTTPDate(v string) (int64, bool) {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	t, err := http.ParseTime(trimOWS(v))
	if err != nil {
		return 0, false
	}
	return t.Unix(), true
}

// etagListMatch reports whether a comma-separated list of entity tags (or
// "*") matches etag, with the strong or the weak comparison function.
// A malformed list matches nothing from the bad element on.
func etagListMatch(list, etag string, strong bool) bool {
	s := trimOWS(list)
	if s == "*" {
		return true
	}
	for s != "" {
		for s != "" && (s[0] == ',' || s[0] == ' ' || s[0] == '\t') {
			s = s[1:]
		}
		if s == "" {
			break
		}
		weak := false
		if strings.HasPrefix(s, "W/") {
			weak, s = true, s[2:]
		}
		if s == "" || s[0] != '"' {
			return false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return false
		}
		tag := s[:end+2]
		s = s[end+2:]
		if tag == etag && !(strong && weak) {
			return true
		}
	}
	return false
}
