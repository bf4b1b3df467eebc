package web

import (
	"net/http"
	"strings"

	"github.com/gotwistd/gotwistd/web/fast"
)

// enginePage gives gotwistd's engine the error pages the site has in
// twistd's style (414); the engine's own text otherwise.
func enginePage(code int) (contentType, body string) {
	if code == http.StatusRequestURITooLong {
		return "text/html; charset=utf-8", uriTooLongPage
	}
	return "", ""
}

// ServeFast answers, for gotwistd's engines (HTTP/1.x and HTTP/2 alike),
// a plain GET or HEAD (the engines offer nothing else: see
// fast.Request.Plain) of a file the static handler holds in memory, with
// the response ServeHTTP would give, and logs it; it declines everything
// else (see static.Handler.Cached).
func (s *site) ServeFast(r *fast.Request) (fast.Response, bool) {
	if s.static == nil || r.Origin != "" && s.static.CORSByOrigin() {
		return fast.Response{}, false // the response names the origin: the full path decides
	}
	path := r.Path()
	if s.ops != nil && (strings.IndexByte(path, '%') >= 0 || s.ops.match(path)) {
		return fast.Response{}, false // --health or --metrics may answer: the full path decides
	}
	header, body, ok := s.static.CachedAt(path, r.AcceptEncoding, r.Watched, r.Now)
	if !ok {
		return fast.Response{}, false
	}
	if s.metrics != nil {
		proto := protoHTTP1
		if r.Proto == "HTTP/2.0" {
			proto = protoHTTP2
		}
		s.metrics.cached(proto, fastSize(r.IsHEAD(), len(body)))
	}
	if s.access != nil {
		s.logCached(r.Now, r.RemoteAddr, r.Method, r.Target, r.Proto, r.Referer, r.UserAgent, r.IsHEAD(), len(body))
	}
	if s.altSvcFast != nil {
		header = s.altSvcFast.with(header)
	}
	return fast.Response{Header: header, Body: body}, true
}

// logCached logs the 200 of a cached file a fast path answered (the
// engine read it at now, Unix nanoseconds, or 0), as the handler's
// responses are logged: size is the body's, 0 for HEAD.
func (s *site) logCached(now int64, remote, method, target, proto, referer, agent string, head bool, size int) {
	if head {
		size = 0
	}
	s.access.logFieldsAt(now, s.logIP(remote), method, target, proto, orDash(referer), orDash(agent), http.StatusOK, int64(size))
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

// refused logs a request gotwistd's engine refused (431, 414, 400...)
// once its request line was understood, as the handler's refusals are.
func (s *site) refused(r *fast.Request, code, size int) {
	if s.metrics != nil {
		s.metrics.request(protoHTTP1, code, int64(size))
	}
	if s.access == nil {
		return
	}
	s.access.logFields(s.logIP(r.RemoteAddr), r.Method, r.Target, r.Proto, orDash(r.Referer), orDash(r.UserAgent), code, int64(size))
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
