package static

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// twistd's error pages (twisted.web.resource.ErrorPage), byte for byte.
const (
	notFoundPage = "\n<html>\n  <head><title>404 - No Such Resource</title></head>\n  <body>\n" +
		"    <h1>No Such Resource</h1>\n    <p>File not found.</p>\n  </body>\n</html>\n"
	forbiddenPage = "\n<html>\n  <head><title>403 - Forbidden Resource</title></head>\n  <body>\n" +
		"    <h1>Forbidden Resource</h1>\n    <p>Sorry, resource is forbidden.</p>\n  </body>\n</html>\n"
	// internalErrorPage is what twistd shows for an unhandled error; the
	// error itself only goes to the log.
	internalErrorPage = "<html><head><title>Processing Failed</title></head>" +
		"<body><b>Processing Failed</b></body></html>"
	preconditionPage = "\n<html>\n  <head><title>412 - Precondition Failed</title></head>\n  <body>\n" +
		"    <h1>Precondition Failed</h1>\n    <p>A condition of the request does not hold.</p>\n  </body>\n</html>\n"
)

var (
	hdrHTML         = []string{"text/html; charset=utf-8"}
	hdrAcceptRanges = []string{"bytes"}
	hdrVaryAE       = []string{"Accept-Encoding"}
	hdrZero         = []string{"0"}
	hdrAllow        = []string{"HEAD, GET"}
)

// writePage writes a small HTML page with its Content-Length; HEAD gets the
// headers only.
func writePage(w http.ResponseWriter, r *http.Request, code int, body string) {
	h := w.Header()
	h["Content-Type"] = hdrHTML
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// methodNotAllowed is twistd's 405 page, with the request URI and method
// HTML-escaped.
func (h *Handler) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	allow := "HEAD, GET"
	w.Header()["Allow"] = hdrAllow
	if h.cors {
		allow = "OPTIONS, HEAD, GET"
		w.Header()["Allow"] = hdrAllowCORS
	}
	body := "\n<html>\n  <head><title>405 - Method Not Allowed</title></head>\n  <body>\n" +
		"    <h1>Method Not Allowed</h1>\n    <p>Your browser approached me (at " + escapeHTML(requestURI(r)) +
		") with the method \"" + escapeHTML(r.Method) + "\".  I only allow the methods " + allow + " here.</p>\n" +
		"  </body>\n</html>\n"
	h.errorPage(w, r, http.StatusMethodNotAllowed, body)
}

// redirect answers 302 to url with twistd's redirectTo page.
func redirect(w http.ResponseWriter, r *http.Request, url string) {
	w.Header()["Location"] = []string{url}
	e := escapeHTML(url)
	body := "\n<html>\n    <head>\n        <meta http-equiv=\"refresh\" content=\"0;URL=" + e +
		"\">\n    </head>\n    <body bgcolor=\"#FFFFFF\" text=\"#000000\">\n    <a href=\"" + e +
		"\">click here</a>\n    </body>\n</html>\n"
	writePage(w, r, http.StatusFound, body)
}

// requestURI is the request target as twistd's request.uri sees it.
func requestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// escapeHTML is Python's html.escape(s, quote=True).
func escapeHTML(s string) string {
	if !strings.ContainsAny(s, "&<>\"'") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#x27;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// quoteURL is Python's urllib.parse.quote(s, safe="/"): every byte but
// ASCII letters, digits, "_.-~" and "/" is percent-encoded in upper case.
func quoteURL(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !urlSafe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if urlSafe(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func urlSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '~' || c == '/'
}

// unquoteURL is Python's urllib.parse.unquote: valid %XX escapes are
// decoded, anything else is kept, and invalid UTF-8 becomes U+FFFD.
func unquoteURL(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
