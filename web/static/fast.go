package static

import (
	"slices"
	"strings"
	"time"
)

// Cached returns the response to a plain GET or HEAD of the URL path p
// when the file it names is in the memory cache and unchanged on disk
// (one stat(2)): header lines (each ending in "\r\n", Content-Length
// among them, sorted by name as net/http writes them, without Date and
// Connection) and the body. ServeHTTP gives the same response to the same
// request; ok is false when it might not, and the caller must use
// ServeHTTP.
//
// "Plain" is for the caller to check: no Accept-Encoding (a
// precompressed variant could be chosen), no Range, no precondition
// (If-*), no request body, and no Origin when CORSByOrigin (the response
// would name the origin). p is the path of the request target as sent,
// without the query; a path with a percent-escape, an empty segment, a
// trailing slash or a segment ServeHTTP would refuse gets ok false. p is
// not retained.
//
// watched says that the caller serves from an event loop that has
// WatchFD in its epoll set and calls Refresh whenever it is readable,
// before serving the requests that arrived after: Cached may then answer
// without a stat(2), while no change was heard of (see WatchFD).
func (h *Handler) Cached(p string, watched bool) (header, body []byte, ok bool) {
	if len(p) < 2 || p[0] != '/' || strings.IndexByte(p, '%') >= 0 || h.noFast {
		return nil, nil, false
	}
	rel, slash, ok := h.mapDecoded(p)
	if !ok || slash || len(rel) != len(p)-1 || IsScriptName(rel) {
		// A directory, a path with "//", or a CGI script (never sent as a
		// file, nor cached: see serveFile): the general path.
		return nil, nil, false
	}
	e := h.cache.get(rel)
	if e == nil || e.fast == nil {
		return nil, nil, false
	}
	var w *watcher
	var gen uint64
	var now int64
	tracked := false
	if watched && h.watch != nil {
		w = h.watch
		now = time.Now().UnixNano()
		if w.vouch(e.trust, now) {
			return e.fast, e.data, true
		}
		gen = w.generation()
		tracked = h.track(w, e.trust, rel)
	}
	fi, err := h.statJoin(rel, "", "")
	if err != nil || fi.kind != kindRegular || fi.id != e.id {
		return nil, nil, false
	}
	if tracked {
		e.trust.set(gen, now)
	}
	return e.fast, e.data, true
}

// renderFast renders the header lines of a 200 response to a plain GET
// of a cached entry, as ServeHTTP and net/http would send them.
func (h *Handler) renderFast(e *entry) []byte {
	type kv struct {
		key  string
		vals []string
	}
	own := []kv{
		{"Accept-Ranges", hdrAcceptRanges},
		{"Content-Length", e.hdrLen},
		{"Content-Type", e.hdrType},
		{"Etag", e.hdrETag},
		{"Last-Modified", e.hdrLastMod},
	}
	if e.hdrEnc != nil {
		own = append(own, kv{"Content-Encoding", e.hdrEnc})
	}
	if e.hdrCC != nil {
		// A rule's value replaces --add-header's (none at all when empty).
		own = append(own, kv{"Cache-Control", e.hdrCC})
	}
	if h.server != nil {
		own = append(own, kv{"Server", h.server})
	}
	all := own
	for _, x := range h.extra {
		// Headers the handler sets itself keep the handler's value.
		if !slices.ContainsFunc(own, func(o kv) bool { return o.key == x.key }) {
			all = append(all, kv{x.key, x.vals})
		}
	}
	slices.SortFunc(all, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	n := 0
	for _, x := range all {
		for _, v := range x.vals {
			n += len(x.key) + len(v) + 4
		}
	}
	b := make([]byte, 0, n)
	for _, x := range all {
		for _, v := range x.vals {
			b = append(b, x.key...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}
