package h1

import (
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/web/fast"
)

// TestFastRequest: what a fast.Handler is shown of an HTTP/1.x head, and
// whether it is plain (offered to it at all).
func TestFastRequest(t *testing.T) {
	const get = "GET /a.html?x=1 HTTP/1.1\r\nHost: h\r\n"
	cases := []struct {
		name  string
		head  string
		want  fast.Request // RemoteAddr and Watched are the caller's
		plain bool
	}{
		{"plain GET", get + "\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1"}, true},
		{"HEAD, HTTP/1.0", "HEAD /a HTTP/1.0\r\n\r\n",
			fast.Request{Method: "HEAD", Target: "/a", Proto: "HTTP/1.0"}, true},
		{"first values shown", get + "Referer: r1\r\nUser-Agent: ua1\r\nOrigin: \r\nReferer: r2\r\nUser-Agent: ua2\r\nOrigin: https://o\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", Referer: "r1", UserAgent: "ua1"}, true},
		{"origin", get + "origin: https://o\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", Origin: "https://o"}, true},
		{"accept-encoding", get + "Accept-Encoding: gzip, br\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", AcceptEncoding: "gzip, br", AcceptEncodingFields: 1}, true},
		{"two accept-encoding fields", get + "Accept-Encoding: gzip\r\nAccept-Encoding: br\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", AcceptEncoding: "gzip", AcceptEncodingFields: 2}, false},
		{"content-length 0", get + "Content-Length: 0\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1"}, true},
		{"content-length 3", get + "Content-Length: 3\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", Body: true}, false},
		{"chunked", get + "Transfer-Encoding: chunked\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", Body: true}, false},
		{"range", get + "Range: bytes=0-1\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", Range: true}, false},
		{"if-none-match", get + "If-None-Match: \"x\"\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", Precondition: true}, false},
		{"if-range", get + "If-Range: \"x\"\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", Precondition: true}, false},
		{"upgrade", get + "Upgrade: websocket\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", Upgrade: true}, false},
		{"expect 100-continue", get + "Expect: 100-continue\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", Expect: true}, false},
		{"expect from HTTP/1.0 is ignored", "GET /a HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
			fast.Request{Method: "GET", Target: "/a", Proto: "HTTP/1.0"}, true},
		{"POST", "POST /a HTTP/1.1\r\nHost: h\r\n\r\n",
			fast.Request{Method: "POST", Target: "/a", Proto: "HTTP/1.1"}, false},
		{"absolute-form", "GET http://h/a HTTP/1.1\r\nHost: h\r\n\r\n",
			fast.Request{Method: "GET", Target: "http://h/a", Proto: "HTTP/1.1"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, code := parseHead(tc.head, testLimits)
			if code != 0 {
				t.Fatalf("refused with %d", code)
			}
			got := *r.fastRequest("", time.Time{}, false)
			if got != tc.want {
				t.Errorf("fast.Request\n got %+v\nwant %+v", got, tc.want)
			}
			if got.Plain() != tc.plain {
				t.Errorf("Plain() = %v, want %v", got.Plain(), tc.plain)
			}
		})
	}
}

// TestFastRequestNow: the handler is told when the request was read (the
// time of its Date field), or 0 when the engine has no reading.
func TestFastRequestNow(t *testing.T) {
	var r Request
	end, _ := headEnd(browserHead, 0)
	if parse(browserHead[:end], &r, testLimits) != nil {
		t.Fatal("refused")
	}
	read := time.Date(2026, 12, 7, 6, 30, 0, 123, time.UTC)
	for _, tc := range []struct {
		name string
		now  time.Time
		want int64
	}{
		{"read at", read, read.UnixNano()},
		{"no reading", time.Time{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.fastRequest("", tc.now, false).Now; got != tc.want {
				t.Errorf("Now = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestFastRequestAllocates nothing: the fast path's promise.
func TestFastRequestAllocates(t *testing.T) {
	var r Request
	end, _ := headEnd(browserHead, 0)
	if parse(browserHead[:end], &r, testLimits) != nil {
		t.Fatal("refused")
	}
	if n := testing.AllocsPerRun(100, func() { _ = r.fastRequest("127.0.0.1:1", time.Time{}, true).Plain() }); n != 0 {
		t.Errorf("fastRequest allocates %v times", n)
	}
}
