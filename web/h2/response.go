package h2

// A stream's Handler and its http.ResponseWriter. Split from request.go
// (a new stream's validation, its request, the fast path), which had
// grown past 600 lines.

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/internal/httpdate"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2/hpack"
)

// startHandler runs the Handler for req on a goroutine of its own.
func (c *conn) startHandler(st *stream, req *http.Request) {
	ctx, cancel := context.WithCancel(baseContext)
	c.mu.Lock()
	st.cancel = cancel
	st.handler = true
	c.handlers++
	c.mu.Unlock()
	req = req.WithContext(ctx)
	w := &responseWriter{c: c, st: st, req: req, h: make(http.Header), declared: -1}
	go w.run()
}

// responseWriter is the http.ResponseWriter of a request served by the
// Handler.
type responseWriter struct {
	c           *conn
	st          *stream
	req         *http.Request
	h           http.Header
	status      int
	wroteHeader bool // the handler chose its status
	sentHeader  bool // HEADERS went out
	buf         []byte
	written     int64
	declared    int64 // Content-Length the handler set, or -1
}

// bufferLimit: a body this short is held until the handler returns, so
// that it gets a Content-Length and leaves in one piece.
const bufferLimit = 4 << 10

func (w *responseWriter) run() {
	c, st := w.c, w.st
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.logf("http2: panic serving %v: %v\n%s", c.remote, v, buf)
			c.mu.Lock()
			c.resetLocked(st, errInternal)
			c.mu.Unlock()
		} else if v == nil {
			w.finish()
		} else {
			c.mu.Lock()
			c.resetLocked(st, errInternal)
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.handlers--
		st.handler = false
		st.cancel()
		c.wakeIfDoneLocked()
		c.cond.Broadcast()
		c.mu.Unlock()
		c.flush()
	}()
	c.srv.Handler.ServeHTTP(w, w.req)
}

// Header returns the response header map.
func (w *responseWriter) Header() http.Header { return w.h }

// WriteHeader sends, or chooses, the status.
func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 {
		if code == http.StatusSwitchingProtocols {
			return
		}
		// An informational response goes at once.
		w.c.mu.Lock()
		if !w.st.reset {
			w.c.headerBlockLocked(w.st, code, w.fields(false), false)
		}
		w.c.mu.Unlock()
		w.c.flush()
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := w.h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			w.h.Del("Content-Length")
		}
	}
}

func (w *responseWriter) bodyAllowed() bool {
	return w.status != http.StatusNoContent && w.status != http.StatusNotModified && w.req.Method != "HEAD"
}

// Write writes body bytes.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.bodyAllowed() {
		if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
			return 0, http.ErrBodyNotAllowed
		}
		w.written += int64(len(p))
		return len(p), nil // HEAD
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.sentHeader && len(w.buf)+len(p) <= bufferLimit {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if !w.sentHeader {
		w.sendHeader(append(w.buf, p...), false)
		if err := w.send(w.buf, false); err != nil {
			return 0, err
		}
		w.buf = nil
	}
	if err := w.send(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString writes body bytes.
func (w *responseWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Flush sends what is buffered.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError sends what is buffered.
func (w *responseWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sentHeader {
		w.sendHeader(w.buf, false)
		if err := w.send(w.buf, false); err != nil {
			return err
		}
		w.buf = nil
	}
	w.c.flush()
	return w.err()
}

func (w *responseWriter) err() error {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if w.st.reset {
		return errStreamGone
	}
	return w.c.werr
}

// finish ends the response after the handler returned.
func (w *responseWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	c, st := w.c, w.st
	if !w.sentHeader {
		if w.declared < 0 && w.bodyAllowed() {
			w.h.Set("Content-Length", strconv.Itoa(len(w.buf)))
		}
		w.sendHeader(w.buf, len(w.buf) == 0)
		if len(w.buf) > 0 {
			_ = w.send(w.buf, true)
		}
		return
	}
	c.mu.Lock()
	c.queueLocked(st, nil, true)
	c.pumpLocked()
	c.mu.Unlock()
}

// fields renders the header map for HPACK, lower-case, without the
// fields HTTP/2 forbids.
func (w *responseWriter) fields(final bool) []hpack.HeaderField {
	out := make([]hpack.HeaderField, 0, len(w.h)+2)
	for k, vs := range w.h {
		lk := strings.ToLower(k)
		switch lk {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "trailer":
			continue
		}
		if !validName(lk) {
			continue
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				continue
			}
			out = append(out, hpack.HeaderField{Name: lk, Value: v})
		}
	}
	if final && w.h["Date"] == nil {
		out = append(out, hpack.HeaderField{Name: "date", Value: httpDate()})
	}
	return out
}

// sendHeader sends the response's HEADERS; sniff is the start of the body
// for Content-Type detection.
func (w *responseWriter) sendHeader(sniff []byte, end bool) {
	w.sentHeader = true
	if w.bodyAllowed() && len(sniff) > 0 && w.h["Content-Type"] == nil && w.h.Get("Content-Encoding") == "" {
		w.h.Set("Content-Type", http.DetectContentType(sniff))
	}
	fields := w.fields(true)
	c, st := w.c, w.st
	c.mu.Lock()
	if !st.reset {
		c.headerBlockLocked(st, w.status, fields, end)
		if end {
			c.finishLocked(st)
		}
	}
	c.mu.Unlock()
	c.flush()
}

// send queues p (copied) for the stream and writes; it waits while the
// stream holds too much unsent.
func (w *responseWriter) send(p []byte, end bool) error {
	c, st := w.c, w.st
	c.mu.Lock()
	if len(p) > 0 {
		c.queueLocked(st, append([]byte(nil), p...), end)
	} else if end {
		c.queueLocked(st, nil, true)
	}
	c.pumpLocked()
	c.mu.Unlock()
	c.flush()
	c.mu.Lock()
	defer c.mu.Unlock()
	for st.pendLen > streamQueueLimit && !st.reset && c.werr == nil {
		c.cond.Wait()
	}
	if st.reset {
		return errStreamGone
	}
	return c.werr
}

// statusText is a status code as :status wants it.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 304:
		return "304"
	case 404:
		return "404"
	}
	return strconv.Itoa(code)
}

// httpDate is the Date header's value, made once a second.
func httpDate() string { return httpdate.For(time.Now()).Value() }
