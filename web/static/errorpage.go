package static

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
)

// pageFile is a file under Root that answers in place of a built-in page:
// an error page (Config.ErrorPages) or the single-page app's fallback
// (Config.SPAFallback).
type pageFile struct {
	url   string // as configured, for messages
	rel   string // path relative to Root
	ctype string
	enc   []string // Content-Encoding of a .gz, .br... page, or nil
}

// maxPageFile bounds an error page read into memory for gotwistd's
// HTTP/1.1 engine's own refusals (see ErrorPageBody).
const maxPageFile = 1 << 20

// newPageFile checks that url names a regular file under Root that the
// handler would serve, and describes it.
func (h *Handler) newPageFile(what, url string) (*pageFile, error) {
	if url == "" || url[0] != '/' || strings.ContainsAny(url, "?#%") {
		return nil, fmt.Errorf("%w: %s %q: give the URL path of a file under the root, such as /404.html (no query, no %%-escapes)", ErrBadConfig, what, url)
	}
	rel, slash, ok := h.mapDecoded(url)
	if !ok || slash || rel == "" {
		return nil, fmt.Errorf("%w: %s %q: not a path the server serves (a directory, a dotfile, or a \"..\")", ErrBadConfig, what, url)
	}
	fi, err := h.stat(rel)
	switch {
	case err != nil && errorStatus(err) == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s %q: no such file under %s", ErrBadConfig, what, url, h.root)
	case err != nil:
		return nil, fmt.Errorf("%s %q: %w", what, url, err)
	case fi.kind != kindRegular:
		return nil, fmt.Errorf("%w: %s %q: not a regular file", ErrBadConfig, what, url)
	}
	ctype, enc := h.typeAndEncoding(baseName(rel))
	p := &pageFile{url: url, rel: rel, ctype: ctype}
	if enc != "" {
		p.enc = []string{enc}
	}
	return p, nil
}

// errorPage answers code with the page configured for it, or with
// builtin (twistd's page; "" for an empty body).
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, code int, builtin string) {
	if p := h.errPages[code]; p != nil && h.writePageFile(w, r, code, p) {
		return
	}
	if builtin == "" {
		w.Header()["Content-Length"] = hdrZero
		w.WriteHeader(code)
		return
	}
	writePage(w, r, code, builtin)
}

// WriteErrorPage answers r with the error page configured for code
// (Config.ErrorPages), for the responses the caller makes itself (a 500
// after a panic, a 414); false, with nothing written, when none is
// configured or its file cannot be read now.
func (h *Handler) WriteErrorPage(w http.ResponseWriter, r *http.Request, code int) bool {
	p := h.errPages[code]
	return p != nil && h.writePageFile(w, r, code, p)
}

// ErrorPageBody returns the Content-Type and content of the error page
// configured for code, for answers made without an http.Request (the
// HTTP/1.1 engine's own refusals); ok is false when none is configured,
// its file cannot be read now, or it is larger than 1 MiB.
func (h *Handler) ErrorPageBody(code int) (contentType string, body []byte, ok bool) {
	p := h.errPages[code]
	if p == nil || p.enc != nil {
		return "", nil, false
	}
	data, f, size, ok := h.pageContent(p)
	if !ok {
		return "", nil, false
	}
	if f != nil {
		defer f.Close()
		if size > maxPageFile {
			return "", nil, false
		}
		data = make([]byte, size)
		if _, err := io.ReadFull(f, data); err != nil {
			h.logPageError(p, err)
			return "", nil, false
		}
	}
	return p.ctype, data, true
}

// pageContent returns p's content from the memory cache (data), or its
// file opened (f, which the caller closes) and size; it caches a small
// file's content on the way, as serveFile does, so that a flood of 404s
// costs one stat(2) each. ok is false, with the error logged, when p
// cannot be read.
func (h *Handler) pageContent(p *pageFile) (data []byte, f *os.File, size int64, ok bool) {
	fi, err := h.statJoin(p.rel, "", "")
	if err == nil && fi.kind != kindRegular {
		err = errNotServable
	}
	if err != nil {
		h.logPageError(p, err)
		return nil, nil, 0, false
	}
	if e := h.cache.get(p.rel); e != nil && e.id == fi.id && e.data != nil {
		return e.data, nil, int64(len(e.data)), true
	}
	f, ofi, err := h.open(p.rel)
	if err == nil && ofi.kind != kindRegular {
		f.Close()
		err = errNotServable
	}
	if err != nil {
		h.logPageError(p, err)
		return nil, nil, 0, false
	}
	if h.cacheable(ofi) {
		if d := loadData(f, ofi); d != nil {
			ctype, enc := h.typeAndEncoding(baseName(p.rel))
			e := h.newEntry(ofi, ctype, enc)
			e.hdrCC = h.cacheControl(p.rel)
			e.data = d
			e.fast = h.renderFast(e)
			h.cache.put(p.rel, e)
			f.Close()
			return d, nil, int64(len(d)), true
		}
	}
	return nil, f, ofi.id.size, true
}

