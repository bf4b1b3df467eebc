package h1

import (
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/web/fast"
)

// wrkHead is the request wrk sends.
var wrkHead = []byte("GET /small.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")

// browserHead is a browser's request, with the fields a browser sends.
var browserHead = []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Connection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n" +
	"Sec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\nPriority: u=0, i\r\n\r\n")

func benchParse(b *testing.B, head []byte) {
	lim := limits{maxHead: DefaultMaxHeaderBytes, maxTarget: DefaultMaxTargetBytes}
	var r Request
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		end, _ := headEnd(head, 0)
		if parse(head[:end], &r, lim) != nil {
			b.Fatal("refused")
		}
	}
}

func BenchmarkParseWrk(b *testing.B)     { benchParse(b, wrkHead) }
func BenchmarkParseBrowser(b *testing.B) { benchParse(b, browserHead) }

// BenchmarkWriteFast renders a fast response (status line, header lines,
// Date, body) into the output buffer.
func BenchmarkWriteFast(b *testing.B) {
	c := &conn{w: new(work), now: time.Now()}
	var r Request
	r.reset()
	r.Minor = 1
	f := &fast.Response{Header: []byte("Accept-Ranges: bytes\r\nContent-Length: 160\r\nContent-Type: text/html\r\n" +
		"Etag: \"1-a0-1\"\r\nLast-Modified: Tue, 02 Jan 2024 03:04:06 GMT\r\nServer: gotwistd/1\r\n"), Body: make([]byte, 160)}
	b.ReportAllocs()
	for b.Loop() {
		c.w.wbuf = c.w.wbuf[:0]
		c.writeFast(&r, f, false)
	}
}

// TestParseAllocates nothing for common requests: the fast path's
// promise.
func TestParseAllocates(t *testing.T) {
	lim := limits{maxHead: DefaultMaxHeaderBytes, maxTarget: DefaultMaxTargetBytes}
	var r Request
	for _, head := range [][]byte{wrkHead, browserHead} {
		n := testing.AllocsPerRun(100, func() {
			end, _ := headEnd(head, 0)
			if parse(head[:end], &r, lim) != nil {
				t.Fatal("refused")
			}
		})
		if n != 0 {
			t.Errorf("parsing %q allocates %v times", head[:20], n)
		}
	}
}

// fixedFast answers every plain request with one ready-made response,
// as the static cache answers a cached file.
type fixedFast struct{ resp fast.Response }

func (f *fixedFast) ServeFast(r *fast.Request) (fast.Response, bool) {
	if len(r.Target) < 2 {
		return fast.Response{}, false
	}
	return f.resp, true
}

// BenchmarkServeFast is a fast request after its read: parse the head,
// show it to the fast.Handler, and render its answer.
func BenchmarkServeFast(b *testing.B) {
	for _, tc := range []struct {
		name string
		head []byte
	}{{"wrk", wrkHead}, {"browser", browserHead}} {
		b.Run(tc.name, func(b *testing.B) {
			ff := &fixedFast{fast.Response{Header: []byte("Accept-Ranges: bytes\r\nContent-Length: 160\r\nContent-Type: text/html\r\n" +
				"Etag: \"1-a0-1\"\r\nLast-Modified: Tue, 02 Jan 2024 03:04:06 GMT\r\nServer: gotwistd/1\r\n"), Body: make([]byte, 160)}}
			srv := &Server{Fast: ff}
			c := &conn{srv: srv, w: new(work), now: time.Now(), remote: "127.0.0.1:40000"}
			lim := limits{maxHead: DefaultMaxHeaderBytes, maxTarget: DefaultMaxTargetBytes}
			b.ReportAllocs()
			for b.Loop() {
				c.w.wbuf = c.w.wbuf[:0]
				end, _ := headEnd(tc.head, 0)
				if parse(tc.head[:end], &c.w.req, lim) != nil || !c.serveRequest(&c.w.req) || !c.lastFast {
					b.Fatal("not served fast")
				}
			}
		})
	}
}
