package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwistd/gotwistd/internal/logfile"
)

// Access log tuning.
const (
	// accessBufferSize is how much the access log holds before writing.
	accessBufferSize = 32 << 10
	// accessFlushDelay is the longest a line waits in the buffer.
	accessFlushDelay = time.Second
)

// accessLog writes one line per request in the combined log format that
// twistd writes (twisted.web.http.combinedLogFormatter), either to its own
// file through a buffer, or to the main log.
type accessLog struct {
	now        func() time.Time
	engineTime bool          // now is the real clock: a time the engine read it at may stand in
	flushDelay time.Duration // longest a line waits in the buffer
	logger     *slog.Logger  // main log, for lines when file is nil and for errors

	toFile bool // lines go to file (set once, read without the lock)

	mu    sync.Mutex
	file  *logfile.File // nil: closed, or lines go to logger; changed under mu and wmu
	buf   []byte
	timer *time.Timer
	armed bool

	// wmu orders the writes to file. A full buffer is written with mu
	// released, so requests go on filling spare meanwhile; wmu, taken
	// before mu is let go, keeps the writes in line order.
	wmu     sync.Mutex
	spare   []byte // the other buffer; nil while a full one is being written
	failing bool   // the last write failed; the failure was reported
	dropped int64  // lines dropped since failing was set
	torn    bool   // a failed write left a line without its end in the file

	stamp atomic.Pointer[stamp]
	pool  sync.Pool // *[]byte line buffers
}

// stamp is a formatted timestamp, reused for every line in its second.
type stamp struct {
	unix int64
	text []byte // [23/Nov/2026:20:00:49 +0000]
}

// newAccessLog makes the access log writing to file (nil: to logger)
// with now as its clock (nil: the real one).
func newAccessLog(file *logfile.File, logger *slog.Logger, now func() time.Time) *accessLog {
	a := &accessLog{file: file, toFile: file != nil, logger: logger, now: now, flushDelay: accessFlushDelay}
	if now == nil {
		a.now, a.engineTime = time.Now, true
	}
	a.pool.New = func() any { b := make([]byte, 0, 512); return &b }
	if file != nil {
		a.buf = make([]byte, 0, accessBufferSize)
		a.spare = make([]byte, 0, accessBufferSize)
	}
	return a
}

// log records one finished request. ip is the client address as logged
// ("-" for UNIX-socket clients), size the body bytes sent.
func (a *accessLog) log(r *http.Request, ip string, status int, size int64) {
	uri := r.RequestURI
	if uri == "" && r.URL != nil {
		uri = r.URL.RequestURI()
	}
	a.logFields(ip, r.Method, uri, r.Proto, headerOr(r.Header, "Referer"), headerOr(r.Header, "User-Agent"), status, size)
}

// logFields records one finished request from its fields: referer and
// agent are "-" when absent. The strings are not retained.
func (a *accessLog) logFields(ip, method, uri, proto, referer, agent string, status int, size int64) {
	a.logFieldsAt(0, ip, method, uri, proto, referer, agent, status, size)
}

// logFieldsAt is logFields for a request the engine read at now (Unix
// nanoseconds; 0: unknown), which saves reading the clock again.
func (a *accessLog) logFieldsAt(now int64, ip, method, uri, proto, referer, agent string, status int, size int64) {
	var ts []byte
	if now != 0 && a.engineTime {
		ts = a.timestampAt(now)
	} else {
		ts = a.timestamp()
	}
	bp := a.pool.Get().(*[]byte)
	line := appendFields((*bp)[:0], ts, ip, method, uri, proto, referer, agent, status, size)
	if !a.toFile {
		a.logger.LogAttrs(context.Background(), slog.LevelInfo, string(line))
	} else {
		line = append(line, '\n')
		a.write(line)
	}
	if cap(line) <= 4096 {
		*bp = line
		a.pool.Put(bp)
	}
}

