package web

import (
	"bytes"
	"net/http"
	"strings"
	"unsafe"

	"github.com/gotwistd/gotwistd/web/h1"
	"github.com/gotwistd/gotwistd/web/h2"
)

// enginePage gives gotwistd's engine the error pages the site has in
// twistd's style (414); the engine's own text otherwise.
func enginePage(code int) (contentType, body string) {
	if code == http.StatusRequestURITooLong {
		return "text/html; charset=utf-8", uriTooLongPage
	}
	return "", ""
}

// ServeFast answers, for gotwistd's HTTP/1.1 engine, a plain GET or HEAD
// of a file the static handler holds in memory, with the response
// ServeHTTP would give, and logs it; it declines everything else (see
// static.Handler.Cached).
func (s *site) ServeFast(r *h1.Request, resp *h1.FastResponse) bool {
	if s.static == nil || !r.Simple() {
		return false
	}
	if s.static.CORSByOrigin() && len(r.Header("Origin")) > 0 {
		return false // the response names the origin: the full path decides
	}
	path := r.Target
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if s.ops != nil && (bytes.IndexByte(path, '%') >= 0 || s.ops.match(bytesString(path))) {
		return false // --health or --metrics may answer: the full path decides
	}
	ae, _ := r.AcceptEncoding()
	header, body, ok := s.static.CachedAccepting(bytesString(path), bytesString(ae), r.Watched)
	if !ok {
		return false
	}
	if s.metrics != nil {
		s.metrics.cached(protoHTTP1, fastSize(r.IsHEAD(), len(body)))
	}
	resp.Header, resp.Body = header, body
	if s.access != nil {
		s.logCached(r.RemoteAddr, bytesString(r.Method), bytesString(r.Target), bytesString(r.Proto),
			bytesString(r.Referer()), bytesString(r.UserAgent()), r.IsHEAD(), len(body))
	}
	return true
}

// ServeFastH2 answers, for gotwistd's HTTP/2 engine, what ServeFast
// answers for HTTP/1.1.
func (s *site) ServeFastH2(r *h2.Request) (header, body []byte, ok bool) {
	if s.static == nil || !r.Simple || r.Origin != "" && s.static.CORSByOrigin() {
		return nil, nil, false
	}
	path := r.Path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if s.ops != nil && (strings.IndexByte(path, '%') >= 0 || s.ops.match(path)) {
		return nil, nil, false
	}
	header, body, ok = s.static.CachedAccepting(path, r.AcceptEncoding, r.Watched)
	if !ok {
		return nil, nil, false
	}
	if s.metrics != nil {
		s.metrics.cached(protoHTTP2, fastSize(r.IsHEAD(), len(body)))
	}
	if s.access != nil {
		s.logCached(r.RemoteAddr, r.Method, r.Path, "HTTP/2.0", r.Referer, r.UserAgent, r.IsHEAD(), len(body))
	}
	return header, body, true
}

// logCached logs the 200 of a cached file a fast path answered, as the
// handler's responses are logged: size is the body's, 0 for HEAD.
func (s *site) logCached(remote, method, target, proto, referer, agent string, head bool, size int) {
	if head {
		size = 0
	}
	s.access.logFields(s.logIP(remote), method, target, proto, orDash(referer), orDash(agent), http.StatusOK, int64(size))
}

// logIP is the client address as the access log writes it: "-" for
// UNIX-socket clients.
func (s *site) logIP(remote string) string {
	if s.unix {
		return "-"
	}
	return clientIP(remote)
}

// fastSize is the body size a fast path sent: 0 for HEAD.
func fastSize(head bool, n int) int {
	if head {
		return 0
	}
	return n
}

// orDash is a header value for the access log: "-" when absent or empty.
func orDash(v string) string {
	if v == "" {
		return "-"
	}
	return v
}

// bytesString views b as a string without copying; the string must not
// outlive b's contents.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// refused logs a request gotwistd's engine refused (431, 414, 400...)
// once its request line was understood, as the handler's refusals are.
func (s *site) refused(r *h1.Request, code, size int) {
	if s.metrics != nil {
		s.metrics.request(protoHTTP1, code, int64(size))
	}
	if s.access == nil {
		return
	}
	s.access.logFields(s.logIP(r.RemoteAddr), bytesString(r.Method), bytesString(r.Target), bytesString(r.Proto),
		orDash(bytesString(r.Referer())), orDash(bytesString(r.UserAgent())), code, int64(size))
}

// WatchFD and Refresh let gotwistd's engine keep the static handler's
// change watcher in its event loops (see static.Handler.Cached).
func (s *site) WatchFD() int {
	if s.static == nil {
		return -1
	}
	return s.static.WatchFD()
}

// Refresh reads the static handler's change events.
func (s *site) Refresh() {
	if s.static != nil {
		s.static.Refresh()
	}
}
