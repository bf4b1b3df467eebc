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
// "Plain" is for the caller to check (gotwistd's engines offer only what
// web/fast's Request.Plain accepts): no Accept-Encoding (a precompressed
// variant could be chosen; see CachedAccepting), no Range, no
// precondition (If-*), no request body, and no Origin when CORSByOrigin
// (the response would name the origin). p is the path of the request target as sent,
// without the query; a path with a percent-escape, an empty segment, a
// trailing slash or a segment ServeHTTP would refuse gets ok false. p is
// not retained.
//
// watched says that the caller serves from an event loop that has
// WatchFD in its epoll set and calls Refresh whenever it is readable,
// before serving the requests that arrived after: Cached may then answer
// without a stat(2), while no change was heard of (see WatchFD).
func (h *Handler) Cached(p string, watched bool) (header, body []byte, ok bool) {
	return h.CachedAccepting(p, "", watched)
}

// CachedAccepting is Cached for a request whose Accept-Encoding header
// is acceptEncoding ("" when it has none): it answers with the file
// compressed as ServeHTTP would, when those bytes are in the cache and
// no precompressed sibling may answer (the handler found them all
// missing less than a second ago). The caller must still decline
// requests with more than one Accept-Encoding field. acceptEncoding is
// not retained.
func (h *Handler) CachedAccepting(p, acceptEncoding string, watched bool) (header, body []byte, ok bool) {
	return h.CachedAt(p, acceptEncoding, watched, 0)
}

// CachedAt is CachedAccepting at the time now (Unix nanoseconds), which
// an engine read when the request came (fast.Request.Now), so the clock
// is read once for a batch of requests; 0: read it.
func (h *Handler) CachedAt(p, acceptEncoding string, watched bool, now int64) (header, body []byte, ok bool) {
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
	tracked := false
	if watched && h.watchReady.Load() && h.watch != nil {
		w = h.watch
		if now == 0 {
			now = time.Now().UnixNano()
		}
		if w.vouch(e.trust, now) {
			return h.cachedVariant(rel, e, acceptEncoding)
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
	return h.cachedVariant(rel, e, acceptEncoding)
}

// cachedVariant is the response of Cached to a request accepting the
// codings ae lists, once the cached file e is known unchanged.
func (h *Handler) cachedVariant(rel string, e *entry, ae string) (header, body []byte, ok bool) {
	if ae == "" {
		return e.fast, e.data, true
	}
	vals := [1]string{ae}
	if mask := acceptedCodings(vals[:]); mask != 0 {
		// A precompressed sibling answers when there is one: only siblings
		// recently found missing are known not to.
		v := e.sibAbsent.Load()
		if uint8(v&7)&mask != mask || h.now().UnixNano()-int64(v&^7) >= int64(siblingTTL) {
			return nil, nil, false
		}
	}
	if !e.squeeze {
		return e.fast, e.data, true
	}
	ci := chooseCoding(codingQ(vals[:]))
	if ci < 0 {
		return e.fast, e.data, true
	}
	c := h.cache.get(rel + compressed[ci].key)
	switch {
	case c == nil || c.id != e.id || c.lastMod != e.lastMod:
		return nil, nil, false // not made yet: ServeHTTP makes it
	case c.noGain:
		return e.fast, e.data, true
	case c.fast == nil:
		return nil, nil, false
	}
	return c.fast, c.data, true
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
	if e.squeeze || e.hdrEnc != nil {
		vary := hdrVaryAE
		if i := h.extraIndex("Vary"); i >= 0 {
			vary = append(slices.Clip(h.extra[i].vals), "Accept-Encoding")
		}
		own = append(own, kv{"Vary", vary})
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
