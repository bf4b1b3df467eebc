package static

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes the directory a Handler serves. The zero value of every
// field but Root is a sensible default.
type Config struct {
	// Root is the directory served (twistd's --path). Required; made
	// absolute by New.
	Root string
	// Indexes are the file names tried, in order, for a URL ending in "/"
	// (twistd's -i/--index). Default: index, index.html, index.htm
	// (twistd's list without index.rpy).
	Indexes []string
	// DefaultType is the Content-Type of files whose extension is unknown
	// (twistd's -m/--mime-type). Default "text/html", as twistd.
	DefaultType string
	// MIMETypes adds or overrides extension to type mappings, on top of
	// the built-in table and /etc/mime.types. Keys may omit the leading
	// dot; they match case-insensitively.
	MIMETypes map[string]string
	// IgnoreExt are suffixes tried, in order, when a path does not exist
	// (twistd's --ignore-ext): with ".html", /about serves about.html.
	// A suffix is appended as given, so it normally starts with a dot;
	// "*" means any extension.
	IgnoreExt []string
	// AllowIgnoreExt makes /foo serve the first (by name) foo.<anything>
	// when foo does not exist (twistd's --allow-ignore-ext), after
	// IgnoreExt has been tried.
	AllowIgnoreExt bool
	// Headers are added to every response, in order (twistd's
	// --add-header). A Server header here replaces ServerHeader; headers
	// the handler sets itself (Content-Type, ETag, ...) keep the handler's
	// value; Vary values are merged. Content-Length, Transfer-Encoding,
	// Content-Range and Connection are refused.
	Headers [][2]string
	// ServeDotfiles serves files and directories whose name starts with a
	// dot. Default false: they are answered 404 and left out of listings,
	// except /.well-known/ (RFC 8615). "." and ".." are never served.
	ServeDotfiles bool
	// NoFollowSymlinks refuses (404) any path that goes through a symbolic
	// link below Root and leaves links out of listings. Default false:
	// links are followed, even out of Root, as twistd and nginx do. Root's
	// own path may contain links; they are resolved once by New. Needs a
	// Unix system; uses openat2(RESOLVE_NO_SYMLINKS) on Linux >= 5.6.
	NoFollowSymlinks bool
	// ServerHeader is the Server header of every response. Default
	// "gotwistd".
	ServerHeader string
	// ErrorLog receives internal errors (an I/O error reading a file), which
	// are never put in responses. Default: discarded.
	ErrorLog *slog.Logger
	// CGI runs the CGI scripts under Root: regular files whose name ends
	// in ".cgi" (any case), named by a URL path segment (with PATH_INFO
	// after it), an index name or an ignored extension, for any method.
	// Default nil: they are refused with 403 and a log line naming --cgi,
	// for every method, Range or precondition; their content is never
	// sent, nor cached.
	CGI ScriptRunner

	// CacheControl gives files a Cache-Control header by name or path;
	// the first rule that matches counts (see CacheRule). A rule's value
	// replaces a Cache-Control of Headers for the files it matches. It is
	// sent with 200, 206 and 304 responses, not with listings or errors.
	CacheControl []CacheRule
	// CORS lists the origins allowed to read responses from other sites
	// (see ParseCORS): ["*"] adds Access-Control-Allow-Origin: * to every
	// response; a list of origins adds it, naming the origin, to responses
	// to requests from one of them, and Vary: Origin to every response.
	// With CORS, OPTIONS is answered 204 (preflight requests with the
	// Access-Control-Allow-* headers for GET and HEAD); without, 405.
	CORS []string
	// ErrorPages maps a status the handler answers with (403, 404, 405,
	// 412, 416, 500) to the URL path of a file under Root sent instead of
	// twistd's page, with that status and the file's Content-Type. The
	// files must exist when New is called; one that is gone later is
	// logged and twistd's page is sent.
	ErrorPages map[int]string
	// SPAFallback is the URL path of a file under Root (/index.html)
	// that answers, with 200, a request for a path that does not exist
	// and whose last segment has no extension (/users/42, not /app.js), as
	// single-page applications need. Empty: none.
	SPAFallback string
	// Listing is the page of a directory without an index file:
	// ListingGotwistd (default), ListingTwistd (twistd's page, byte for
	// byte) or ListingOff (404, as for a missing path).
	Listing string
	// NoCompress turns off on-the-fly compression. By default files of
	// a text type (HTML, CSS, JavaScript, JSON, SVG, XML, WebAssembly...)
	// of CompressMinSize bytes up to 1 MiB are sent compressed with br,
	// zstd or gzip, as the request's Accept-Encoding prefers, when no
	// precompressed sibling answers and the request has no Range; their
	// ETag then ends in -br, -zst or -gz inside the quotes.
	NoCompress bool
	// CompressMinSize is the size of the smallest file compressed on the
	// fly. 0: DefaultCompressMinSize.
	CompressMinSize int64

	// seams are what tests set instead of package variables (seams.go).
	seams seams
}

