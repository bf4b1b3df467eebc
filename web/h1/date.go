package h1

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// dateLine is a formatted "Date: ...\r\n" header line, reused for every
// response in its second.
type dateLine struct {
	unix int64
	line []byte
}

var dateCache atomic.Pointer[dateLine]

// appendDate appends the Date header line for now.
func appendDate(b []byte, now time.Time) []byte {
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.unix == sec {
		return append(b, d.line...)
	}
	line := make([]byte, 0, 40)
	line = append(line, "Date: "...)
	line = now.UTC().AppendFormat(line, http.TimeFormat)
	line = append(line, "\r\n"...)
	dateCache.Store(&dateLine{unix: sec, line: line})
	return append(b, line...)
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
// request: "HTTP/1.0" to HTTP/1.0 requests, as net/http answers.
func appendStatusLine(b []byte, minor, code int) []byte {
	if minor > 1 {
		minor = 1
	}
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
