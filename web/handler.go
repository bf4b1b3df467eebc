package web

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"

	"github.com/gotwistd/gotwistd/web/static"
)

// site is the handler of one listener: it refuses what guard refuses, adds
// the headers every response on that listener carries, recovers a
// panicking handler, and writes the access line.
type site struct {
	h      http.Handler
	access *accessLog   // nil: no access lines
	errLog *slog.Logger // panics
	unix   bool         // a UNIX-socket listener: clients log as "-"
	altSvc []string     // Alt-Svc value announcing HTTP/3, or nil
	// altSvcFast adds altSvc to the fast paths' cached headers; nil
	// without altSvc.
	altSvcFast *altSvcHeaders
	static     *static.Handler // the static handler, for gotwistd's engine's fast path; or nil
	pages      errorPager      // the error pages configured (--error-page), or nil
	server     []string        // the Server header of the answers guard gives

	ops     *ops     // --health and --metrics paths, or nil
	metrics *metrics // request counters, or nil
}

// processingFailed is twistd's 500 page when tracebacks are not shown.
const processingFailed = "<html><head><title>Processing Failed</title></head><body><b>Processing Failed</b></body></html>"

var writerPool = sync.Pool{New: func() any { return new(responseWriter) }}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.altSvc != nil {
		w.Header()["Alt-Svc"] = s.altSvc
	}
	rw := writerPool.Get().(*responseWriter)
	rw.ResponseWriter, rw.status, rw.size = w, 0, 0
	defer s.finish(rw, r)
	if !guard(rw, r, s.pages, s.server) {
		return
	}
	if s.ops != nil && s.ops.serve(rw, r) {
		return
	}
	s.h.ServeHTTP(rw, r)
}

// finish runs after the handler, even when it panicked: it answers 500 for
// a panic that happened before the response started (and aborts the
// connection otherwise), then logs the request.
func (s *site) finish(rw *responseWriter, r *http.Request) {
	p := recover()
	if p != nil && p != http.ErrAbortHandler {
		s.errLog.Error(fmt.Sprintf("Unhandled error serving %s %s: %v", r.Method, r.URL.Path, p),
			"stack", string(debug.Stack()))
		if rw.status == 0 {
			h := rw.Header()
			for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range",
				"Content-Disposition", "Etag", "Last-Modified", "Accept-Ranges", "Vary"} {
				delete(h, k)
			}
			if s.pages == nil || !s.pages.WriteErrorPage(rw, r, http.StatusInternalServerError) {
				h.Set("Content-Type", "text/html")
				rw.WriteHeader(http.StatusInternalServerError)
				if r.Method != http.MethodHead {
					io.WriteString(rw, processingFailed)
				}
			}
			p = nil
		} else {
			// The status line is out: all we can do is cut the
			// response short so the client sees it is incomplete.
			p = http.ErrAbortHandler
		}
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	if s.access != nil {
		s.access.log(r, s.logIP(r.RemoteAddr), status, rw.size)
	}
	if s.metrics != nil {
		s.metrics.request(protoIndex(r.ProtoMajor), status, rw.size)
	}
	rw.ResponseWriter = nil
	writerPool.Put(rw)
	if p != nil {
		panic(p)
	}
}

// responseWriter records the status and the body bytes of a response for
// the access log. It passes ReadFrom through, so net/http still uses
// sendfile for files, and Unwrap lets http.ResponseController reach the
// connection's writer.
type responseWriter struct {
	http.ResponseWriter
	status int
	size   int64
}

// WriteHeader records the final status (not 1xx interim ones).
func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write counts body bytes.
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.size += int64(n)
	return n, err
}

// ReadFrom counts body bytes copied from src, by sendfile where the
// connection supports it.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.size += n
	return n, err
}

// WriteSyscall passes the engine's WriteSyscall through (the static
// handler sends mapped files with it), counting body bytes; ok is false
// when the connection's writer has none.
func (w *responseWriter) WriteSyscall(p []byte) (int, bool, error) {
	sw, ok := w.ResponseWriter.(interface {
		WriteSyscall([]byte) (int, bool, error)
	})
	if !ok {
		return 0, false, nil
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, ok, err := sw.WriteSyscall(p)
	w.size += int64(n)
	return n, ok, err
}

// Flush sends buffered data to the client.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the connection's ResponseWriter, for
// http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides every method but Write, so io.Copy does not loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }
