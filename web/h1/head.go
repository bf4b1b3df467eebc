package h1

import "github.com/gotwistd/gotwistd/web/fast"

// field is one header field of a request head, name and value as sent
// (the value without surrounding whitespace).
type field struct {
	name, value []byte
}

// Well-known header fields, found while parsing.
const (
	hdrOther = iota
	hdrHost
	hdrContentLength
	hdrTransferEncoding
	hdrConnection
	hdrExpect
	hdrRange
	hdrIfRange
	hdrConditional // If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since
	hdrAcceptEncoding
	hdrReferer
	hdrUserAgent
	hdrUpgrade
	hdrOrigin
)

// Request is the head of one HTTP/1.x request, as the engine parsed it. Its
// byte slices point into the connection's read buffer: they are valid only
// until the connection reads again, and must not be kept or changed. What
// a fast.Handler sees of it is its fast.Request (see fastRequest).
type Request struct {
	// Method, Target and Proto are the three words of the request line,
	// e.g. "GET", "/index.html?x=1", "HTTP/1.1".
	Method, Target, Proto []byte
	// Major and Minor are the HTTP version: 1.0 or 1.1.
	Major, Minor int
	// RemoteAddr is the client's address, as net/http's
	// Request.RemoteAddr ("127.0.0.1:40000").
	RemoteAddr string

	fields  []field
	inline  [16]field // backing array of fields for the common case
	host    int       // index of Host in fields, or -1
	referer int
	agent   int
	ae      int // Accept-Encoding (the first)
	nae     int // how many Accept-Encoding fields
	origin  int

	contentLength int64 // -1: none
	chunked       bool
	hasRange      bool
	hasCond       bool // an If-* precondition or If-Range
	upgrade       bool
	expect        bool   // Expect: 100-continue
	close         bool   // Connection: close, or HTTP/1.0 without keep-alive
	keepAlive10   bool   // HTTP/1.0 with Connection: keep-alive
	head          []byte // the whole head, blank line included

	fast fast.Request // what the fast.Handler sees (see fastRequest)
}

func (r *Request) reset() {
	// Field by field: assigning a whole Request would clear inline too.
	r.Method, r.Target, r.Proto = nil, nil, nil
	r.Major, r.Minor = 0, 0
	r.fields = r.inline[:0]
	r.host, r.referer, r.agent, r.ae, r.origin = -1, -1, -1, -1, -1
	r.nae = 0
	r.contentLength = -1
	r.chunked, r.hasRange, r.hasCond, r.upgrade, r.expect, r.close, r.keepAlive10 = false, false, false, false, false, false, false
	r.head = nil
}

// Header returns the value of the first field named name (compared without
// regard to case), or nil.
func (r *Request) Header(name string) []byte {
	for i := range r.fields {
		if equalFold(r.fields[i].name, name) {
			return r.fields[i].value
		}
	}
	return nil
}

// Referer is the Referer header's value, or nil.
func (r *Request) Referer() []byte { return r.value(r.referer) }

// UserAgent is the User-Agent header's value, or nil.
func (r *Request) UserAgent() []byte { return r.value(r.agent) }

// AcceptEncoding is the Accept-Encoding header's value, and whether the
// request has one.
func (r *Request) AcceptEncoding() ([]byte, bool) { return r.value(r.ae), r.ae >= 0 }

// Host is the Host header's value.
func (r *Request) Host() []byte { return r.value(r.host) }

func (r *Request) value(i int) []byte {
	if i < 0 {
		return nil
	}
	return r.fields[i].value
}

// IsHEAD reports whether the method is HEAD.
func (r *Request) IsHEAD() bool { return isHEAD(r.Method) }

func isHEAD(m []byte) bool { return len(m) == 4 && string(m) == "HEAD" }

// Field calls f for each header field in order, until f returns false.
func (r *Request) Field(f func(name, value []byte) bool) {
	for _, x := range r.fields {
		if !f(x.name, x.value) {
			return
		}
	}
}

// fastRequest fills r's fast.Request with views of r, for a fast.Handler
// (or the Refused hook) to see: remote is the client's address, watched
// says that the event loop serving r refreshed the handler's Watcher
// since r arrived.
func (r *Request) fastRequest(remote string, watched bool) *fast.Request {
	f := &r.fast
	*f = fast.Request{
		Method:               fast.String(r.Method),
		Target:               fast.String(r.Target),
		Proto:                fast.String(r.Proto),
		RemoteAddr:           remote,
		AcceptEncoding:       fast.String(r.value(r.ae)),
		AcceptEncodingFields: r.nae,
		Origin:               fast.String(r.value(r.origin)),
		Referer:              fast.String(r.value(r.referer)),
		UserAgent:            fast.String(r.value(r.agent)),
		Watched:              watched,
		Body:                 r.contentLength > 0 || r.chunked,
		Range:                r.hasRange,
		Precondition:         r.hasCond,
		Upgrade:              r.upgrade,
		Expect:               r.expect,
	}
	return f
}

// offer shows fr to h if it is plain (fast.Request.Plain: the one rule);
// h's answer, or false.
func offer(h fast.Handler, fr *fast.Request) (fast.Response, bool) {
	if !fr.Plain() {
		return fast.Response{}, false
	}
	return h.ServeFast(fr)
}
