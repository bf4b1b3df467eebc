package h1

import (
	"bytes"
	"net/http"

	"github.com/gotwistd/gotwistd/web/fast"
)

// Limits of the parser that do not depend on the Server's configuration.
const (
	// maxMethod is the longest method accepted; longer ones get 400. The
	// longest registered method (UPDATEREDIRECTREF) has 17 letters.
	maxMethod = 32
	// maxLeadingBlankLines is how many empty lines may come before a
	// request line (RFC 9112 section 2.2: a server SHOULD ignore at least
	// one, which clients send after a POST body).
	maxLeadingBlankLines = 4
	// maxContentLengthDigits keeps a Content-Length within int64.
	maxContentLengthDigits = 18
)

// parseError is a request the server answers with an error status and
// then closes the connection.
type parseError struct {
	code   int
	reason string
}

func (e *parseError) Error() string { return http.StatusText(e.code) + ": " + e.reason }

func badRequest(reason string) *parseError { return &parseError{http.StatusBadRequest, reason} }

var (
	errTooLarge       = &parseError{http.StatusRequestHeaderFieldsTooLarge, "request header fields too large"}
	errURITooLong     = &parseError{http.StatusRequestURITooLong, "request target too long"}
	errMethod         = badRequest("invalid method")
	errMethodTooLong  = badRequest("method too long")
	errTarget         = badRequest("invalid request target")
	errVersion        = badRequest("malformed HTTP version")
	errVersionSupport = &parseError{http.StatusHTTPVersionNotSupported, "unsupported HTTP version"}
	errRequestLine    = badRequest("malformed request line")
	errLineEnd        = badRequest("bare CR in request head")
	errFieldName      = badRequest("invalid header field name")
	errFieldValue     = badRequest("invalid header field value")
	errFolded         = badRequest("obsolete line folding in header")
	errNoColon        = badRequest("header line without a colon")
	errNoHost         = badRequest("missing required Host header")
	errTwoHosts       = badRequest("too many Host headers")
	errBadHost        = badRequest("malformed Host header")
	errContentLength  = badRequest("invalid Content-Length")
	errTwoLengths     = badRequest("more than one Content-Length")
	errTEAndCL        = badRequest("both Transfer-Encoding and Content-Length")
	errTE10           = badRequest("Transfer-Encoding in an HTTP/1.0 request")
	errTwoTE          = badRequest("more than one Transfer-Encoding")
	errTEEmpty        = badRequest("empty Transfer-Encoding")
	errTEUnsupported  = &parseError{http.StatusNotImplemented, "unsupported Transfer-Encoding"}
	errExpect         = &parseError{http.StatusExpectationFailed, "unsupported Expect"}
	errBlankLines     = badRequest("blank lines instead of a request")
)

// limits are the parser's configurable limits.
type limits struct {
	maxHead   int // bytes of the head, request line included: 431 beyond
	maxTarget int // bytes of the request target: 414 beyond
}

// parse parses the complete head buf[:n] (n from headEnd) into r.
func parse(buf []byte, r *Request, lim limits) *parseError {
	r.reset()
	r.head = buf
	line, p, err := nextLine(buf, 0)
	if err != nil {
		return err
	}
	// A target over the limit is refused once the whole head is parsed,
	// so that the refusal can be logged with the request's fields.
	deferred := parseRequestLine(line, r, lim)
	if deferred != nil && deferred != errURITooLong {
		return deferred
	}
	var fs fieldStats
	for {
		line, p, err = nextLine(buf, p)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		if err := r.field(line, &fs); err != nil {
			return err
		}
	}
	if err := r.checkFraming(&fs); err != nil {
		return err
	}
	if fs.semantic != nil {
		return fs.semantic
	}
	if deferred != nil {
		return deferred
	}
	if r.Minor == 0 {
		r.close = !r.keepAlive10 || r.close
	} else {
		r.keepAlive10 = false
	}
	if r.expect && r.Minor == 0 {
		// RFC 9110 section 10.1.1: ignore 100-continue from HTTP/1.0.
		r.expect = false
	}
	return nil
}

// fieldStats is what parse counts of a head's fields to judge it once
// all are read.
type fieldStats struct {
	nhost, nlen, nte int
	semantic         *parseError // 501 or 417, once the head is known to be well-formed
}

