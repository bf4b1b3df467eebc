package h1

import (
	"time"

	"github.com/gotwistd/gotwistd/web/fast"
)

// field is one header field of a request head, name and value as sent
// (the value without surrounding whitespace).
type field struct {
	name, value []byte
}

// Well-known header fields, found while parsing: those that frame the
// request (hdrHost to hdrExpect, see noteFraming), then those the fast
// path looks at (see noteView).
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

	fields []field
	inline [16]field // backing array of fields for the common case
	host   int       // index of Host in fields, or -1
	seen   uint8     // seenReferer...: the fields whose first value fast holds

	contentLength int64 // -1: none
	chunked       bool
	expect        bool   // Expect: 100-continue
	close         bool   // Connection: close, or HTTP/1.0 without keep-alive
	keepAlive10   bool   // HTTP/1.0 with Connection: keep-alive
	head          []byte // the whole head, blank line included

	// fast is what a fast.Handler sees: parse fills the views of the
	// fields it looks at (and Range, Precondition, Upgrade), fastRequest
	// the rest.
	fast fast.Request
}

// Bits of Request.seen.
const (
	seenReferer = 1 << iota
	seenAgent
	seenOrigin
)

func (r *Request) reset() {
	// Field by field: assigning a whole Request would clear inline too.
	r.Method, r.Target, r.Proto = nil, nil, nil
	r.Major, r.Minor = 0, 0
	r.fields = r.inline[:0]
	r.host, r.seen = -1, 0
	r.contentLength = -1
	r.chunked, r.expect, r.close, r.keepAlive10 = false, false, false, false
	r.head = nil
	r.fast = fast.Request{}
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

// Referer is the first Referer field's value, or "".
func (r *Request) Referer() string { return r.fast.Referer }

// UserAgent is the first User-Agent field's value, or "".
func (r *Request) UserAgent() string { return r.fast.UserAgent }

// AcceptEncoding is the first Accept-Encoding field's value, and whether
// the request has one.
func (r *Request) AcceptEncoding() (string, bool) {
	return r.fast.AcceptEncoding, r.fast.AcceptEncodingFields > 0
}

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

// fastRequest completes r's fast.Request (parse filled the fields' views)
// for a fast.Handler, or the Refused hook, to see: remote is the client's
// address, now when r was read (its Date's time), watched says that the
// event loop serving r refreshed the handler's Watcher since r arrived.
func (r *Request) fastRequest(remote string, now time.Time, watched bool) *fast.Request {
	f := &r.fast
	f.Method, f.Target, f.Proto = fast.String(r.Method), fast.String(r.Target), fast.String(r.Proto)
	f.RemoteAddr, f.Watched, f.Now = remote, watched, 0
	if !now.IsZero() {
		f.Now = now.UnixNano()
	}
	f.Body, f.Expect = r.contentLength > 0 || r.chunked, r.expect
	return f
}
