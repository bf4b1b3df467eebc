package h1

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// syscallHandler answers with WriteSyscall, after preparing the response
// as its path says, and records what WriteSyscall returned.
type syscallHandler struct {
	body string
	got  chan syscallResult
}

type syscallResult struct {
	n   int
	ok  bool
	err error
}

func (h *syscallHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := w.(interface {
		WriteSyscall([]byte) (int, bool, error)
	})
	hdr := w.Header()
	switch r.URL.Path {
	case "/plain":
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Length", strconv.Itoa(len(h.body)))
	case "/prefix": // a small Write first, then the rest
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Length", strconv.Itoa(len(h.body)))
		_, _ = w.Write([]byte(h.body[:10]))
		n, ok, err := sw.WriteSyscall([]byte(h.body[10:]))
		h.got <- syscallResult{n + 10, ok, err}
		return
	case "/ask": // asks first, with an empty body part
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Length", strconv.Itoa(len(h.body)))
		if n, ok, err := sw.WriteSyscall(nil); n != 0 || !ok || err != nil {
			h.got <- syscallResult{n, ok, err}
			return
		}
	case "/no-length": // chunked: framing is written by Go
		hdr.Set("Content-Type", "application/octet-stream")
	case "/sniff": // the type would be sniffed from the body
		hdr.Set("Content-Length", strconv.Itoa(len(h.body)))
	case "/too-long":
		hdr.Set("Content-Type", "application/octet-stream")
		hdr.Set("Content-Length", "5")
	}
	n, ok, err := sw.WriteSyscall([]byte(h.body))
	h.got <- syscallResult{n, ok, err}
	if !ok {
		_, _ = w.Write([]byte(h.body))
	}
}

// TestWriteSyscall: the body arrives whole, after buffered output, in
// pieces; WriteSyscall declines what it cannot frame without reading the
// bytes, and refuses more than the Content-Length.
func TestWriteSyscall(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", (3*syscallPiece)/16+7) // more than one piece
	cases := []struct {
		name, path, method string
		ok                 bool
		n                  int
		err                error
		wantBody           string
	}{
		{"whole body", "/plain", "GET", true, len(body), nil, body},
		{"after a small write", "/prefix", "GET", true, len(body), nil, body},
		{"after asking", "/ask", "GET", true, len(body), nil, body},
		{"chunked", "/no-length", "GET", false, 0, nil, body},
		{"type to sniff", "/sniff", "GET", false, 0, nil, body},
		{"HEAD", "/plain", "HEAD", false, 0, nil, ""},
		{"over Content-Length", "/too-long", "GET", true, 0, http.ErrContentLength, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &syscallHandler{body: body, got: make(chan syscallResult, 1)}
			c := dial(t, serveLoopback(t, &Server{Handler: h, ErrorLog: quietLog()}, nil))
			c.send(tc.method + " " + tc.path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			if tc.err != nil {
				// The response cannot be completed; only the result counts.
				got := <-h.got
				if got.err != tc.err || got.n != 0 {
					t.Fatalf("WriteSyscall = %d, %v, %v; want 0, %v", got.n, got.ok, got.err, tc.err)
				}
				return
			}
			code, got, _ := c.read(tc.method)
			if code != 200 || got != tc.wantBody {
				t.Errorf("response %d with %d bytes, want 200 with %d", code, len(got), len(tc.wantBody))
			}
			r := <-h.got
			if r.ok != tc.ok || r.n != tc.n || r.err != nil {
				t.Errorf("WriteSyscall = %d, %v, %v; want %d, %v, nil", r.n, r.ok, r.err, tc.n, tc.ok)
			}
			if got := c.get("/plain"); got != body { // the connection goes on
				t.Errorf("next response: %d bytes, want %d", len(got), len(body))
			}
		})
	}
}

// TestWriteSyscallWrappers: through a wrapper that says what it wraps
// (Unwrap), transparent or not (a handover tracker), the body goes to the
// socket beneath; through one that does not, WriteSyscall declines.
func TestWriteSyscallWrappers(t *testing.T) {
	for _, tt := range []struct {
		name string
		wrap func(net.Conn) net.Conn
		ok   bool
	}{
		{"transparent", func(c net.Conn) net.Conn { return transparentConn{c} }, true},
		{"opaque with Unwrap", func(c net.Conn) net.Conn { return opaqueConn{c} }, true},
		{"without Unwrap", func(c net.Conn) net.Conn { return sealedConn{c} }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &syscallHandler{body: strings.Repeat("0123456789abcdef", 5000), got: make(chan syscallResult, 2)}
			c := dial(t, serveLoopback(t, &Server{Handler: h, ErrorLog: quietLog()}, tt.wrap))
			if got := c.get("/plain"); got != h.body {
				t.Errorf("body of %d bytes, want %d", len(got), len(h.body))
			}
			r := <-h.got
			if want := map[bool]int{true: len(h.body)}[tt.ok]; r.ok != tt.ok || r.n != want || r.err != nil {
				t.Errorf("WriteSyscall = %d, %v, %v; want %d, %v, nil", r.n, r.ok, r.err, want, tt.ok)
			}
		})
	}
}

// sealedConn wraps a connection without saying what it wraps.
type sealedConn struct{ net.Conn }
