package static

import (
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"
)

// A file request goes through three steps: chooseVariant picks the file
// that answers (rel itself or a precompressed sibling), loadEntry finds or
// builds its cache entry (opening the file when its bytes are not cached),
// and writeEntry writes the headers and the body the request asks for.

// serveFile serves the regular file rel (described by fi), named name for
// its MIME type, or its precompressed sibling.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, rel, name string, fi fileInfo) {
	if IsScriptName(name) {
		// An index or an ignored extension led here: run or refuse it.
		h.runScript(w, r, rel, r.URL.Path, "", fi)
		return
	}
	v := h.chooseVariant(r, rel, fi)
	e, f, ok := h.loadEntry(w, r, rel, h.fileType(name), v)
	if !ok {
		return
	}
	if f != nil {
		defer f.Close()
	}
	if e.squeeze {
		// Compressed on the fly, unless a Range asks for part of the
		// file: ranges are of the file as it is (never of a compressed
		// body, which a client could not resume reliably).
		v.vary = true
		if ae := r.Header["Accept-Encoding"]; len(ae) > 0 && header(r.Header, "Range") == "" {
			if ci := chooseCoding(codingQ(ae)); ci >= 0 {
				if c := h.compressedEntry(rel, e, f, ci); c != nil {
					e = c
				}
			}
		}
	}
	h.writeEntry(w, r, e, f, v.vary)
}

// variant is the file that answers a request for rel: rel itself, or a
// precompressed sibling (rel.br, rel.zst, rel.gz) the client accepts.
type variant struct {
	key  string   // the cache key of its entry
	rel  string   // its path relative to Root
	fi   fileInfo // what stat said of it
	enc  string   // its Content-Encoding; "" for rel itself
	vary bool     // the choice depended on Accept-Encoding
}

// chooseVariant returns the precompressed sibling of rel that the request's
// Accept-Encoding prefers and that is not older than rel, or rel itself.
// Siblings recently found missing are not looked for again for siblingTTL:
// a new x.br may go unnoticed that long.
func (h *Handler) chooseVariant(r *http.Request, rel string, fi fileInfo) variant {
	v := variant{key: rel, rel: rel, fi: fi}
	ae := r.Header["Accept-Encoding"]
	if len(ae) == 0 {
		return v
	}
	mask := acceptedCodings(ae)
	if mask == 0 {
		return v
	}
	base := h.cache.get(rel)
	if base != nil && base.id != fi.id {
		base = nil
	}
	now := h.now().UnixNano()
	var skip, absent uint8
	if base != nil {
		if x := base.sibAbsent.Load(); now-int64(x&^7) < int64(siblingTTL) {
			skip = uint8(x & 7)
		}
	}
	found := false
	for _, p := range precompressed {
		if mask&p.bit == 0 || skip&p.bit != 0 {
			continue
		}
		sfi, err := h.statJoin(rel, p.suffix, "")
		if err != nil || sfi.kind != kindRegular {
			absent |= p.bit
			continue
		}
		v.vary = true
		if sfi.id.mtime < fi.id.mtime {
			continue // stale: x changed after x.gz was made
		}
		v.key, v.rel, v.fi, v.enc = rel+p.key, rel+p.suffix, sfi, p.coding
		found = true
		break
	}
	if base != nil && !found && absent != 0 {
		base.sibAbsent.Store(uint64(now)&^7 | uint64(absent|skip))
	}
	return v
}

// loadEntry returns the cache entry of the variant v of rel, with Content-
// Type ctype, and the open file when the entry holds no bytes (the caller
// closes it); nil when it does. A stale entry is rebuilt, and a small file's
// bytes are cached once it is out of the racy window. If the file cannot be
// opened, or is no longer a regular file, loadEntry answers the request
// with the error page and returns ok false.
func (h *Handler) loadEntry(w http.ResponseWriter, r *http.Request, rel, ctype string, v variant) (e *entry, f *os.File, ok bool) {
	e = h.cache.get(v.key)
	if e != nil && (e.id != v.fi.id || e.clamped && h.now().Unix() >= ceilSeconds(e.id.mtime)) {
		e = nil
	}
	if e != nil && e.data != nil {
		return e, nil, true
	}
	// Open even for HEAD and 304, as twistd does, so an unreadable file
	// is 403 whatever the request.
	f, ofi, err := h.open(v.rel)
	if err != nil {
		h.fail(w, r, v.rel, err)
		return nil, nil, false
	}
	if ofi.kind != kindRegular {
		f.Close()
		h.errorPage(w, r, http.StatusNotFound, notFoundPage)
		return nil, nil, false
	}
	store := false
	if e == nil || e.id != ofi.id {
		e, store = h.newEntry(ofi, ctype, v.enc), true
		e.hdrCC = h.cacheControl(rel)
	}
	// Small files get their content cached once they are out of the racy
	// window; entries are immutable, so a filled copy replaces e.
	if e.data == nil && h.cacheable(ofi) {
		if data := loadData(f, ofi); data != nil {
			filled := *e
			filled.data = data
			filled.fast = h.renderFast(&filled)
			e, store = &filled, true
		}
	}
	if store {
		h.cache.put(v.key, e)
	}
	if e.data != nil {
		f.Close()
		f = nil
	}
	return e, f, true
}

