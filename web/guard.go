package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRequestTarget is the longest request target (path and query, as sent)
// the server answers; a longer one gets 414 URI Too Long. Like nginx's
// default of 8 KiB for a request line, it is far above any real file path
// (PATH_MAX is 4 KiB). Request lines longer than --max-header-bytes are
// refused earlier, by the HTTP/1 engine (431 from net/http).
const maxRequestTarget = 8 << 10

// Error pages in twistd's style.
const (
	uriTooLongPage = "\n<html>\n  <head><title>414 - Request-URI Too Long</title></head>\n  <body>\n" +
		"    <h1>Request-URI Too Long</h1>\n    <p>The requested URL is too long.</p>\n  </body>\n</html>\n"
	fragmentPage = "\n<html>\n  <head><title>400 - Bad Request</title></head>\n  <body>\n" +
		"    <h1>Bad Request</h1>\n    <p>A request target has no '#' fragment.</p>\n  </body>\n</html>\n"
	chunkedBodyPage = "\n<html>\n  <head><title>400 - Bad Request</title></head>\n  <body>\n" +
		"    <h1>Bad Request</h1>\n    <p>Request bodies with Transfer-Encoding are not accepted.</p>\n  </body>\n</html>\n"
)

// guard answers the requests that must not reach the handler and marks the
// connections that must not be reused; it returns false when it has
// answered.
//
//   - A request target over maxRequestTarget: 414.
//   - An HTTP/1 request with a chunked body: 400, and the connection is
//     closed. net/http lets Transfer-Encoding override Content-Length and
//     removes the latter before a handler can see it, so this is also how
//     a request carrying both (the CL.TE and TE.CL smuggling attacks)
//     gets the 400 RFC 9112 section 6.1 allows, and the connection closed
//     that it requires. No handler here takes a request body.
//   - An HTTP/1 request with a Content-Length body: served, body unread,
//     and the connection closed after the response. Otherwise net/http
//     would read (up to 256 KiB of) the body, before or after answering,
//     with no time limit, so a client announcing a body it never sends
//     would pin the connection forever; and bytes a front proxy takes for
//     the next request are never parsed as one.
//   - A raw '#' in the request target: 400 (RFC 9112 section 3.2 has no
//     fragment there; gotwistd's engine refuses it while parsing, net/http
//     and HTTP/2 pass it on).
//
// Its answers carry the Server header server; pages, if not nil, has the
// error pages configured in place of these.
func guard(w http.ResponseWriter, r *http.Request, pages errorPager, server []string) bool {
	// HTTP/2 and HTTP/3 frame bodies, and reset an unread one.
	h1 := r.ProtoMajor == 1
	if h1 && (len(r.TransferEncoding) > 0 || r.ContentLength != 0) {
		dropBody(w)
	}
	if len(r.RequestURI) > maxRequestTarget {
		if h1 {
			w.Header().Set("Connection", "close")
		}
		w.Header()["Server"] = server
		refuse(w, r, http.StatusRequestURITooLong, uriTooLongPage, pages)
		return false
	}
	if strings.IndexByte(r.RequestURI, '#') >= 0 {
		if h1 {
			w.Header().Set("Connection", "close")
		}
		w.Header()["Server"] = server
		refuse(w, r, http.StatusBadRequest, fragmentPage, pages)
		return false
	}
	if h1 && len(r.TransferEncoding) > 0 {
		w.Header()["Server"] = server
		refuse(w, r, http.StatusBadRequest, chunkedBodyPage, pages)
		return false
	}
	return true
}

// dropBody makes the connection of an HTTP/1 request close after the
// response without reading the request's body: net/http reads what is
// left of a body after the handler (to find the next request), and would
// wait for a body that never comes, since it sets no read deadline once the
// headers are in. A deadline in the past ends that read at once.
func dropBody(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Unix(1, 0))
}

// refuse writes an error page with its Content-Length: the one configured
// in pages for code, or page.
func refuse(w http.ResponseWriter, r *http.Request, code int, page string, pages errorPager) {
	if pages != nil && pages.WriteErrorPage(w, r, code) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(page))
	}
}
