// Package fast is the seam between gotwistd's HTTP engines (web/h1 for
// HTTP/1.x, plain and TLS; web/h2 for HTTP/2) and the file side that
// answers from memory (the web plugin's site over static.Handler's cache).
//
// An engine parses a request its own way, fills one Request per
// connection with views of what it read (strings over its read buffer or
// HPACK's, valid only during the call), asks Request.Plain, and offers a
// plain request to its Handler. The Handler answers with a Response the
// engine frames for its protocol (status line and Date for HTTP/1.x,
// HPACK fields for HTTP/2), or declines, and the engine then builds an
// *http.Request for its http.Handler. Nothing here allocates: the
// Request lives in the connection, the Response is returned by value.
//
// What makes a request plain is decided here, once, for both engines:
// see Request.Plain.
package fast

import "unsafe"

// Request is what a Handler is told of a request. Its strings are views
// of the engine's buffers: they are valid only during the call that
// receives the Request, and must not be kept (copy what must outlive
// it).
type Request struct {
	// Method, Target and Proto are the request line's words as sent
	// ("GET", "/index.html?x=1", "HTTP/1.1"); for HTTP/2, :method, :path
	// and "HTTP/2.0".
	Method, Target, Proto string
	// RemoteAddr is the client's address, as net/http's
	// Request.RemoteAddr ("127.0.0.1:40000").
	RemoteAddr string
	// AcceptEncoding is the first Accept-Encoding field's value, or "".
	AcceptEncoding string
	// AcceptEncodingFields is how many Accept-Encoding fields came: 0
	// for none. More than one is not plain (the full path merges them).
	AcceptEncodingFields int
	// Origin is the Origin field's value, or "" (CORS).
	Origin string
	// Referer and UserAgent are those fields' first values, or "".
	Referer, UserAgent string
	// Watched says that the Handler is a Watcher whose Refresh the
	// engine called after this request arrived, so it may trust what its
	// watch told it instead of checking.
	Watched bool
	// Now is when the engine read the request (Unix nanoseconds), the
	// clock reading its Date field comes from too; 0: the Handler reads
	// the clock itself if it needs the time.
	Now int64

	// The facts that decide Plain, as the engine found them.

	// Body: the request has a body, or may have one (a Content-Length
	// above 0, chunked, an HTTP/2 stream its headers did not end).
	Body bool
	// Range: a Range field.
	Range bool
	// Precondition: an If-Match, If-None-Match, If-Modified-Since,
	// If-Unmodified-Since or If-Range field.
	Precondition bool
	// Upgrade: an Upgrade field (HTTP/1.1).
	Upgrade bool
	// Expect: the client waits for 100 Continue (HTTP/1.1's Expect:
	// 100-continue).
	Expect bool
}

// Plain reports whether r is a request a ready-made response answers
// whole: a GET or HEAD of an origin-form target ("/path?query"), without
// a body, a Range, a precondition, an Upgrade, an Expect, or more than
// one Accept-Encoding field. The engines offer a Handler nothing else.
func (r *Request) Plain() bool {
	return !r.Body && !r.Range && !r.Precondition && !r.Upgrade && !r.Expect && r.AcceptEncodingFields <= 1 &&
		len(r.Target) > 0 && r.Target[0] == '/' && (r.Method == "GET" || r.Method == "HEAD")
}

// IsHEAD reports whether the method is HEAD.
func (r *Request) IsHEAD() bool { return r.Method == "HEAD" }

// Path is the Target without its query.
func (r *Request) Path() string {
	for i := 0; i < len(r.Target); i++ {
		if r.Target[i] == '?' {
			return r.Target[:i]
		}
	}
	return r.Target
}

// Response is a Handler's answer: the engine sends the status, Header,
// a Date field (and, for HTTP/1.x, a Connection field when the
// connection's fate needs one), and Body (not for HEAD, nor for a status
// without a body).
type Response struct {
	// Status is the status code; 0 means 200.
	Status int
	// Header holds the response's header lines, "Name: value\r\n" each,
	// Content-Length among them; no Date or Connection.
	Header []byte
	// Body is the whole body; nil for none.
	Body []byte
}

// Handler answers some requests from ready-made responses, without the
// cost of an *http.Request. An engine offers it every Plain request
// first; what it declines goes to the engine's http.Handler.
type Handler interface {
	// ServeFast answers r, or returns false to leave it to the
	// http.Handler. It is called from connections' goroutines and from
	// event loops, concurrently, and must not block. r is valid only
	// during the call. The Response's Header and Body must never change
	// afterwards (a cached file's): the engine may write Body later, and
	// HTTP/2's HPACK table may keep views of Header.
	ServeFast(r *Request) (Response, bool)
}

// A Watcher is a Handler whose ready-made responses depend on things it
// learns of through a file descriptor (gotwistd's static handler: an
// inotify instance reporting changes to cached files). An engine keeps
// WatchFD in its epoll sets (HTTP/1.x event loops) or calls Refresh once
// per read of a connection (HTTP/2), before serving the requests that
// arrived with or after that, and marks those requests Watched.
type Watcher interface {
	// WatchFD is the descriptor, or -1 for none.
	WatchFD() int
	// Refresh reads what the descriptor has to say, without waiting.
	Refresh()
}

// String views b as a string without copying: the string is valid only
// while b's contents do not change.
func String(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
