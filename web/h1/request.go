package h1

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"unsafe"
)

// methods interns the common methods, as net/http does.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"}

func methodString(m []byte) string {
	for _, s := range methods {
		if string(m) == s {
			return s
		}
	}
	return string(m)
}

var (
	proto10 = "HTTP/1.0"
	proto11 = "HTTP/1.1"
)

// newHTTPRequest builds the *http.Request a Handler gets for r, as
// net/http's server would: the URL parsed from the target, the header
// with canonical keys and without Host, Host from the URL or the header.
// Its strings share one copy of the head.
func (c *conn) newHTTPRequest(r *Request, head []byte) (*http.Request, *parseError) {
	// One allocation for every string of the request: the head, from
	// which method, target, names and values are cut.
	s := string(head)
	sub := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(head))))
		return s[off : off+len(b)]
	}
	target := sub(r.Target)
	req := &http.Request{
		Method:     methodString(r.Method),
		RequestURI: target,
		Proto:      proto11,
		ProtoMajor: 1,
		ProtoMinor: r.Minor,
		RemoteAddr: c.remote,
		Close:      r.close,
		TLS:        c.tlsState,
	}
	switch {
	case r.Minor == 0:
		req.Proto = proto10
	case r.Minor > 1:
		req.Proto = sub(r.Proto) // "HTTP/1.2", as net/http has it
	}
	raw := target
	justAuthority := req.Method == "CONNECT" && !strings.HasPrefix(raw, "/")
	if justAuthority {
		raw = "http://" + raw
	}
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return nil, badRequest("malformed request target")
	}
	if justAuthority {
		u.Scheme = ""
	}
	req.URL = u
	h := make(http.Header, len(r.fields))
	for _, f := range r.fields {
		key := textproto.CanonicalMIMEHeaderKey(sub(f.name))
		h[key] = append(h[key], sub(f.value))
	}
	req.Header = h
	req.Host = u.Host
	if req.Host == "" && r.host >= 0 {
		req.Host = sub(r.fields[r.host].value)
	}
	delete(h, "Host")
	// As net/http: "Pragma: no-cache" stands for "Cache-Control: no-cache".
	if p, ok := h["Pragma"]; ok && len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	switch {
	case r.chunked:
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		delete(h, "Transfer-Encoding") // as net/http: it is in TransferEncoding
	case r.contentLength > 0:
		req.ContentLength = r.contentLength
	}
	return req.WithContext(c.context()), nil
}