// Listing pages (Config.Listing).
const (
	// ListingGotwistd is a page with sizes, dates and types, sortable by
	// each column, for phones too, and JSON for Accept: application/json
	// or ?format=json.
	ListingGotwistd = "gotwistd"
	// ListingTwistd is twistd's DirectoryLister page, byte for byte.
	ListingTwistd = "twistd"
	// ListingOff answers 404 for a directory without an index file.
	ListingOff = "off"
)

// DefaultIndexes are the index file names used when Config.Indexes is
// empty.
var DefaultIndexes = []string{"index", "index.html", "index.htm"}

// ErrBadConfig is wrapped by every error New returns for a bad Config.
var ErrBadConfig = errors.New("bad static file configuration")

// Handler serves a directory; see the package documentation. It is safe
// for concurrent use.
type Handler struct {
	root          string
	indexes       []string
	defaultType   string
	types         *mimeTable
	ignoreExt     []string // suffixes, then "*"
	server        []string // nil when Headers has its own Server
	extra         []headerValues
	serveDotfiles bool
	noFollow      bool
	log           *slog.Logger
	now           func() time.Time

	noFast bool // Cached never answers (an added Date header)
	seams  seams

	noCompress  bool  // Config.NoCompress
	compressMin int64 // Config.CompressMinSize, or its default

	cgi         ScriptRunner // nil: scripts are refused
	refused     refusals
	cacheRules  []CacheRule
	cacheValues [][]string // parallel to cacheRules: the header's values
	extraCC     []string   // Cache-Control of Headers, or nil
	corsList    []string   // allowed origins; nil when none or "*"
	cors        bool       // OPTIONS answered
	errPages    map[int]*pageFile
	spa         *pageFile
	listingMode string
	pageErrors  sync.Map // errors logged by logPageError

	watchOnce  sync.Once   // starts the watcher, in the background (see WatchFD)
	watchKick  sync.Once   // the first WatchFD: the background start begins
	watchReady atomic.Bool // watchOnce has run: watch may be read
	watch      *watcher    // nil: changes are not watched

	fs       fsState
	cache    fileCache
	maps     mapCache
	boundary atomic.Uint64
}

type headerValues struct {
	key  string
	vals []string
}

// initHeaders checks cfg.Headers and sets the headers every response gets:
// Server (cfg.ServerHeader, unless Headers has its own) and Headers, merged
// by canonical name in the order given.
func (h *Handler) initHeaders(cfg Config) error {
	server := cfg.ServerHeader
	if server == "" {
		server = "gotwistd"
	}
	h.server = []string{server}
	for _, kv := range cfg.Headers {
		if !validHeaderName(kv[0]) {
			return fmt.Errorf("%w: header name %q is not a valid HTTP token", ErrBadConfig, kv[0])
		}
		if strings.ContainsAny(kv[1], "\r\n\x00") {
			return fmt.Errorf("%w: value of header %q contains a line break or NUL", ErrBadConfig, kv[0])
		}
		key := http.CanonicalHeaderKey(kv[0])
		switch key {
		case "Content-Length", "Transfer-Encoding", "Content-Range", "Connection":
			return fmt.Errorf("%w: header %q describes each response's framing and cannot be added to all of them", ErrBadConfig, kv[0])
		}
		if key == "Server" {
			h.server = nil
		}
		if key == "Date" {
			// The fast path's caller adds its own Date.
			h.noFast = true
		}
		i := slices.IndexFunc(h.extra, func(x headerValues) bool { return x.key == key })
		if i < 0 {
			h.extra = append(h.extra, headerValues{key: key})
			i = len(h.extra) - 1
		}
		h.extra[i].vals = append(h.extra[i].vals, strings.TrimSpace(kv[1]))
	}
	return nil
}