// writePageFile answers r with status code and the content of p, without
// the validators and ranges of the request's own file (it is not that
// file). It reports false, having written nothing, when p cannot be read:
// the caller then answers with its built-in page.
func (h *Handler) writePageFile(w http.ResponseWriter, r *http.Request, code int, p *pageFile) bool {
	data, f, size, ok := h.pageContent(p)
	if !ok {
		return false
	}
	if f != nil {
		defer f.Close()
	}
	hdr := w.Header()
	for _, k := range []string{"Etag", "Last-Modified", "Accept-Ranges", "Content-Encoding"} {
		delete(hdr, k)
	}
	h.resetCacheControl(hdr)
	hdr["Content-Type"] = []string{p.ctype}
	if p.enc != nil {
		hdr["Content-Encoding"] = p.enc
	}
	hdr["Content-Length"] = []string{strconv.FormatInt(size, 10)}
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return true
	}
	if f == nil {
		_, _ = w.Write(data)
	} else {
		_, _ = io.CopyN(w, f, size)
	}
	return true
}

// logPageError logs, once per error text, that a configured page could
// not be served.
func (h *Handler) logPageError(p *pageFile, err error) {
	key := p.rel + "\x00" + err.Error()
	if _, seen := h.pageErrors.LoadOrStore(key, true); seen {
		return
	}
	h.log.Error("static: cannot serve the configured page, answering with the built-in one", "page", p.url, "err", err)
}

// spaFallback reports whether a request for the missing path urlPath
// (decoded, as in the request) is answered with the single-page app's
// file: its last segment has no extension.
func (h *Handler) spaFallback(urlPath string) bool {
	if h.spa == nil {
		return false
	}
	p := strings.TrimRight(urlPath, "/")
	last := p[strings.LastIndexByte(p, '/')+1:]
	return !strings.Contains(last, ".")
}

// serveSPA answers with the single-page app's file (status 200, its own
// validators and cache rule, ranges and conditional requests as for the
// file itself); false when it cannot be found now.
func (h *Handler) serveSPA(w http.ResponseWriter, r *http.Request) bool {
	fi, err := h.statJoin(h.spa.rel, "", "")
	if err != nil || fi.kind != kindRegular {
		if err == nil {
			err = errNotServable
		}
		h.logPageError(h.spa, err)
		return false
	}
	h.serveFile(w, r, h.spa.rel, baseName(h.spa.rel), fi)
	return true
}

// initPages checks and installs Config.ErrorPages, Config.SPAFallback
// and Config.Listing; Root is resolved by then.
func (h *Handler) initPages(cfg Config) error {
	switch cfg.Listing {
	case "":
		h.listingMode = ListingGotwistd
	case ListingGotwistd, ListingTwistd, ListingOff:
		h.listingMode = cfg.Listing
	default:
		return fmt.Errorf("%w: listing %q: give %s, %s or %s", ErrBadConfig, cfg.Listing, ListingGotwistd, ListingTwistd, ListingOff)
	}
	codes := make([]int, 0, len(cfg.ErrorPages))
	for code := range cfg.ErrorPages {
		codes = append(codes, code)
	}
	slices.Sort(codes) // the first bad one in order, whatever the map's
	for _, code := range codes {
		if code < 400 || code > 599 {
			return fmt.Errorf("%w: error page for status %d: only 4xx and 5xx statuses have error pages", ErrBadConfig, code)
		}
		p, err := h.newPageFile("error page for "+strconv.Itoa(code), cfg.ErrorPages[code])
		if err != nil {
			return err
		}
		if h.errPages == nil {
			h.errPages = make(map[int]*pageFile)
		}
		h.errPages[code] = p
	}
	if cfg.SPAFallback != "" {
		p, err := h.newPageFile("single-page app fallback", cfg.SPAFallback)
		if err != nil {
			return err
		}
		h.spa = p
	}
	return nil
}

// HasErrorPages reports whether Config.ErrorPages named any page.
func (h *Handler) HasErrorPages() bool { return len(h.errPages) > 0 }
