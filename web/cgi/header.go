package cgi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// MaxHeaderBytes bounds the header block a script may write; a larger one
// is a bad gateway (502).
const MaxHeaderBytes = 64 << 10

// errHeaderTooLarge: no blank line within MaxHeaderBytes.
var errHeaderTooLarge = fmt.Errorf("header block larger than %d bytes", MaxHeaderBytes)

// Response is the header part of a script's output (RFC 3875 section 6).
type Response struct {
	// Status is the response status: from Status:, from an nph script's
	// status line, 302 for a client redirect, else 200.
	Status int
	// Header holds the header fields to send, canonicalized; Status, and
	// the fields a script may not set (Date, Server, and the hop-by-hop
	// ones), are left out.
	Header http.Header
	// LocalRedirect is the path (and query) of a local redirect: the
	// output was a Location starting with "/" and nothing else (RFC 3875
	// section 6.2.2). "" otherwise.
	LocalRedirect string
}

// dropped are the fields a script's output may hold but that do not reach
// the client: the server sets Date and Server, and the connection's
// framing is the server's (hop-by-hop fields, RFC 9110 section 7.6.1).
var dropped = map[string]bool{
	"Date": true, "Server": true, "Connection": true, "Keep-Alive": true, "Transfer-Encoding": true,
	"Upgrade": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
}

// ParseHeader parses a script's header block: block is everything before
// the blank line that ends it, line ends LF or CRLF. nph says the block
// starts with an HTTP status line (a non-parsed-header script). The error
// says what is wrong, for the log.
func ParseHeader(block []byte, nph bool) (*Response, error) {
	resp := &Response{Header: make(http.Header)}
	lines := bytes.Split(block, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if nph {
		if len(lines) == 0 {
			return nil, errors.New("no status line")
		}
		code, err := parseStatusLine(lines[0])
		if err != nil {
			return nil, err
		}
		resp.Status = code
		lines = lines[1:]
	}
	var seen seenFields
	for _, raw := range lines {
		key, v, err := parseField(raw)
		if err != nil {
			return nil, err
		}
		keep, err := seen.note(key, v, nph, resp)
		if err != nil {
			return nil, err
		}
		if keep && !dropped[key] {
			resp.Header.Add(key, v)
		}
	}
	if !nph && !seen.status && seen.location == "" && !seen.ctype {
		return nil, errors.New("no Content-Type, Location or Status header")
	}
	if loc := seen.location; loc != "" && strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && seen.fields == 1 && !nph {
		resp.LocalRedirect = loc
		resp.Header.Del("Location")
		return resp, nil
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
		if seen.location != "" {
			resp.Status = http.StatusFound
		}
	}
	return resp, nil
}

// parseStatusLine reads an nph script's first line: "HTTP/1.x NNN reason".
func parseStatusLine(raw []byte) (int, error) {
	line := string(bytes.TrimSuffix(raw, []byte("\r")))
	proto, rest, _ := strings.Cut(line, " ")
	if proto != "HTTP/1.0" && proto != "HTTP/1.1" {
		return 0, fmt.Errorf("status line %.80q does not start with HTTP/1.0 or HTTP/1.1", line)
	}
	return parseStatus(rest)
}

// parseField splits one header line (its LF gone, a CR before it
// allowed) into its canonical name and its trimmed value.
func parseField(raw []byte) (key, value string, err error) {
	line := bytes.TrimSuffix(raw, []byte("\r"))
	name, val, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return "", "", fmt.Errorf("header line %.80q has no colon", line)
	}
	if !validName(name) {
		return "", "", fmt.Errorf("header name %.80q is not a token", name)
	}
	v := strings.Trim(string(val), " \t")
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", "", fmt.Errorf("value of header %q holds a control character", name)
		}
	}
	return http.CanonicalHeaderKey(string(name)), v, nil
}

// seenFields is what ParseHeader has learnt from the fields so far.
type seenFields struct {
	status   bool   // a Status field was seen
	location string // the Location field's value
	ctype    bool   // a Content-Type field was seen
	fields   int    // how many fields, Status included
}

// note checks one field against those before it and records it; keep is
// false for Status, which sets resp.Status (unless nph: the status line
// has it) instead of being sent.
func (s *seenFields) note(key, v string, nph bool, resp *Response) (keep bool, err error) {
	s.fields++
	switch key {
	case "Status":
		if s.status {
			return false, errors.New("two Status headers")
		}
		code, err := parseStatus(v)
		if err != nil {
			return false, err
		}
		s.status = true
		if !nph {
			resp.Status = code
		}
		return false, nil
	case "Location":
		if s.location != "" {
			return false, errors.New("two Location headers")
		}
		if v == "" {
			return false, errors.New("empty Location")
		}
		s.location = v
	case "Content-Type":
		s.ctype = true
	case "Content-Length":
		if _, err := strconv.ParseUint(v, 10, 63); err != nil {
			return false, fmt.Errorf("Content-Length %.40q is not a number", v)
		}
	}
	return true, nil
}

// parseStatus reads "NNN reason": a final status, 200 to 599.
func parseStatus(v string) (int, error) {
	digits, _, _ := strings.Cut(strings.TrimLeft(v, " "), " ")
	code, err := strconv.Atoi(digits)
	if err != nil || len(digits) != 3 || code < 200 || code > 599 {
		return 0, fmt.Errorf("status %.40q is not a final status (200-599)", v)
	}
	return code, nil
}

// validName reports whether b is an RFC 9110 token.
func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// headerEnd returns the length of the header block in buf and the length
// of the blank line that ends it (LF LF, CRLF CRLF, or mixed), or -1.
func headerEnd(buf []byte) (block, sep int) {
	switch {
	case len(buf) >= 1 && buf[0] == '\n':
		return 0, 1 // a blank line first: no header at all
	case len(buf) >= 2 && buf[0] == '\r' && buf[1] == '\n':
		return 0, 2
	}
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1, 0
		}
		j += i
		// buf[j] ends a line; a blank line follows if the next is empty.
		k := j + 1
		if k < len(buf) && buf[k] == '\n' {
			return k, 1
		}
		if k+1 < len(buf) && buf[k] == '\r' && buf[k+1] == '\n' {
			return k, 2
		}
		i = k
	}
}
