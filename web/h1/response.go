package h1

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// preBufSize is how much body the engine holds before it decides the
// response's framing, as net/http's bufferBeforeChunkingSize: a handler
// that writes less and returns gets a Content-Length.
const preBufSize = 2048

// sniffLen is how much of a body http.DetectContentType looks at.
const sniffLen = 512

// copyBufs are the buffers of ReadFrom when it cannot use sendfile.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// serveSlow runs the Handler for r; false means close the connection.
func (c *conn) serveSlow(r *Request) bool {
	w := c.w
	req, e := c.newHTTPRequest(r, r.head)
	if e != nil {
		c.fail(e)
		return false
	}
	rw := &w.resp
	rw.reset(c, req, r)
	if r.contentLength > 0 || r.chunked {
		b := &w.body
		*b = body{c: c, remaining: r.contentLength, chunked: r.chunked}
		if r.chunked {
			b.remaining = 0
		}
		if r.expect {
			b.expect = rw
		}
		req.Body = b
		rw.body = b
		// As net/http without a ReadTimeout: the body has no deadline.
		c.setReadDeadline(time.Time{}, 0)
	} else {
		req.Body = http.NoBody
	}
	h := c.srv.Handler
	if req.Method == http.MethodOptions && req.RequestURI == "*" {
		// As net/http: the server answers "OPTIONS *" itself.
		h = globalOptions{}
	}
	if c.runHandler(h, rw, req) {
		// A panic: what is buffered goes out (as net/http's final
		// flush does), the rest of the response never comes.
		c.flush()
		rw.release()
		return false
	}
	rw.finish()
	keep := !rw.closeAfter && c.werr == nil
	if keep && rw.body != nil && !rw.body.sawEOF {
		keep = rw.body.discardRest()
	}
	if rw.body != nil && !rw.body.sawEOF {
		c.linger = true
	}
	rw.release()
	return keep
}

// runHandler calls the Handler; it reports whether it panicked.
func (c *conn) runHandler(h http.Handler, rw *response, req *http.Request) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			if p != http.ErrAbortHandler {
				const size = 64 << 10
				buf := make([]byte, size)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.logf("http: panic serving %v: %v\n%s", c.remote, p, buf)
			}
		}
	}()
	h.ServeHTTP(rw, req)
	return false
}

// globalOptions answers "OPTIONS *" as net/http does: 200, no body.
type globalOptions struct{}

func (globalOptions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}

// response is the http.ResponseWriter of the engine, with net/http's
// behaviour: Content-Length set for small bodies written before the
// handler returns, chunked encoding otherwise (close-delimited for
// HTTP/1.0), Content-Type sniffed when not set, Date added, HEAD bodies
// dropped, 1xx interim responses, Flush, ReadFrom with sendfile(2), and
// http.ResponseController's deadlines.
type response struct {
	c      *conn
	req    *http.Request
	body   *body // nil: no request body
	header http.Header
	minor  int
	isHEAD bool

	status      int
	wroteHeader bool // the status is decided
	committed   bool // the header is in the output
	done        bool // the handler returned
	fullDuplex  bool
	expect      bool // the request had Expect: 100-continue

	pre           []byte // body not yet written out
	preArr        [preBufSize]byte
	contentLength int64 // declared by the handler, or -1
	written       int64
	chunking      bool
	closeAfter    bool
	wantsClose    bool
	keepAlive10   bool

	// The header as it was when the status was decided: rendered lines,
	// without the fields whose fate is decided on commit.
	hdr      []byte
	keys     []string
	clVals   []string // Content-Length values
	teVal    string   // first Transfer-Encoding value
	teVals   []string
	connVals []string
	hasCType bool
	hasCE    bool
	hasDate  bool
}

func (w *response) reset(c *conn, req *http.Request, r *Request) {
	*w = response{
		c: c, req: req, header: make(http.Header), minor: r.Minor, isHEAD: req.Method == http.MethodHead,
		contentLength: -1, wantsClose: r.close, keepAlive10: r.keepAlive10, expect: r.expect,
		hdr: w.hdr[:0], keys: w.keys[:0],
	}
	w.pre = w.preArr[:0]
}

func (w *response) release() {
	w.req, w.body, w.header = nil, nil, nil
	clear(w.keys[:cap(w.keys)])
	w.clVals, w.teVals, w.connVals = nil, nil, nil
	if cap(w.hdr) > 16<<10 {
		w.hdr = nil
	}
}

// Header returns the header map of the response.
func (w *response) Header() http.Header { return w.header }

// WriteHeader sends the status code; see http.ResponseWriter.
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteHeader {
		caller := ""
		if _, file, line, ok := runtime.Caller(1); ok {
			caller = " from " + file + ":" + strconv.Itoa(line)
		}
		w.c.srv.logf("http: superfluous response.WriteHeader call%s", caller)
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := w.header["Content-Length"]; len(cl) > 0 && cl[0] != "" {
		v, err := strconv.ParseInt(cl[0], 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.c.srv.logf("http: invalid Content-Length of %q", cl[0])
			delete(w.header, "Content-Length")
		}
	}
	w.snapshot()
}

