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
		line := string(bytes.TrimSuffix(lines[0], []byte("\r")))
		proto, rest, _ := strings.Cut(line, " ")
		if proto != "HTTP/1.0" && proto != "HTTP/1.1" {
			return nil, fmt.Errorf("status line %.80q does not start with HTTP/1.0 or HTTP/1.1", line)
		}
		code, err := parseStatus(rest)
		if err != nil {
			return nil, err
		}
		resp.Status = code
		lines = lines[1:]
	}
	status, location, ctype := false, "", false
	fields := 0
	for _, raw := range lines {
		line := bytes.TrimSuffix(raw, []byte("\r"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, fmt.Errorf("header line %.80q has no colon", line)
		}
		if !validName(name) {
			return nil, fmt.Errorf("header name %.80q is not a token", name)
		}
		v := strings.Trim(string(value), " \t")
		for i := 0; i < len(v); i++ {
			if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
				return nil, fmt.Errorf("value of header %q holds a control character", name)
			}
		}
		key := http.CanonicalHeaderKey(string(name))
		fields++
		switch key {
		case "Status":
			if status {
				return nil, errors.New("two Status headers")
			}
			code, err := parseStatus(v)
			if err != nil {
				return nil, err
			}
			status = true
			if !nph {
				resp.Status = code
			}
			continue
		case "Location":
			if location != "" {
				return nil, errors.New("two Location headers")
			}
			if v == "" {
				return nil, errors.New("empty Location")
			}
			location = v
		case "Content-Type":
			ctype = true
		case "Content-Length":
			if _, err := strconv.ParseUint(v, 10, 63); err != nil {
				return nil, fmt.Errorf("Content-Length %.40q is not a number", v)
			}
		}
		if dropped[key] {
			continue
		}
		resp.Header.Add(key, v)
	}
	if !nph && !status && location == "" && !ctype {
		return nil, errors.New("no Content-Type, Location or Status header")
	}
	if location != "" && strings.HasPrefix(location, "/") && !strings.HasPrefix(location, "//") && fields == 1 && !nph {
		resp.LocalRedirect = location
		resp.Header.Del("Location")
		return resp, nil
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
		if location != "" {
			resp.Status = http.StatusFound
		}
	}
	return resp, nil
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
