package h1

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file writes the head of a response the http.Handler makes: the
// header as it was when the handler first wrote, the framing (length,
// chunking, connection) net/http would choose, and the lines themselves.

// snapshot renders the header as it is now: later changes to the map do
// not change the response, as with net/http.
func (w *response) snapshot() {
	h := w.header
	code := w.status
	w.hasCType = h["Content-Type"] != nil
	w.hasCE = len(h["Content-Encoding"]) > 0 && h["Content-Encoding"][0] != ""
	w.hasDate = h["Date"] != nil
	w.clVals = h["Content-Length"]
	w.teVals = h["Transfer-Encoding"]
	if len(w.teVals) > 0 {
		w.teVal = w.teVals[0]
	}
	w.connVals = h["Connection"]
	suppress304 := code == http.StatusNotModified
	noBody := !bodyAllowedForStatus(code)
	w.hdr = appendHeaderLines(w.hdr[:0], h, &w.keys, func(k string) bool {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			return true
		case "Content-Type":
			return suppress304
		}
		return false
	})
	if noBody {
		w.clVals, w.teVals, w.teVal = nil, nil, ""
		if suppress304 {
			w.hasCType = true // suppressed, not to be sniffed
		}
	}
}

// appendHeaderLines appends the fields of h, sorted by key as net/http
// writes them, skipping the keys skip says, invalid names, and turning
// line breaks in values into spaces.
func appendHeaderLines(b []byte, h http.Header, keys *[]string, skip func(string) bool) []byte {
	ks := (*keys)[:0]
	for k := range h {
		if !skip(k) {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	*keys = ks
	for _, k := range ks {
		if !validFieldName(k) {
			continue
		}
		for _, v := range h[k] {
			b = appendField(b, k, v)
		}
	}
	return b
}

// appendField appends "k: v\r\n" with v cleaned as net/http does.
func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	v = strings.Trim(v, " \t")
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, "\r\n"...)
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTchar(k[i]) {
			return false
		}
	}
	return true
}

// framing is what commit decides of a response's head beyond the
// handler's own header lines.
type framing struct {
	keepAlives bool   // the server is not shutting down
	code       int    // the status
	hasTE      bool   // the handler set Transfer-Encoding
	hasCL      bool   // the body's length is known (w.contentLength)
	connVal    string // the handler's first Connection value
	autoCL     []byte // a Content-Length the engine adds, or nil
	extraConn  string // a Connection field the engine adds, or ""
	extraTE    string // a Transfer-Encoding field the engine adds, or ""
	ctype      string // a sniffed Content-Type, or ""
}

// commit decides the framing of the response and puts its header in the
// output; p is the start of the body, sniffed for a Content-Type and, if
// the handler is done, its whole length. The decisions are net/http's
// (its chunkWriter.writeHeader), in the same order.
func (w *response) commit(p []byte) {
	if w.committed {
		return
	}
	w.committed = true
	f := framing{keepAlives: !w.c.srv.inShutdown.Load(), code: w.status, hasTE: w.teVal != ""}
	w.frameConnection(p, &f)
	w.frameBody(p, &f)
	w.c.w.wbuf = w.appendHead(w.c.w.wbuf, &f)
}