// writeInterim writes a 1xx response (103 Early Hints and the like) at
// once.
func (w *response) writeInterim(code int) {
	if w.committed || w.minor == 0 {
		// RFC 9110 section 15.2: no 1xx to an HTTP/1.0 client (net/http
		// sends them).
		return
	}
	c := w.c
	b := appendStatusLine(c.w.wbuf, w.minor, code)
	b = appendHeaderLines(b, w.header, &w.keys, func(k string) bool {
		return k == "Content-Length" || k == "Transfer-Encoding"
	})
	c.w.wbuf = append(b, "\r\n"...)
	c.flush()
}

// Write writes body bytes; see http.ResponseWriter.
func (w *response) Write(p []byte) (int, error) {
	if w.c.werr != nil {
		return 0, w.c.werr
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if len(w.pre)+len(p) <= preBufSize {
		w.pre = append(w.pre, p...)
		return len(p), nil
	}
	if !w.committed {
		w.commit(sniffBytes(w.pre, p))
	}
	w.emit(w.pre)
	w.pre = w.pre[:0]
	if len(p) <= preBufSize/2 {
		w.pre = append(w.pre, p...)
	} else {
		w.emit(p)
	}
	if w.c.werr != nil {
		return 0, w.c.werr
	}
	return len(p), nil
}

// syscallPiece is how much of a WriteSyscall body one write(2) is given:
// on a loopback connection, pieces of this size let the client copy one
// while the next is written (measured: 1.5 GB/s for a 10 MB file, against
// 1.25 GB/s for one write of all of it).
const syscallPiece = 1 << 20

// WriteSyscall writes p, a part of the body, handing it to write(2) and
// writev(2) only: no code in the process reads p, so p may be a mapping of
// a file that can shrink under it, where a read would kill the process
// with SIGBUS and write(2) fails with EFAULT instead. ok is false, and
// nothing is written, when the response cannot promise that: a chunked
// body or one without a Content-Length, a Content-Type still to be
// sniffed, HEAD or a status without a body, a connection an event loop
// serves, or one with no socket beneath it to write to (TLS, a wrapper
// without Unwrap). Through wrappers that say what they wrap, p goes to the
// socket beneath them, as writeWith's vectors do. The caller then writes p
// another way. An empty p asks: it writes nothing and reports whether a
// body would go this way (committing the header if so).
func (w *response) WriteSyscall(p []byte) (n int, ok bool, err error) {
	c := w.c
	if c.werr != nil {
		return 0, true, c.werr
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if c.vw == nil || c.inLoop || w.isHEAD || !bodyAllowedForStatus(w.status) ||
		w.contentLength == -1 || w.teVal != "" || !w.committed && !w.hasCType && !w.hasCE {
		return 0, false, nil
	}
	if w.written+int64(len(p)) > w.contentLength {
		return 0, true, http.ErrContentLength
	}
	if !w.committed {
		w.commit(nil)
	}
	if w.chunking {
		return 0, false, nil // not with a Content-Length; Write frames it
	}
	w.emit(w.pre)
	w.pre = w.pre[:0]
	for len(p) > 0 {
		piece := p[:min(len(p), syscallPiece)]
		m := len(piece)
		if len(c.w.wbuf) > 0 {
			if c.writeWith(piece) != nil {
				m = 0
			}
		} else {
			var werr error
			if m, werr = c.vw.Write(piece); werr != nil {
				c.werr = werr
			}
		}
		n += m
		w.written += int64(m)
		if c.werr != nil {
			break
		}
		p = p[m:]
	}
	return n, true, c.werr
}

// sniffBytes returns the first sniffLen bytes of a+b.
func sniffBytes(a, b []byte) []byte {
	if len(a) >= sniffLen {
		return a[:sniffLen]
	}
	if len(a) == 0 {
		return b[:min(len(b), sniffLen)]
	}
	s := make([]byte, 0, sniffLen)
	s = append(s, a...)
	return append(s, b[:min(len(b), sniffLen-len(a))]...)
}

// emit writes body bytes out, chunked if the response is.
func (w *response) emit(p []byte) {
	if len(p) == 0 || w.isHEAD || !bodyAllowedForStatus(w.status) {
		return
	}
	c := w.c
	if w.chunking {
		c.w.wbuf = strconv.AppendInt(c.w.wbuf, int64(len(p)), 16)
		c.w.wbuf = append(c.w.wbuf, "\r\n"...)
	}
	if len(p) <= inlineBody {
		c.w.wbuf = append(c.w.wbuf, p...)
	} else {
		c.writeWith(p)
	}
	if w.chunking {
		c.w.wbuf = append(c.w.wbuf, "\r\n"...)
	}
	if len(c.w.wbuf) >= flushAt {
		c.flush()
	}
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	w.done = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(w.pre)
	}
	w.emit(w.pre)
	w.pre = w.pre[:0]
	if w.chunking && !w.isHEAD {
		w.c.w.wbuf = append(w.c.w.wbuf, "0\r\n\r\n"...)
	}
	if w.contentLength != -1 && w.written != w.contentLength && !w.isHEAD && bodyAllowedForStatus(w.status) {
		// The body is short of its Content-Length: the client can only
		// tell from the connection closing.
		w.closeAfter = true
	}
	if w.c.srv.inShutdown.Load() {
		w.closeAfter = true
	}
}

// Flush sends the header and what is buffered of the body; see
// http.Flusher.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush that reports a write error, for
// http.ResponseController.
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(w.pre)
	}
	w.emit(w.pre)
	w.pre = w.pre[:0]
	w.c.flush()
	return w.c.werr
}