// write appends a line to the buffer and arms the flush timer. When the
// line does not fit, the full buffer goes out with mu released (behind
// wmu) and the line starts the spare; a line larger than a buffer is
// written on its own after it.
func (a *accessLog) write(line []byte) {
	a.mu.Lock()
	if a.file == nil {
		a.mu.Unlock()
		return // closed
	}
	if len(a.buf)+len(line) <= cap(a.buf) {
		a.buf = append(a.buf, line...)
		a.armLocked()
		a.mu.Unlock()
		return
	}
	a.wmu.Lock()
	full := a.buf
	a.buf, a.spare = a.spare, nil
	big := len(line) > cap(a.buf)
	if !big {
		a.buf = append(a.buf, line...)
		a.armLocked()
	}
	a.mu.Unlock()
	a.writeOut(full)
	if big {
		a.writeOut(line)
	}
	a.spare = full[:0]
	a.wmu.Unlock()
}

// armLocked starts the flush timer unless it is running.
func (a *accessLog) armLocked() {
	if a.armed {
		return
	}
	a.armed = true
	if a.timer == nil {
		a.timer = time.AfterFunc(a.flushDelay, a.timedFlush)
	} else {
		a.timer.Reset(a.flushDelay)
	}
}

func (a *accessLog) timedFlush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.armed = false
	a.flushLocked()
}

// flush writes out buffered lines.
func (a *accessLog) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.flushLocked()
}

func (a *accessLog) flushLocked() {
	if len(a.buf) == 0 || a.file == nil {
		return
	}
	a.wmu.Lock()
	a.writeOut(a.buf)
	a.wmu.Unlock()
	a.buf = a.buf[:0]
}

// writeOut writes p to the file; the caller holds wmu. Lines that cannot
// be written (a full disk) are dropped and counted; the first failure
// after a success is reported to the main log, and so is the first
// success after it, with the count. A line cut short by a failed write is
// ended with a newline before the next write, so it never runs into a
// line written later.
func (a *accessLog) writeOut(p []byte) {
	if len(p) == 0 {
		return
	}
	if a.torn {
		if _, err := a.file.Write([]byte{'\n'}); err != nil {
			a.dropLines(p, err)
			return
		}
		a.torn = false
	}
	n, err := a.file.Write(p)
	if err != nil {
		if n > 0 && p[n-1] != '\n' {
			a.torn = true
		}
		a.dropLines(p[n:], err)
		return
	}
	if a.failing {
		a.failing = false
		a.logger.Info(fmt.Sprintf("writing the access log again; %d access lines were dropped", a.dropped))
		a.dropped = 0
	}
}

// dropLines counts the lines of p, which could not be written because of
// err, as dropped; the caller holds wmu.
func (a *accessLog) dropLines(p []byte, err error) {
	a.dropped += int64(bytes.Count(p, []byte{'\n'}))
	if !a.failing {
		a.failing = true
		a.logger.Error("cannot write the access log; dropping access lines until it works again", "error", err)
	}
}

// reopen writes out buffered lines and reopens the file (after logrotate
// moved it away). Without a file it does nothing.
func (a *accessLog) reopen() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file == nil {
		return nil
	}
	a.flushLocked()
	a.wmu.Lock()
	defer a.wmu.Unlock()
	return a.file.Reopen()
}

// close writes out buffered lines and closes the file; later lines are
// dropped.
func (a *accessLog) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file == nil {
		return nil
	}
	a.flushLocked()
	if a.timer != nil {
		a.timer.Stop()
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if a.failing {
		a.logger.Error(fmt.Sprintf("closing the access log, which could not be written; %d access lines were dropped", a.dropped))
	}
	err := a.file.Close()
	a.file = nil
	return err
}

// timestamp returns now as [dd/Mon/yyyy:HH:MM:SS +0000] in UTC, formatted
// once per second.
func (a *accessLog) timestamp() []byte {
	return a.timestampAt(a.now().UnixNano())
}

// timestampAt is timestamp for the time ns (Unix nanoseconds).
func (a *accessLog) timestampAt(ns int64) []byte {
	sec := ns / 1e9
	if s := a.stamp.Load(); s != nil && s.unix == sec {
		return s.text
	}
	s := &stamp{unix: sec, text: time.Unix(sec, 0).UTC().AppendFormat(make([]byte, 0, 28), "[02/Jan/2006:15:04:05 +0000]")}
	a.stamp.Store(s)
	return s.text
}

