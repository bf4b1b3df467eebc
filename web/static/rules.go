package static

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
)

// CacheRule gives the Cache-Control header of the files a glob matches
// (gotwistd's --cache-control GLOB=VALUE).
//
// A Glob without "/" is matched against the file's name (its last path
// segment): "*.css" matches /style.css and /a/b/style.css. A Glob with "/"
// is matched against the whole URL path of the file, which starts with
// "/": "/assets/*" matches /assets/app.js but not /assets/img/logo.png,
// and "/assets/**" matches both ("**" as a whole segment stands for any
// number of segments). Within a segment the syntax is path.Match's: "*",
// "?", "[a-z]", "\\" to escape. A directory's index file is matched by
// its own name and path (/docs/index.html), a precompressed sibling by the
// name of the file it stands for.
//
// An empty Value sends no Cache-Control at all for the files it matches
// (also none from --add-header), which lets an early rule exempt files
// from a later, broader one.
type CacheRule struct {
	Glob  string
	Value string
}

// ErrBadRule is wrapped by the errors of ParseCacheRule and ParseCORS.
var ErrBadRule = errors.New("bad rule")

// ParseCacheRule parses GLOB=VALUE: the glob is everything before the
// first "=", so a value may hold "=" (max-age=3600) but a glob may not.
func ParseCacheRule(s string) (CacheRule, error) {
	glob, value, ok := strings.Cut(s, "=")
	if !ok {
		return CacheRule{}, fmt.Errorf("%w: %q has no \"=\": write GLOB=VALUE, such as *.css=max-age=31536000,immutable", ErrBadRule, s)
	}
	r := CacheRule{Glob: glob, Value: strings.TrimSpace(value)}
	if err := r.check(); err != nil {
		return CacheRule{}, fmt.Errorf("%w: %q: %w", ErrBadRule, s, err)
	}
	return r, nil
}

// String is the rule as ParseCacheRule reads it.
func (r CacheRule) String() string { return r.Glob + "=" + r.Value }

func (r CacheRule) check() error {
	if r.Glob == "" {
		return errors.New("the glob is empty")
	}
	if strings.ContainsAny(r.Glob, "\x00\r\n") {
		return errors.New("the glob holds a control character")
	}
	if strings.Contains(r.Glob, "/") && r.Glob[0] != '/' {
		return errors.New("a glob with \"/\" is a URL path and must start with \"/\"")
	}
	for _, seg := range strings.Split(r.Glob, "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("the glob's segment %q is malformed (path.Match syntax)", seg)
		}
	}
	for i := 0; i < len(r.Value); i++ {
		if c := r.Value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return errors.New("the value holds a control character")
		}
	}
	if r.Value != strings.TrimSpace(r.Value) {
		return errors.New("the value has surrounding space")
	}
	return nil
}

// match reports whether the rule matches the file at rel (relative to
// Root, "/"-separated).
func (r CacheRule) match(rel string) bool {
	if r.Glob[0] != '/' {
		ok, _ := path.Match(r.Glob, baseName(rel))
		return ok
	}
	return matchSegments(strings.Split(r.Glob[1:], "/"), rel)
}

// matchSegments matches glob segments against the segments of p, "**"
// standing for zero or more segments.
func matchSegments(globs []string, p string) bool {
	for len(globs) > 0 {
		g := globs[0]
		if g == "**" {
			rest := globs[1:]
			if len(rest) == 0 {
				return true
			}
			for {
				if matchSegments(rest, p) {
					return true
				}
				i := strings.IndexByte(p, '/')
				if i < 0 {
					return false
				}
				p = p[i+1:]
			}
		}
		seg, more, hasMore := strings.Cut(p, "/")
		if ok, _ := path.Match(g, seg); !ok {
			return false
		}
		globs = globs[1:]
		if !hasMore {
			return len(globs) == 0 || len(globs) == 1 && globs[0] == "**"
		}
		p = more
	}
	return false
}

// noCacheControl is the hdrCC of an entry a rule with an empty value
// matched: no Cache-Control header at all.
var noCacheControl = []string{}

// cacheControl returns the Cache-Control values of the file at rel: nil
// when no rule matches (the --add-header value, if any, stays), or the
// first matching rule's value.
func (h *Handler) cacheControl(rel string) []string {
	for i, r := range h.cacheRules {
		if r.match(rel) {
			return h.cacheValues[i]
		}
	}
	return nil
}

// setCacheControl puts an entry's Cache-Control into hdr.
func setCacheControl(hdr http.Header, cc []string) {
	switch {
	case cc == nil:
	case len(cc) == 0:
		delete(hdr, "Cache-Control")
	default:
		hdr["Cache-Control"] = cc
	}
}

// resetCacheControl puts back the Cache-Control every response has
// (--add-header's, or none) after a rule's value was set for a file whose
// response turned out to be an error.
func (h *Handler) resetCacheControl(hdr http.Header) {
	if h.extraCC != nil {
		hdr["Cache-Control"] = h.extraCC
	} else {
		delete(hdr, "Cache-Control")
	}
}

