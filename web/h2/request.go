package h2

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/internal/httpdate"
	"github.com/gotwistd/gotwistd/web/fast"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2/hpack"
)

// head is what validate found in a new stream's header fields: all a
// fast.Handler needs, without the header map and URL of an *http.Request.
// Its strings are HPACK's, as the fields'.
type head struct {
	method, path, authority string
	// url is path parsed, when validate had to parse it to know it is
	// valid (see plainPath); nil otherwise.
	url *url.URL
	// referer and userAgent are the first values of those fields, or "".
	referer, userAgent   string
	hasReferer, hasAgent bool
	// origin is the first non-empty Origin field's value, or "".
	origin string
	// acceptEncoding is the Accept-Encoding field's value, or "".
	acceptEncoding string
	nae            int // how many Accept-Encoding fields
	// hasRange, hasCond: a Range field, a precondition (If-*).
	hasRange, hasCond bool
}

// validate checks a new stream's header fields by RFC 9113's rules, for
// the fast path and the Handler alike, and fills h. It records a declared
// Content-Length in st. A code below 1000 is a stream error to reset
// with; 1000+N means "answer with status N" (431 for a header list too
// large); 0: a valid request.
func (c *conn) validate(st *stream, fields []hpack.HeaderField, h *head) int {
	var seen [4]bool
	regular := false
	size := 0
	for _, f := range fields {
		size += len(f.Name) + len(f.Value) + 32
		if strings.HasPrefix(f.Name, ":") {
			if regular {
				return errProtocol // a pseudo-header after a regular one
			}
			var i int
			switch f.Name {
			case ":method":
				i, h.method = 0, f.Value
			case ":scheme":
				i = 1
			case ":path":
				i, h.path = 2, f.Value
			case ":authority":
				i, h.authority = 3, f.Value
			default:
				return errProtocol
			}
			if seen[i] {
				return errProtocol
			}
			seen[i] = true
			continue
		}
		regular = true
		if code := h.note(st, f); code != 0 {
			return code
		}
	}
	if h.method == "CONNECT" {
		if !seen[3] || seen[1] || seen[2] {
			return errProtocol
		}
	} else if !seen[0] || !seen[1] || h.path == "" {
		return errProtocol
	}
	if !httpguts.ValidHeaderFieldName(h.method) { // a token
		return errProtocol
	}
	if st.recvEnd && st.declared > 0 {
		return errProtocol // a length declared, no body sent
	}
	if size > c.maxHead {
		return 1000 + http.StatusRequestHeaderFieldsTooLarge
	}
	if h.method != "CONNECT" && !plainPath(h.path) {
		// The Handler's *http.Request needs a URL.
		u, err := url.ParseRequestURI(h.path)
		if err != nil {
			return errProtocol
		}
		h.url = u
	}
	return 0
}

// note checks one regular header field of a new stream (validate's
// rules) and records in h, or in st, what it means; a stream error code,
// or 0.
func (h *head) note(st *stream, f hpack.HeaderField) int {
	if !validName(f.Name) || !httpguts.ValidHeaderFieldValue(f.Value) {
		return errProtocol
	}
	switch f.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return errProtocol // connection-specific (RFC 9113 section 8.2.2)
	case "te":
		if f.Value != "trailers" {
			return errProtocol
		}
	case "content-length":
		n, err := strconv.ParseInt(f.Value, 10, 64)
		if err != nil || n < 0 || st.declared >= 0 && st.declared != n {
			return errProtocol
		}
		st.declared = n
	case "referer":
		if !h.hasReferer {
			h.referer, h.hasReferer = f.Value, true
		}
	case "user-agent":
		if !h.hasAgent {
			h.userAgent, h.hasAgent = f.Value, true
		}
	case "origin":
		if h.origin == "" {
			h.origin = f.Value
		}
	case "range":
		h.hasRange = true
	case "if-range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since":
		h.hasCond = true
	case "accept-encoding":
		if h.nae == 0 {
			h.acceptEncoding = f.Value
		}
		h.nae++
	}
	return 0
}

// plainPath reports whether url.ParseRequestURI surely takes p without
// an error: it starts with "/", and holds no control byte (which
// ParseRequestURI refuses) and no '%' (whose escapes it checks). What is
// not plain is parsed to tell.
func plainPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if b := p[i]; b < 0x20 || b == 0x7f || b == '%' {
			return false
		}
	}
	return true
}