// field parses the header line line into r: its name (a token) and its
// value without surrounding whitespace, checked, and what it means.
func (r *Request) field(line []byte, fs *fieldStats) *parseError {
	if line[0] == ' ' || line[0] == '\t' {
		return errFolded
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return errNoColon
	}
	name := line[:colon]
	if len(name) == 0 {
		return errFieldName
	}
	for _, c := range name {
		if !isTchar(c) {
			return errFieldName
		}
	}
	v := line[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return errFieldValue
		}
	}
	idx := len(r.fields)
	r.fields = append(r.fields, field{name: name, value: v})
	switch kind := kindOf(name); {
	case kind == hdrOther:
	case kind <= hdrExpect:
		return r.noteFraming(kind, v, idx, fs)
	default:
		r.noteView(kind, v)
	}
	return nil
}

// noteFraming records a field that frames the request or decides the
// connection's fate (hdrHost to hdrExpect), the field at index idx.
func (r *Request) noteFraming(kind int, v []byte, idx int, fs *fieldStats) *parseError {
	switch kind {
	case hdrHost:
		fs.nhost++
		r.host = idx
	case hdrContentLength:
		fs.nlen++
		n, ok := parseContentLength(v)
		if !ok {
			return errContentLength
		}
		r.contentLength = n
	case hdrTransferEncoding:
		fs.nte++
		if !equalFold(v, "chunked") {
			// Only chunked is defined for requests here: a list
			// ("gzip, chunked") or an unknown coding would make the
			// body's framing depend on codings the server does not
			// apply. Syntax errors further down take precedence.
			if len(v) == 0 {
				return errTEEmpty
			}
			fs.semantic = errTEUnsupported
		}
		r.chunked = true
	case hdrConnection:
		forEachToken(v, func(tok []byte) {
			switch {
			case equalFold(tok, "close"):
				r.close = true
			case equalFold(tok, "keep-alive"):
				r.keepAlive10 = true
			}
		})
	case hdrExpect:
		if !equalFold(v, "100-continue") {
			if fs.semantic == nil {
				fs.semantic = errExpect
			}
		} else {
			r.expect = true
		}
	}
	return nil
}

// noteView records in r.fast the fields that only decide, or are shown
// to, the fast path (hdrRange and after): views of their values.
func (r *Request) noteView(kind int, v []byte) {
	f := &r.fast
	switch kind {
	case hdrRange:
		f.Range = true
	case hdrIfRange, hdrConditional:
		f.Precondition = true
	case hdrAcceptEncoding:
		if f.AcceptEncodingFields == 0 {
			f.AcceptEncoding = fast.String(v)
		}
		f.AcceptEncodingFields++ // a second field is not plain: the full path merges them
	case hdrReferer:
		if r.seen&seenReferer == 0 {
			r.seen |= seenReferer
			f.Referer = fast.String(v)
		}
	case hdrUserAgent:
		if r.seen&seenAgent == 0 {
			r.seen |= seenAgent
			f.UserAgent = fast.String(v)
		}
	case hdrOrigin:
		if r.seen&seenOrigin == 0 {
			r.seen |= seenOrigin
			f.Origin = fast.String(v)
		}
	case hdrUpgrade:
		f.Upgrade = true
	}
}

// checkFraming judges the counts of the fields that frame the request.
func (r *Request) checkFraming(fs *fieldStats) *parseError {
	switch {
	case fs.nhost > 1:
		return errTwoHosts
	case fs.nhost == 0 && r.Minor >= 1:
		return errNoHost
	case fs.nhost == 1 && !validHost(r.fields[r.host].value):
		return errBadHost
	case fs.nlen > 1:
		return errTwoLengths
	case fs.nte > 1:
		return errTwoTE
	case fs.nte > 0 && fs.nlen > 0:
		return errTEAndCL
	case fs.nte > 0 && r.Minor == 0:
		return errTE10
	}
	return nil
}