// frameConnection decides the Content-Length the engine adds and whether
// the connection stays open after the response, reading the rest of the
// request body now if it can.
func (w *response) frameConnection(p []byte, f *framing) {
	hasCLHeader := len(w.clVals) > 0 && w.clVals[0] != ""
	if w.done && !f.hasTE && bodyAllowedForStatus(f.code) && !hasCLHeader && (!w.isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		f.autoCL = strconv.AppendInt(nil, int64(len(p)), 10)
	}
	if len(w.connVals) > 0 {
		f.connVal = w.connVals[0]
	}
	if w.keepAlive10 && f.keepAlives && hasCLHeader && f.connVal == "keep-alive" {
		w.closeAfter = false
	}
	f.hasCL = w.contentLength != -1
	if w.keepAlive10 && (w.isHEAD || f.hasCL || !bodyAllowedForStatus(f.code)) {
		if w.connVals == nil {
			f.extraConn = "keep-alive"
		}
	} else if w.minor == 0 || w.wantsClose {
		w.closeAfter = true
	}
	if f.connVal == "close" || !f.keepAlives {
		w.closeAfter = true
	}
	if b := w.body; b != nil && w.expect && !b.sawEOF {
		// The client waited for 100 Continue and got a final response:
		// what follows on the wire may be the body or not.
		w.closeAfter = true
	}
	if b := w.body; b != nil && !w.closeAfter && !w.fullDuplex && !b.sawEOF && !b.closed {
		// As net/http: read the rest of the body now, so a client that
		// sends all of it before reading does not deadlock.
		if !b.discardRest() {
			w.closeAfter = true
			if b.tooBig {
				w.connVals = nil
				f.extraConn = "close"
			}
		}
	}
}

// frameBody decides the Content-Type the engine sniffs, and how the body
// is delimited: Content-Length, chunked, or the connection's close.
func (w *response) frameBody(p []byte, f *framing) {
	code := f.code
	if bodyAllowedForStatus(code) {
		if !w.hasCE && !w.hasCType && !f.hasTE && len(p) > 0 {
			f.ctype = http.DetectContentType(p)
		}
	}
	if f.hasCL && f.hasTE && w.teVal != "identity" {
		w.c.srv.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", w.teVal, w.contentLength)
		w.clVals = nil
		f.autoCL = nil
		w.contentLength = -1
		f.hasCL = false
	}
	switch {
	case w.isHEAD || !bodyAllowedForStatus(code) || code == http.StatusNoContent:
		w.teVals = nil
	case f.hasCL:
		w.teVals = nil
	case w.minor >= 1:
		if f.hasTE && w.teVal == "identity" {
			w.chunking = false
			w.closeAfter = true
			w.teVals = nil
		} else {
			w.chunking = true
			f.extraTE = "chunked"
			if f.hasTE && w.teVal == "chunked" {
				w.teVals = nil
			}
		}
	default:
		w.closeAfter = true
		w.teVals = nil
	}
	if w.chunking {
		w.clVals = nil
	}
	if w.closeAfter && (!f.keepAlives || !hasToken(f.connVal, "close")) && !(code == http.StatusSwitchingProtocols && w.header.Get("Upgrade") != "") {
		w.connVals = nil
		f.extraConn = "close" // also for HTTP/1.0: the status line says HTTP/1.1
	}
}

// appendHead appends the response's head to b: the status line, the
// handler's header lines, what f adds, and the blank line.
func (w *response) appendHead(b []byte, f *framing) []byte {
	b = appendStatusLine(b, w.minor, f.code)
	b = append(b, w.hdr...)
	for _, v := range w.clVals {
		b = appendField(b, "Content-Length", v)
	}
	for _, v := range w.teVals {
		b = appendField(b, "Transfer-Encoding", v)
	}
	for _, v := range w.connVals {
		b = appendField(b, "Connection", v)
	}
	if !w.hasDate {
		b = appendDate(b, time.Now())
	}
	if f.autoCL != nil {
		b = append(b, "Content-Length: "...)
		b = append(b, f.autoCL...)
		b = append(b, "\r\n"...)
	}
	if f.ctype != "" {
		b = appendField(b, "Content-Type", f.ctype)
	}
	if f.extraConn != "" {
		b = appendField(b, "Connection", f.extraConn)
	}
	if f.extraTE != "" {
		b = appendField(b, "Transfer-Encoding", f.extraTE)
	}
	return append(b, "\r\n"...)
}

// hasToken reports whether the comma-separated list v holds token,
// ignoring case.
func hasToken(v, token string) bool {
	found := false
	forEachToken([]byte(v), func(t []byte) {
		if equalFold(t, token) {
			found = true
		}
	})
	return found
}