// appendCombined appends a request's access line, without a newline, in
// twistd's combined log format:
//
//	"IP" - - [23/Nov/2026:20:00:49 +0000] "GET /a.txt HTTP/1.1" 200 6 "referer" "agent"
//
// Fields are escaped as Python's repr escapes bytes, so a line can never be
// split or forged by a client. A size of 0 is written "-", as twistd does.
func appendCombined(b []byte, ts []byte, ip string, r *http.Request, status int, size int64) []byte {
	uri := r.RequestURI
	if uri == "" && r.URL != nil {
		uri = r.URL.RequestURI()
	}
	return appendFields(b, ts, ip, r.Method, uri, r.Proto, headerOr(r.Header, "Referer"), headerOr(r.Header, "User-Agent"), status, size)
}

// appendFields is appendCombined from the request's fields.
func appendFields(b, ts []byte, ip, method, uri, proto, referer, agent string, status int, size int64) []byte {
	b = append(b, '"')
	b = appendEscaped(b, ip)
	b = append(b, `" - - `...)
	b = append(b, ts...)
	b = append(b, ` "`...)
	b = appendEscaped(b, method)
	b = append(b, ' ')
	b = appendEscaped(b, uri)
	b = append(b, ' ')
	b = appendEscaped(b, proto)
	b = append(b, `" `...)
	if 100 <= status && status <= 999 {
		b = append(b, byte('0'+status/100), byte('0'+status/10%10), byte('0'+status%10))
	} else {
		b = strconv.AppendInt(b, int64(status), 10)
	}
	b = append(b, ' ')
	if size > 0 {
		b = strconv.AppendInt(b, size, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, ` "`...)
	b = appendEscaped(b, referer)
	b = append(b, `" "`...)
	b = appendEscaped(b, agent)
	b = append(b, '"')
	return b
}

// headerOr returns the first value of a canonical header key, or "-".
func headerOr(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 && v[0] != "" {
		return v[0]
	}
	return "-"
}

const hexDigits = "0123456789abcdef"

// mustEscape says which bytes appendEscaped escapes: outside printable
// ASCII, and \ and ".
var mustEscape = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c >= 0x7f || c == '\\' || c == '"'
	}
	return t
}()

// appendEscaped appends s escaped as twistd's _escape does: Python's repr
// of bytes with double quotes escaped: \\, \", \t, \n, \r, and \xNN for
// other bytes outside printable ASCII. Runs of bytes that need no escape
// are appended whole.
func appendEscaped(b []byte, s string) []byte {
	for len(s) > 0 {
		i := plainPrefix(s)
		for i < len(s) && !mustEscape[s[i]] {
			i++
		}
		b = append(b, s[:i]...)
		if i == len(s) {
			break
		}
		switch c := s[i]; c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		}
		s = s[i+1:]
	}
	return b
}

// Word-at-a-time constants: every byte 0x01, every byte 0x80.
const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
)

// plainPrefix returns how many leading bytes of s need no escape,
// counted eight at a time: it stops at the word holding the first byte
// that does, or short of the last len(s)%8 bytes; appendEscaped's byte
// loop goes on from there. A word needs a look byte by byte when a byte
// has its high bit set (>= 0x80), is below 0x20 (w-0x20 borrows there),
// or equals 0x7f, '"' or '\\' (zeroBytes of the word xor that byte).
func plainPrefix(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		t := s[i : i+8]
		w := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		if (w|(w-0x20*lsbs)&^w|zeroBytes(w^0x7f*lsbs)|zeroBytes(w^'"'*lsbs)|zeroBytes(w^'\\'*lsbs))&msbs != 0 {
			break
		}
	}
	return i
}

// zeroBytes flags (sets the high bit of) the bytes of x that are 0, and
// possibly bytes above one that is.
func zeroBytes(x uint64) uint64 { return (x - lsbs) &^ x }

// clientIP returns the host part of a RemoteAddr ("1.2.3.4:5" -> "1.2.3.4",
// "[::1]:5" -> "::1"), or "-" when there is none.
func clientIP(remote string) string {
	i := len(remote) - 1
	for i >= 0 && remote[i] != ':' {
		i--
	}
	if i <= 0 {
		return "-"
	}
	host := remote[:i]
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return host
}