// New checks cfg and returns a Handler serving cfg.Root. It fails when
// Root is missing or not a directory, or when a header, index name or
// ignored extension is malformed; errors wrap ErrBadConfig or the file
// system error.
func New(cfg Config) (*Handler, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("%w: no root directory given (twistd's --path)", ErrBadConfig)
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("root directory %q: %w", cfg.Root, err)
	}
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("root directory %q does not exist: %w", cfg.Root, err)
	case err != nil:
		return nil, fmt.Errorf("root directory %q: %w", cfg.Root, err)
	case !st.IsDir():
		return nil, fmt.Errorf("%w: root %q is not a directory; --path needs a directory", ErrBadConfig, cfg.Root)
	}
	h := &Handler{
		root:          root,
		indexes:       slices.Clone(cfg.Indexes),
		defaultType:   cfg.DefaultType,
		types:         newMIMETable(cfg.seams.mimeFile(), cfg.MIMETypes),
		seams:         cfg.seams,
		serveDotfiles: cfg.ServeDotfiles,
		noFollow:      cfg.NoFollowSymlinks,
		log:           cfg.ErrorLog,
		now:           time.Now,
		cgi:           cfg.CGI,
		noCompress:    cfg.NoCompress,
		compressMin:   cfg.CompressMinSize,
	}
	if h.compressMin <= 0 {
		h.compressMin = DefaultCompressMinSize
	}
	if len(h.indexes) == 0 {
		h.indexes = slices.Clone(DefaultIndexes)
	}
	for _, name := range h.indexes {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
			return nil, fmt.Errorf("%w: index name %q must be a plain file name", ErrBadConfig, name)
		}
	}
	if h.defaultType == "" {
		h.defaultType = "text/html"
	}
	for _, ext := range cfg.IgnoreExt {
		if ext == "" {
			continue
		}
		if ext != "*" && strings.ContainsAny(ext, "/\\\x00") {
			return nil, fmt.Errorf("%w: ignored extension %q must not contain a slash, backslash or NUL", ErrBadConfig, ext)
		}
		h.ignoreExt = append(h.ignoreExt, ext)
	}
	if cfg.AllowIgnoreExt {
		h.ignoreExt = append(h.ignoreExt, "*")
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if err := h.initHeaders(cfg); err != nil {
		return nil, err
	}
	if err := h.initRules(cfg); err != nil {
		return nil, err
	}
	for i := range h.extra {
		h.extra[i].vals = slices.Clip(h.extra[i].vals)
	}
	if err := h.initFS(root); err != nil {
		return nil, fmt.Errorf("root directory %q: %w", cfg.Root, err)
	}
	if err := h.initPages(cfg); err != nil {
		return nil, err
	}
	return h, nil
}

// Root is the absolute path of the directory served.
func (h *Handler) Root() string { return h.root }

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	if h.server != nil {
		hdr["Server"] = h.server
	}
	for _, x := range h.extra {
		if old := hdr[x.key]; len(old) > 0 {
			hdr[x.key] = append(slices.Clip(old), x.vals...)
		} else {
			hdr[x.key] = x.vals
		}
	}
	if h.corsList != nil {
		h.corsOrigin(hdr, r)
	}
	if h.scriptURL(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if h.cors && r.Method == http.MethodOptions {
			h.options(w, r)
			return
		}
		h.methodNotAllowed(w, r)
		return
	}
	rel, slash, ok := h.mapPath(r.URL)
	if !ok {
		h.errorPage(w, r, http.StatusNotFound, notFoundPage)
		return
	}
	fi, err := h.statJoin(rel, "", "")
	if err != nil && len(h.ignoreExt) > 0 && errorStatus(err) == http.StatusNotFound {
		rel, fi, err = h.ignoreExtLookup(rel)
	}
	if err != nil {
		if h.spa != nil && errorStatus(err) == http.StatusNotFound && h.spaFallback(r.URL.Path) && h.serveSPA(w, r) {
			return
		}
		h.fail(w, r, rel, err)
		return
	}
	switch fi.kind {
	case kindDir:
		if !slash {
			loc := "/" + quoteURL(rel)
			if rel != "" {
				loc += "/"
			}
			if r.URL.RawQuery != "" {
				loc += "?" + r.URL.RawQuery
			}
			redirect(w, r, loc)
			return
		}
		sep := "/"
		if rel == "" {
			sep = ""
		}
		for _, name := range h.indexes {
			if ifi, err := h.statJoin(rel, sep, name); err == nil && ifi.kind == kindRegular {
				h.serveFile(w, r, rel+sep+name, name, ifi)
				return
			}
		}
		h.serveListing(w, r, rel)
	case kindRegular:
		if slash {
			// twistd: a file has no children, "/file/" is 404.
			h.errorPage(w, r, http.StatusNotFound, notFoundPage)
			return
		}
		h.serveFile(w, r, rel, baseName(rel), fi)
	default:
		h.errorPage(w, r, http.StatusNotFound, notFoundPage)
	}
}