// ParseCORS parses the origins of --cors: "*" alone, or a comma-separated
// list of origins such as https://app.example.com or
// http://localhost:3000 (scheme, host and an optional port, nothing
// else). Repeated origins are kept once.
func ParseCORS(s string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if err := checkOrigin(o); err != nil {
			return nil, fmt.Errorf("%w: --cors origin %q: %w", ErrBadRule, o, err)
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if len(out) > 1 && slices.Contains(out, "*") {
		return nil, fmt.Errorf("%w: --cors %q: \"*\" already allows every origin; give it alone", ErrBadRule, s)
	}
	return out, nil
}

func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	if o == "" {
		return errors.New("empty origin: give * or an origin such as https://example.com")
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return errors.New("an origin is scheme://host[:port] with no path, such as https://example.com")
	}
	if u.Scheme != strings.ToLower(u.Scheme) || u.Host != strings.ToLower(u.Host) {
		return errors.New("browsers send origins in lower case; write it so")
	}
	for i := 0; i < len(o); i++ {
		if c := o[i]; c <= ' ' || c >= 0x7f {
			return errors.New("an origin holds no space, control or non-ASCII character (use the xn-- form of a name)")
		}
	}
	return nil
}

// CORS headers.
var (
	hdrAllowMethods  = []string{"GET, HEAD"}
	hdrCORSMaxAge    = []string{"86400"}
	hdrAllowCORS     = []string{"OPTIONS, HEAD, GET"}
	hdrVaryPreflight = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
)

// CORSByOrigin reports whether responses depend on the request's Origin
// header (--cors with a list of origins): a cached response can then only
// answer requests without one.
func (h *Handler) CORSByOrigin() bool { return h.corsList != nil }

// corsOrigin sets Access-Control-Allow-Origin for a request from an
// origin of the list. ("*" is among the headers every response gets.)
func (h *Handler) corsOrigin(hdr http.Header, r *http.Request) {
	if o := r.Header["Origin"]; len(o) == 1 && slices.Contains(h.corsList, o[0]) {
		hdr["Access-Control-Allow-Origin"] = o
	}
}

// options answers OPTIONS when CORS is on: a preflight request (Origin
// and Access-Control-Request-Method) gets 204 with what the browser asks
// for, when the origin is allowed and the method is GET or HEAD, and 204
// without Access-Control-* headers (a refusal, to a browser) otherwise;
// any other OPTIONS gets 204 with Allow.
func (h *Handler) options(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	origin := r.Header["Origin"]
	method := header(r.Header, "Access-Control-Request-Method")
	if len(origin) == 0 || method == "" {
		hdr["Allow"] = hdrAllowCORS
		hdr["Content-Length"] = hdrZero
		w.WriteHeader(http.StatusNoContent)
		return
	}
	delete(hdr, "Access-Control-Allow-Origin")
	hdr["Vary"] = hdrVaryPreflight
	allowed := h.corsList == nil || (len(origin) == 1 && slices.Contains(h.corsList, origin[0]))
	if allowed && (method == http.MethodGet || method == http.MethodHead) {
		if h.corsList == nil {
			hdr["Access-Control-Allow-Origin"] = []string{"*"}
		} else {
			hdr["Access-Control-Allow-Origin"] = origin
		}
		hdr["Access-Control-Allow-Methods"] = hdrAllowMethods
		if rh := header(r.Header, "Access-Control-Request-Headers"); rh != "" && tokenList(rh) {
			hdr["Access-Control-Allow-Headers"] = []string{rh}
		}
		hdr["Access-Control-Max-Age"] = hdrCORSMaxAge
	}
	hdr["Content-Length"] = hdrZero
	w.WriteHeader(http.StatusNoContent)
}

// tokenList reports whether s is a comma-separated list of header names
// (what Access-Control-Request-Headers holds), so it can be echoed.
func tokenList(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for _, t := range strings.Split(s, ",") {
		if !validHeaderName(strings.TrimSpace(t)) {
			return false
		}
	}
	return true
}

// initRules checks and installs Config.CacheControl and Config.CORS; the
// headers every response gets (h.extra) are known by then.
func (h *Handler) initRules(cfg Config) error {
	for _, r := range cfg.CacheControl {
		if err := r.check(); err != nil {
			return fmt.Errorf("%w: cache rule %q: %w", ErrBadConfig, r.String(), err)
		}
		v := noCacheControl
		if r.Value != "" {
			v = []string{r.Value}
		}
		h.cacheRules = append(h.cacheRules, r)
		h.cacheValues = append(h.cacheValues, v)
	}
	if i := h.extraIndex("Cache-Control"); i >= 0 {
		h.extraCC = slices.Clip(h.extra[i].vals)
	}
	if len(cfg.CORS) == 0 {
		return nil
	}
	for _, o := range cfg.CORS {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("%w: CORS origin %q: %w", ErrBadConfig, o, err)
		}
	}
	if h.extraIndex("Access-Control-Allow-Origin") >= 0 {
		return fmt.Errorf("%w: an Access-Control-Allow-Origin header and CORS origins contradict each other: give one of them", ErrBadConfig)
	}
	h.cors = true
	if len(cfg.CORS) == 1 && cfg.CORS[0] == "*" {
		h.extra = append(h.extra, headerValues{key: "Access-Control-Allow-Origin", vals: []string{"*"}})
		return nil
	}
	if slices.Contains(cfg.CORS, "*") {
		return fmt.Errorf("%w: CORS origin \"*\" already allows every origin; give it alone", ErrBadConfig)
	}
	h.corsList = slices.Clone(cfg.CORS)
	if i := h.extraIndex("Vary"); i >= 0 {
		h.extra[i].vals = append(h.extra[i].vals, "Origin")
	} else {
		h.extra = append(h.extra, headerValues{key: "Vary", vals: []string{"Origin"}})
	}
	return nil
}

func (h *Handler) extraIndex(key string) int {
	for i, x := range h.extra {
		if x.key == key {
			return i
		}
	}
	return -1
}
