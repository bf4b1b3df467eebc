// Package httpdate formats the HTTP Date header (RFC 9110, section 6.6.1)
// once a second, for every response of that second: both of gotwistd's
// HTTP engines send one with each response.
package httpdate

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Date is one second's Date header, formatted. It is never changed after
// For returned it.
type Date struct {
	unix  int64
	value string
	line  []byte
}

var last atomic.Pointer[Date]

// For returns the Date header of now's second, formatted the first time
// that second is asked for.
func For(now time.Time) *Date {
	sec := now.Unix()
	if d := last.Load(); d != nil && d.unix == sec {
		return d
	}
	v := time.Unix(sec, 0).UTC().Format(http.TimeFormat)
	d := &Date{unix: sec, value: v, line: []byte("Date: " + v + "\r\n")}
	last.Store(d)
	return d
}

// Value is the header's value, as "Wed, 25 Nov 2026 08:00:00 GMT".
func (d *Date) Value() string { return d.value }

// Line is the whole header line, "Date: <value>\r\n", for an HTTP/1.1
// response; the caller must not change it.
func (d *Date) Line() []byte { return d.line }