// writeEntry answers the request from e: the validators, then 304 or 412
// as the preconditions say, else the whole file (200) or the ranges asked
// for (206, 416). The body comes from e's cached bytes, else from f, mapped
// or sent with sendfile(2). vary adds Vary: Accept-Encoding.
func (h *Handler) writeEntry(w http.ResponseWriter, r *http.Request, e *entry, f *os.File, vary bool) {
	hdr := w.Header()
	if vary {
		if old := hdr["Vary"]; len(old) > 0 {
			hdr["Vary"] = append(slices.Clip(old), "Accept-Encoding")
		} else {
			hdr["Vary"] = hdrVaryAE
		}
	}
	hdr["Accept-Ranges"] = hdrAcceptRanges
	hdr["Last-Modified"] = e.hdrLastMod
	hdr["Etag"] = e.hdrETag
	setCacheControl(hdr, e.hdrCC)
	switch preconditions(r, e.etag, e.lastMod, e.modSecs) {
	case http.StatusNotModified:
		w.WriteHeader(http.StatusNotModified)
		return
	case http.StatusPreconditionFailed:
		h.resetCacheControl(hdr)
		h.errorPage(w, r, http.StatusPreconditionFailed, preconditionPage)
		return
	}
	hdr["Content-Type"] = e.hdrType
	if e.hdrEnc != nil {
		hdr["Content-Encoding"] = e.hdrEnc
	}
	size := e.id.size
	if r.Method == http.MethodGet {
		if rv := header(r.Header, "Range"); rv != "" && ifRange(r, e.etag, e.modSecs) {
			var buf [maxRanges]byteRange
			ranges, res := parseRange(rv, size, buf[:0])
			switch res {
			case rangeUnsatisfiable:
				hdr["Content-Range"] = []string{"bytes */" + strconv.FormatInt(size, 10)}
				h.resetCacheControl(hdr)
				h.errorPage(w, r, http.StatusRequestedRangeNotSatisfiable, "")
				return
			case rangeOK:
				if len(ranges) == 1 {
					h.serveRange(w, e, f, ranges[0])
				} else {
					h.serveMultiRange(w, e, f, ranges)
				}
				return
			}
		}
	}
	hdr["Content-Length"] = e.hdrLen
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if e.data != nil {
		_, _ = w.Write(e.data)
		return
	}
	if h.writeMapped(w, f, e.id, 0, size) {
		return
	}
	// io.CopyN hands net/http an io.LimitedReader over the *os.File, which
	// it sends with sendfile(2) on TCP connections.
	_, _ = io.CopyN(w, f, size)
}

func contentRange(r byteRange, size int64) string {
	return "bytes " + strconv.FormatInt(r.start, 10) + "-" + strconv.FormatInt(r.start+r.length-1, 10) +
		"/" + strconv.FormatInt(size, 10)
}

func (h *Handler) serveRange(w http.ResponseWriter, e *entry, f *os.File, br byteRange) {
	hdr := w.Header()
	hdr["Content-Range"] = []string{contentRange(br, e.id.size)}
	hdr["Content-Length"] = []string{strconv.FormatInt(br.length, 10)}
	w.WriteHeader(http.StatusPartialContent)
	if e.data != nil {
		_, _ = w.Write(e.data[br.start : br.start+br.length])
		return
	}
	if h.writeMapped(w, f, e.id, br.start, br.length) {
		return
	}
	if _, err := f.Seek(br.start, io.SeekStart); err != nil {
		return
	}
	_, _ = io.CopyN(w, f, br.length)
}

// serveMultiRange writes a multipart/byteranges body (RFC 9110 section
// 14.6). Each part carries the file's Content-Type; the response itself
// has no Content-Encoding, as in twistd.
func (h *Handler) serveMultiRange(w http.ResponseWriter, e *entry, f *os.File, ranges []byteRange) {
	boundary := strconv.FormatUint(h.boundary.Add(1)^uint64(time.Now().UnixNano()), 16) +
		strconv.FormatUint(uint64(e.id.ino), 16) + "gotwistd"
	heads := make([]string, len(ranges))
	total := int64(0)
	for i, br := range ranges {
		head := "--" + boundary + "\r\nContent-Type: " + e.ctype + "\r\nContent-Range: " +
			contentRange(br, e.id.size) + "\r\n\r\n"
		if i > 0 {
			head = "\r\n" + head
		}
		heads[i] = head
		total += int64(len(head)) + br.length
	}
	tail := "\r\n--" + boundary + "--\r\n"
	total += int64(len(tail))
	hdr := w.Header()
	delete(hdr, "Content-Encoding")
	hdr["Content-Type"] = []string{"multipart/byteranges; boundary=" + boundary}
	hdr["Content-Length"] = []string{strconv.FormatInt(total, 10)}
	w.WriteHeader(http.StatusPartialContent)
	for i, br := range ranges {
		if _, err := io.WriteString(w, heads[i]); err != nil {
			return
		}
		var err error
		if e.data != nil {
			_, err = w.Write(e.data[br.start : br.start+br.length])
		} else {
			_, err = io.Copy(w, io.NewSectionReader(f, br.start, br.length))
		}
		if err != nil {
			return
		}
	}
	_, _ = io.WriteString(w, tail)
}