// ReadFrom copies src into the body, with sendfile(2) when src is a file
// and the body is not chunked.
func (w *response) ReadFrom(src io.Reader) (n int64, err error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	if !w.committed && !w.hasCType && !w.hasCE && w.teVal == "" && bodyAllowedForStatus(w.status) {
		// Read the start, to sniff the type.
		n0, err := io.CopyBuffer(writerOnly{w}, io.LimitReader(src, sniffLen), *bp)
		n += n0
		if err != nil || n0 < sniffLen {
			return n, err
		}
	}
	if !w.committed {
		w.commit(w.pre)
	}
	w.emit(w.pre)
	w.pre = w.pre[:0]
	if w.chunking || w.isHEAD || !bodyAllowedForStatus(w.status) {
		n0, err := io.CopyBuffer(writerOnly{w}, src, *bp)
		return n + n0, err
	}
	if !w.c.flush() {
		return n, w.c.werr
	}
	rf, ok := w.c.nc.(io.ReaderFrom)
	if !ok {
		if b, ok := w.c.batcher(); ok {
			n0, err := copyBatched(writerOnly{w}, src, b)
			return n + n0, err
		}
		n0, err := io.CopyBuffer(writerOnly{w}, src, *bp)
		return n + n0, err
	}
	n0, err := rf.ReadFrom(src)
	w.written += n0
	if err != nil {
		w.c.werr = err
	}
	return n + n0, err
}

// batcher is a connection beneath crypto/tls that can gather the records
// of a write and send them in one system call (web/tlsbatch's Conn,
// through tlsSock).
type batcher interface {
	Hold()
	Release() error
}

// batcher returns the connection under c's TLS that gathers writes, if
// there is one.
func (c *conn) batcher() (batcher, bool) {
	if c.tc == nil {
		return nil, false
	}
	b, ok := c.tc.NetConn().(batcher)
	return b, ok
}

// batchedCopySize is how much of a body copyBatched reads and sends at a
// time: four TLS records, one write(2) of them, the unsent low-water
// mark gotwistd sets on its sockets (web's unsentLowat). A 10 MB file
// over HTTPS, wrk -t2 -c50, against records written one by one: 3-5%
// more GB/s, the client's kernel time per byte down a fifth (fewer,
// larger segments); 128 and 256 KB measured no better.
const batchedCopySize = 64 << 10

// batchedBufs are copyBatched's buffers.
var batchedBufs = sync.Pool{New: func() any { b := make([]byte, batchedCopySize); return &b }}

// copyBatched copies src to w, a writer over TLS on b, sending each chunk's
// records together.
func copyBatched(w io.Writer, src io.Reader, b batcher) (int64, error) {
	bp := batchedBufs.Get().(*[]byte)
	defer batchedBufs.Put(bp)
	var n int64
	for {
		m, rerr := src.Read(*bp)
		if m > 0 {
			b.Hold()
			_, werr := w.Write((*bp)[:m])
			if err := b.Release(); werr == nil {
				werr = err
			}
			if werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// writerOnly hides ReadFrom, so io.Copy does not loop back into it.
type writerOnly struct{ io.Writer }

// SetReadDeadline sets the connection's read deadline, for
// http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error {
	w.c.rdl = t
	return w.c.nc.SetReadDeadline(t)
}

// SetWriteDeadline sets the connection's write deadline, for
// http.ResponseController.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.c.wdl = t
	return w.c.nc.SetWriteDeadline(t)
}

// EnableFullDuplex lets the handler read the request body while writing
// the response, for http.ResponseController.
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

// sendContinue writes "100 Continue" before the first read of a body the
// client is holding back.
func (w *response) sendContinue() {
	if w.wroteHeader || w.c.werr != nil {
		// As net/http: a final status decided already means no 100.
		return
	}
	w.c.w.wbuf = append(w.c.w.wbuf, "HTTP/1.1 100 Continue\r\n\r\n"...)
	w.c.flush()
}