// nextLine returns the line of buf starting at p, without its end (CRLF or
// LF), and where the next line starts. A CR anywhere else is an error.
func nextLine(buf []byte, p int) (line []byte, next int, err *parseError) {
	i := bytes.IndexByte(buf[p:], '\n')
	if i < 0 {
		// Cannot happen for a head that headEnd delimited.
		return nil, 0, errRequestLine
	}
	line = buf[p : p+i]
	next = p + i + 1
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, errLineEnd
	}
	return line, next, nil
}

// parseRequestLine parses "METHOD SP TARGET SP HTTP/d.d" strictly: one space
// between words, a token method, a target of visible characters.
func parseRequestLine(line []byte, r *Request, lim limits) *parseError {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		if len(line) > maxMethod {
			return errMethodTooLong
		}
		return errRequestLine // HTTP/0.9 "GET /" has no version
	}
	m := line[:sp]
	if len(m) == 0 {
		return errMethod
	}
	if len(m) > maxMethod {
		return errMethodTooLong
	}
	for _, c := range m {
		if !isTchar(c) {
			return errMethod
		}
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		if len(rest) > lim.maxTarget {
			return errURITooLong
		}
		return errRequestLine
	}
	t := rest[:sp]
	if len(t) == 0 {
		return errTarget
	}
	for _, c := range t {
		// Visible ASCII, and obs-text: raw UTF-8 from clients that do not
		// percent-encode it (curl passes what it is given); the handler
		// decides what such a path means.
		if c <= ' ' || c == 0x7f {
			return errTarget
		}
		// A fragment is the client's own business, never sent (RFC
		// 9112 section 3.2): a raw '#' is a malformed target.
		if c == '#' {
			return errTarget
		}
	}
	tooLong := len(t) > lim.maxTarget
	switch {
	case tooLong:
	case t[0] == '/':
	case t[0] == '*' && len(t) == 1 && string(m) == "OPTIONS":
	case string(m) == "CONNECT":
	case hasScheme(t):
	default:
		return errTarget
	}
	v := rest[sp+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return errVersion
	}
	if v[5] != '1' {
		return errVersionSupport
	}
	// HTTP/1.2 and later minors are answered as HTTP/1.1, the highest
	// minor this server speaks (RFC 9110 section 2.5); Minor keeps what
	// the client sent, as net/http's ProtoMinor does.
	r.Method, r.Target, r.Proto = m, t, v
	r.Major, r.Minor = 1, int(v[7]-'0')
	if tooLong {
		return errURITooLong
	}
	return nil
}

// hasScheme reports whether t starts like an absolute URI: a scheme and
// "://" (RFC 9112 section 3.2.2, absolute-form).
func hasScheme(t []byte) bool {
	i := bytes.Index(t, []byte("://"))
	if i <= 0 {
		return false
	}
	if !isAlpha(t[0]) {
		return false
	}
	for _, c := range t[1:i] {
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// parseContentLength accepts only digits: no sign, no list, no spaces
// inside, at most 18 of them.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > maxContentLengthDigits {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// kindOf classifies a header field name.
func kindOf(name []byte) int {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			return hdrHost
		}
	case 5:
		if equalFold(name, "range") {
			return hdrRange
		}
	case 6:
		switch {
		case equalFold(name, "expect"):
			return hdrExpect
		case equalFold(name, "origin"):
			return hdrOrigin
		}
	case 7:
		switch {
		case equalFold(name, "referer"):
			return hdrReferer
		case equalFold(name, "upgrade"):
			return hdrUpgrade
		}
	case 8:
		switch {
		case equalFold(name, "if-match"):
			return hdrConditional
		case equalFold(name, "if-range"):
			return hdrIfRange
		}
	case 10:
		switch {
		case equalFold(name, "connection"):
			return hdrConnection
		case equalFold(name, "user-agent"):
			return hdrUserAgent
		}
	case 13:
		if equalFold(name, "if-none-match") {
			return hdrConditional
		}
	case 14:
		if equalFold(name, "content-length") {
			return hdrContentLength
		}
	case 15:
		if equalFold(name, "accept-encoding") {
			return hdrAcceptEncoding
		}
	case 17:
		switch {
		case equalFold(name, "transfer-encoding"):
			return hdrTransferEncoding
		case equalFold(name, "if-modified-since"):
			return hdrConditional
		}
	case 19:
		if equalFold(name, "if-unmodified-since") {
			return hdrConditional
		}
	}
	return hdrOther
}
