package h1

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gotwistd/gotwistd/internal/httpdate"
)

// appendDate appends the Date header line for now.
func appendDate(b []byte, now time.Time) []byte {
	return append(b, httpdate.For(now).Line()...)
}

// statusLines holds "HTTP/1.1 200 OK\r\n" and the like for the codes
// net/http has a text for, made on first use (not at program start).
var (
	statusLines     [2][600][]byte
	statusLinesOnce sync.Once
)

func makeStatusLines() {
	for minor := range 2 {
		for code := 100; code < 600; code++ {
			if t := http.StatusText(code); t != "" {
				statusLines[minor][code] = []byte("HTTP/1." + strconv.Itoa(minor) + " " + strconv.Itoa(code) + " " + t + "\r\n")
			}
		}
	}
}

// appendStatusLine appends the status line of a response to an HTTP/1.minor
// request. The version is always HTTP/1.1, whatever minor the request had: a server
// sends the highest minor version it speaks (RFC 9110 section 2.5), and an
// HTTP/1.0 client reads an HTTP/1.1 answer as HTTP/1.0 (nginx does the
// same). The connection's fate is then always said: "Connection: close"
// when the answer to an HTTP/1.0 request ends the connection.
func appendStatusLine(b []byte, _, code int) []byte {
	minor := 1
	statusLinesOnce.Do(makeStatusLines)
	if code >= 100 && code < 600 {
		if l := statusLines[minor][code]; l != nil {
			return append(b, l...)
		}
	}
	b = append(b, "HTTP/1."...)
	b = strconv.AppendInt(b, int64(minor), 10)
	b = append(b, ' ')
	// As net/http: three digits, then words for codes it has no text for.
	if code < 100 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, " status code "...)
	b = strconv.AppendInt(b, int64(code), 10)
	return append(b, "\r\n"...)
}

// bodyAllowedForStatus reports whether a response with this status may
// have a body (not 1xx, 204, 304).
func bodyAllowedForStatus(code int) bool {
	switch {
	case code >= 100 && code <= 199, code == 204, code == 304:
		return false
	}
	return true
}