// errNotServable: the path names a device, FIFO or socket.
var errNotServable = errors.New("not a regular file or directory")

// errorStatus maps a file system error to the status of its page: 404 for
// a missing or refused path, 403 for a permission error, 500 otherwise.
func errorStatus(err error) int {
	if errors.Is(err, errNotServable) {
		return http.StatusNotFound
	}
	if code, ok := errnoStatus(err); ok {
		return code
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// fail answers a file system error with twistd's page for it; the error
// text only reaches the log, and only when it is not a plain 404 or 403.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, rel string, err error) {
	switch errorStatus(err) {
	case http.StatusNotFound:
		h.errorPage(w, r, http.StatusNotFound, notFoundPage)
	case http.StatusForbidden:
		h.errorPage(w, r, http.StatusForbidden, forbiddenPage)
	default:
		h.log.Error("static: cannot serve file", "path", "/"+rel, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, internalErrorPage)
	}
}

// ignoreExtLookup is twistd's siblingExtensionSearch, applied to each
// missing segment of rel in turn: the first of the ignored suffixes that
// names an existing file replaces the segment.
func (h *Handler) ignoreExtLookup(rel string) (string, fileInfo, error) {
	cur := ""
	var fi fileInfo
	for rest := rel; ; {
		seg, next, more := strings.Cut(rest, "/")
		cand := joinRel(cur, seg)
		var err error
		fi, err = h.stat(cand)
		if err != nil {
			if errorStatus(err) != http.StatusNotFound {
				return cand, fi, err
			}
			found := false
			for _, ext := range h.ignoreExt {
				name := seg + ext
				if ext == "*" {
					if name = h.firstWithPrefix(cur, seg+"."); name == "" {
						continue
					}
				}
				if sfi, serr := h.stat(joinRel(cur, name)); serr == nil {
					cand, fi, found = joinRel(cur, name), sfi, true
					break
				}
			}
			if !found {
				return cand, fi, err
			}
		}
		cur = cand
		if !more {
			return cur, fi, nil
		}
		if fi.kind != kindDir {
			return cur, fi, fs.ErrNotExist
		}
		rest = next
	}
}

// firstWithPrefix returns the first name, in byte order, in directory dir
// that starts with prefix and could be served, or "".
func (h *Handler) firstWithPrefix(dir, prefix string) string {
	ents, err := h.readDir(dir)
	if err != nil {
		return ""
	}
	best := ""
	for _, e := range ents {
		if strings.HasPrefix(e.name, prefix) && h.segmentOK(e.name, dir == "") && (best == "" || e.name < best) {
			best = e.name
		}
	}
	return best
}

// serveListing answers with the directory listing of rel.
func (h *Handler) serveListing(w http.ResponseWriter, r *http.Request, rel string) {
	if h.listingMode != ListingTwistd {
		h.serveGotwistdListing(w, r, rel)
		return
	}
	body, err := h.listing(rel, r)
	if err != nil {
		h.fail(w, r, rel, err)
		return
	}
	hdr := w.Header()
	hdr["Content-Type"] = hdrHTML
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