// request builds the *http.Request of a stream validate found valid, for
// the Handler.
func (c *conn) request(st *stream, fields []hpack.HeaderField, hd *head) *http.Request {
	h := make(http.Header, len(fields))
	for _, f := range fields {
		if strings.HasPrefix(f.Name, ":") {
			continue
		}
		key := http.CanonicalHeaderKey(f.Name)
		if key == "Cookie" && len(h[key]) > 0 {
			// Cookie crumbs are one field again (RFC 9113 section 8.2.3).
			h[key][0] += "; " + f.Value
			continue
		}
		h[key] = append(h[key], f.Value)
	}
	authority := hd.authority
	if authority == "" {
		authority = h.Get("Host")
	}
	r := &http.Request{
		Method:     hd.method,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     h,
		Host:       authority,
		RemoteAddr: c.remote,
		RequestURI: hd.path,
		TLS:        c.tls,
	}
	switch {
	case hd.method == "CONNECT":
		r.URL = &url.URL{Host: authority}
		r.RequestURI = authority
	case hd.url != nil:
		r.URL = hd.url
	default:
		// A plain path: this cannot fail (see plainPath).
		u, err := url.ParseRequestURI(hd.path)
		if err != nil {
			u = &url.URL{Path: hd.path}
		}
		r.URL = u
	}
	switch {
	case st.recvEnd:
		r.Body = http.NoBody
	default:
		st.body = &body{c: c, st: st}
		st.body.cond.L = &st.body.mu
		r.Body = st.body
		r.ContentLength = -1 // unless declared, below
	}
	if st.declared >= 0 {
		r.ContentLength = st.declared
	}
	return r
}

// validName: a lower-case token (RFC 9113 section 8.2.1).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return true
}

// serveFast offers the request h describes to the fast.Handler, if it is
// plain; true if it answered. It allocates nothing.
func (c *conn) serveFast(st *stream, h *head) bool {
	fr := &c.fastScratch
	*fr = fast.Request{
		Method: h.method, Target: h.path, Proto: "HTTP/2.0", RemoteAddr: c.remote,
		AcceptEncoding: h.acceptEncoding, AcceptEncodingFields: h.nae,
		Origin: h.origin, Referer: h.referer, UserAgent: h.userAgent,
		Body: !st.recvEnd, Range: h.hasRange, Precondition: h.hasCond,
	}
	if !fr.Plain() {
		return false
	}
	now := c.clock()
	fr.Now = now.UnixNano()
	if w, ok := c.srv.Fast.(fast.Watcher); ok && w.WatchFD() >= 0 {
		// Once per read: the changes made before these requests were
		// sent are in the watch's queue by now.
		if !c.refreshed {
			w.Refresh()
			c.refreshed = true
		}
		fr.Watched = true
	}
	resp, ok := c.srv.Fast.ServeFast(fr)
	if !ok {
		return false
	}
	code, header, data := resp.Status, resp.Header, resp.Body
	if code == 0 {
		code = http.StatusOK
	}
	date := httpdate.For(now).Value()
	end := h.method == "HEAD" || len(data) == 0 || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.reset {
		return true
	}
	if block := c.cachedBlockLocked(code, header, date); block != nil {
		c.appendBlockLocked(st.id, block, end)
	} else {
		if c.encodeLocked(code, c.fastFieldsOf(header, date)) {
			c.keepBlockLocked(code, header, date)
		}
		c.appendBlockLocked(st.id, c.encBuf.Bytes(), end)
	}
	if end {
		c.finishLocked(st)
		return true
	}
	c.queueLocked(st, data, true)
	return true
}

var crlf, colonSpace = []byte("\r\n"), []byte(": ")

// fastFieldsOf is a fast response's header lines and Date as HPACK
// fields. The header lines never change (see fast.Handler), so the
// fields view them: HPACK's dynamic table may keep them.
func (c *conn) fastFieldsOf(header []byte, date string) []hpack.HeaderField {
	fields := c.fastFields[:0]
	for len(header) > 0 {
		i := bytes.Index(header, crlf)
		if i < 0 {
			break
		}
		line := header[:i]
		header = header[i+2:]
		j := bytes.Index(line, colonSpace)
		if j < 0 {
			continue
		}
		fields = append(fields, hpack.HeaderField{Name: c.lowerName(line[:j]), Value: fast.String(line[j+2:])})
	}
	fields = append(fields, hpack.HeaderField{Name: "date", Value: date})
	c.fastFields = fields
	return fields
}

// lowerName is a response header name from a fast.Handler as HTTP/2 sends
// it: lower-case. The names gotwistd's static handler sends are
// constants; others are lowered once per connection (up to
// maxLowerNames of them).
func (c *conn) lowerName(k []byte) string {
	switch string(k) {
	case "Accept-Ranges":
		return "accept-ranges"
	case "Content-Encoding":
		return "content-encoding"
	case "Content-Length":
		return "content-length"
	case "Content-Type":
		return "content-type"
	case "Etag":
		return "etag"
	case "Last-Modified":
		return "last-modified"
	case "Server":
		return "server"
	case "Vary":
		return "vary"
	}
	if s, ok := c.lowerNames[string(k)]; ok {
		return s
	}
	s := strings.ToLower(string(k))
	if len(c.lowerNames) < maxLowerNames {
		if c.lowerNames == nil {
			c.lowerNames = make(map[string]string)
		}
		c.lowerNames[string(k)] = s
	}
	return s
}

// maxLowerNames bounds a connection's cache of lowered header names.
const maxLowerNames = 32

// clock is the time for the requests of one read: the clock is read once
// for them (the fast path's cache checks and Date fields), not once each.
func (c *conn) clock() time.Time {
	if c.now.IsZero() {
		c.now = time.Now()
	}
	return c.now
}
