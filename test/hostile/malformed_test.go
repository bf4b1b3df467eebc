package hostile

import (
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// smuggled is a request hidden in another one's body; it must never run.
const smuggled = "GET /sub/page.html HTTP/1.1\r\nHost: x\r\n\r\n"

// ranges returns "bytes=" and n ranges made by f.
func ranges(n int, f func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = f(i)
	}
	return "bytes=" + strings.Join(parts, ",")
}

// chunk is one chunk of a chunked body holding s.
func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

// TestMalformed sends hostile and broken requests as raw bytes to a
// server with default settings, and with each HTTP/1 engine: each gets
// the expected status (or the connection is closed without one), no
// request hidden in a body is ever executed, and a normal client is served
// after each.
func TestMalformed(t *testing.T) {
	tr := newTree(t)
	get := func(target string, headers ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(headers, "") + "\r\n"
	}
	tests := []malformed{
		// Sizes.
		{name: "header line of 70 KB", req: get("/", "X-Big: "+strings.Repeat("a", 70<<10)+"\r\n"), status: []int{431}},
		{name: "10000 small headers", req: get("/", strings.Repeat("X-N: v\r\n", 10000)), status: []int{431}},
		{name: "request target of 9 KB", req: get("/" + strings.Repeat("a", 9<<10)), status: []int{414}},
		{name: "request target of 9 KB in the query", req: get("/?" + strings.Repeat("a", 9<<10)), status: []int{414}},
		{name: "request target of 70 KB", req: get("/" + strings.Repeat("a", 70<<10)), status: []int{414, 431}},
		{name: "request target of 4 KB is fine", req: get("/" + strings.Repeat("a", 4<<10)), status: []int{404}},
		{name: "method of 9 KB", req: strings.Repeat("G", 9<<10) + " / HTTP/1.1\r\nHost: x\r\n\r\n", status: []int{405, 414, 400}},

		// Bodies on GET: never read, never run as a request, never waited for.
		{name: "GET with a body holding a request", req: get("/", "Content-Length: "+strconv.Itoa(len(smuggled))+"\r\n") + smuggled, status: []int{200}},
		{name: "GET with a body that never comes", req: get("/", "Content-Length: 100\r\n") + "abc", stall: true, status: []int{200}},
		{name: "POST with a body that never comes", req: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\nabc", stall: true, status: []int{405}},
		{name: "GET with a chunked body", req: get("/", "Transfer-Encoding: chunked\r\n") + chunk(smuggled) + "0\r\n\r\n", status: []int{400}},
		{name: "GET with a 1 GB body announced", req: get("/", "Content-Length: 1000000000\r\n") + "abc", stall: true, status: []int{200}},

		// Framing conflicts (request smuggling).
		{name: "CL.TE: Content-Length and chunked, smuggled request after the chunks", req: get("/", "Content-Length: 6\r\n", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n" + smuggled, status: []int{400}},
		{name: "TE.CL: chunked and Content-Length, smuggled request inside a chunk", req: get("/", "Transfer-Encoding: chunked\r\n", "Content-Length: 4\r\n") + chunk(smuggled) + "0\r\n\r\n", status: []int{400}},
		{name: "POST CL.TE", req: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, status: []int{400}},
		{name: "two different Content-Lengths", req: get("/", "Content-Length: 0\r\n", "Content-Length: "+strconv.Itoa(len(smuggled))+"\r\n") + smuggled, status: []int{400}},
		{name: "two equal Content-Lengths", req: get("/", "Content-Length: "+strconv.Itoa(len(smuggled))+"\r\n", "Content-Length: "+strconv.Itoa(len(smuggled))+"\r\n") + smuggled, status: []int{200, 400}},
		{name: "Content-Length list", req: get("/", "Content-Length: 3, 3\r\n") + "abc" + smuggled, status: []int{400}},
		{name: "Content-Length with a sign", req: get("/", "Content-Length: +3\r\n") + "abc" + smuggled, status: []int{400}},
		{name: "negative Content-Length", req: get("/", "Content-Length: -1\r\n") + smuggled, status: []int{400}},
		{name: "Content-Length beyond int64", req: get("/", "Content-Length: 99999999999999999999\r\n") + smuggled, status: []int{400}},
		{name: "Transfer-Encoding xchunked", req: get("/", "Transfer-Encoding: xchunked\r\n") + chunk(smuggled) + "0\r\n\r\n", status: []int{400, 501}},
		{name: "Transfer-Encoding chunked, identity", req: get("/", "Transfer-Encoding: chunked, identity\r\n") + chunk(smuggled) + "0\r\n\r\n", status: []int{400, 501}},
		{name: "Transfer-Encoding twice", req: get("/", "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\n") + chunk(smuggled) + "0\r\n\r\n", status: []int{400, 501}},
		{name: "Transfer-Encoding with a space before the colon", req: get("/", "Transfer-Encoding : chunked\r\n", "Content-Length: 5\r\n") + "0\r\n\r\n" + smuggled, status: []int{400}},
		{name: "Transfer-Encoding folded", req: get("/", "Transfer-Encoding:\r\n chunked\r\n", "Content-Length: 5\r\n") + "0\r\n\r\n" + smuggled, status: []int{400, 501}},
		{name: "bad chunk size", req: get("/", "Transfer-Encoding: chunked\r\n") + "zz\r\n" + smuggled, status: []int{400}},

		// Ranges: capped, as servers learned from the 2011 Apache Killer.
		{name: "500 overlapping ranges", req: get("/index.html", "Range: "+ranges(500, func(i int) string { return "0-" })+"\r\n"), status: []int{200}, check: wholeIndex},
		{name: "500 one-byte ranges", req: get("/index.html", "Range: "+ranges(500, func(i int) string { return fmt.Sprintf("%d-%d", i%40, i%40) })+"\r\n"), status: []int{200}, check: wholeIndex},
		{name: "17 ranges", req: get("/index.html", "Range: "+ranges(17, func(i int) string { return fmt.Sprintf("%d-%d", i, i) })+"\r\n"), status: []int{200}, check: wholeIndex},
		{name: "ranges adding up to more than the file", req: get("/index.html", "Range: "+ranges(3, func(i int) string { return "0-30" })+"\r\n"), status: []int{200}, check: wholeIndex},
		{name: "Range header of 60 KB", req: get("/index.html", "Range: bytes="+strings.Repeat("0-1,", 15000)+"0-1\r\n"), status: []int{200}, check: wholeIndex},
		{name: "two disjoint ranges still work", req: get("/index.html", "Range: bytes=0-1,4-5\r\n"), status: []int{206}, check: func(t *testing.T, rs []response) {
			if ct := rs[0].header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/byteranges") || strings.Count(rs[0].body, "Content-Range:") != 2 {
				t.Errorf("206 for two ranges: Content-Type %q, body %q", ct, rs[0].body)
			}
		}},

		// Methods.
		{name: "unknown method", req: "FOO / HTTP/1.1\r\nHost: x\r\n\r\n", status: []int{405, 501}},
		{name: "lower-case get", req: "get / HTTP/1.1\r\nHost: x\r\n\r\n", status: []int{405, 501}},
		{name: "POST", req: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", status: []int{405}},
		{name: "PUT of a file", req: "PUT /new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", status: []int{405}},
		{name: "DELETE", req: "DELETE /index.html HTTP/1.1\r\nHost: x\r\n\r\n", status: []int{405}},
		{name: "TRACE does not echo", req: "TRACE / HTTP/1.1\r\nHost: x\r\nCookie: " + marker + "\r\n\r\n", status: []int{405}},
		{name: "CONNECT is no proxy", req: "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", status: []int{400, 405}},
		{name: "absolute URI is no proxy", req: "GET http://127.0.0.1:22/ HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", status: []int{200}, check: wholeIndex},
		{name: "method with a separator", req: "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", status: []int{400}},
		{name: "method with NUL", req: "G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n", status: []int{400}},

		// Versions and request lines.
		{name: "HTTP/0.9 request line", req: "GET /\r\n", status: []int{400}, count: -1},
		{name: "HTTP/0.9 named", req: "GET / HTTP/0.9\r\n\r\n", status: []int{400, 505}},
		{name: "HTTP/2.0 in clear text", req: "GET / HTTP/2.0\r\n\r\n", status: []int{400, 505}},
		{name: "HTTP/1.1 with extra words", req: "GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", status: []int{400}},
		{name: "lower-case version", req: "GET / http/1.1\r\nHost: x\r\n\r\n", status: []int{400, 505}},
		{name: "version 1.12", req: "GET / HTTP/1.12\r\nHost: x\r\n\r\n", status: []int{400, 505}},
		{name: "relative request target", req: "GET index.html HTTP/1.1\r\nHost: x\r\n\r\n", status: []int{400}},
		{name: "missing Host", req: "GET / HTTP/1.1\r\n\r\n", status: []int{400}},
		{name: "two Hosts", req: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: []int{400}},
		{name: "Host with a slash", req: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", status: []int{400}},

		// Garbage.
		{name: "binary garbage", req: "\x00\x01\x02\xff\xfe garbage\r\n\r\n", status: []int{400}},
		{name: "TLS ClientHello on the plain port", req: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + strings.Repeat("\x00", 64) + "\r\n\r\n", status: []int{400}},
		{name: "NUL in a header value", req: get("/", "X-A: a\x00b\r\n"), status: []int{400}},
		{name: "NUL in a header name", req: get("/", "X-\x00A: b\r\n"), status: []int{400}},
		{name: "CR inside a header value", req: get("/", "X-A: a\rb\r\n"), status: []int{400}},
		{name: "header without colon", req: get("/", "X-A b\r\n"), status: []int{400}},
		// RFC 9112 section 5.2 lets a server unfold obs-fold, as net/http does.
		{name: "folded header", req: get("/", "X-A: a\r\n b\r\n"), status: []int{200, 400}},
		{name: "header name with a space", req: get("/", "X A: b\r\n"), status: []int{400}},
		{name: "empty header name", req: get("/", ": b\r\n"), status: []int{400}},
		{name: "no blank line, then end of input", req: "GET / HTTP/1.1\r\nHost: x\r\n", status: []int{400}, count: -1},
		{name: "only blank lines", req: "\r\n\r\n\r\n\r\n", status: []int{400}, count: -1},
	}
	for _, engine := range engines(t) {
		t.Run(engine.name, func(t *testing.T) {
			s := start(t, nil, append([]string{"--listen", "tcp:0:interface=127.0.0.1", "--path", tr.root}, engine.args...)...)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.run(t, s) })
			}
		})
	}
}

// malformed is one case of TestMalformed.
type malformed struct {
	name string
	req  string
	// status lists the acceptable statuses of the first response.
	status []int
	// count is how many responses must come back (default 1); -1:
	// none, or one with a status of the list.
	count int
	// stall: the client keeps its side open instead of half-closing
	// it, so a server waiting for more input would hang.
	stall bool
	check func(t *testing.T, rs []response)
}

// run sends the case's request to s and checks the answer.
func (tt malformed) run(t *testing.T, s *server) {
	wait := 10 * time.Second
	ex := rawExchange(t, s.addr(), []byte(tt.req), !tt.stall, wait)
	if ex.timedOut {
		t.Fatalf("the server neither answered nor closed the connection within %v; got %q", wait, clip(ex.data))
	}
	rs, err := responses(ex.data, "GET")
	if err != nil {
		t.Fatalf("unreadable response: %v\n%q", err, clip(ex.data))
	}
	count := tt.count
	switch {
	case count == 0:
		count = 1
	case count < 0:
		count = min(len(rs), 1)
	}
	if len(rs) != count {
		t.Fatalf("%d responses, want %d:\n%q", len(rs), count, clip(ex.data))
	}
	if count > 0 && !slices.Contains(tt.status, rs[0].status) {
		t.Errorf("status %d, want one of %v:\n%q", rs[0].status, tt.status, clip(ex.data))
	}
	for _, r := range rs {
		if strings.Contains(r.body, "sub page") {
			t.Errorf("the smuggled request was executed:\n%q", clip(ex.data))
		}
		if strings.Contains(r.body, marker) {
			t.Errorf("a secret was served:\n%q", clip(ex.data))
		}
	}
	if tt.check != nil && len(rs) > 0 {
		tt.check(t, rs)
	}
	checkServes(t, s)
}

// wholeIndex checks that the response is index.html, whole, once.
func wholeIndex(t *testing.T, rs []response) {
	t.Helper()
	if rs[0].body != indexBody || rs[0].header.Get("Content-Range") != "" {
		t.Errorf("want index.html whole with 200; got Content-Type %q, Content-Range %q, %d bytes",
			rs[0].header.Get("Content-Type"), rs[0].header.Get("Content-Range"), len(rs[0].body))
	}
}

// clip shortens data for a failure message.
func clip(data []byte) string {
	if len(data) > 600 {
		return string(data[:600]) + "..."
	}
	return string(data)
}

// TestAddHeaderInjection checks that --add-header cannot inject a second
// header or a response split: the server refuses to start, with one line
// naming the problem.
func TestAddHeaderInjection(t *testing.T) {
	for _, h := range []string{
		"X-A: a\r\nSet-Cookie: stolen=1",
		"X-A: a\nSet-Cookie: stolen=1",
		"X-A: a\r\n\r\n<html>",
		"X-A: a\x01b",
		"X-A: a\x7fb",
		"X A: b",
		"Set-Cookie\r\nX: b",
	} {
		t.Run(strconv.Quote(h), func(t *testing.T) {
			cmd := exec.Command(testbin.Gotwistd(t), "--nodaemon", "--pidfile=", "web", "--listen", "tcp:0:interface=127.0.0.1", "--add-header", h)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the server accepted --add-header %q and exited 0:\n%s", h, out)
			}
			if !strings.Contains(string(out), "--add-header") || strings.Contains(string(out), "Site starting") {
				t.Errorf("--add-header %q: want a usage error naming --add-header before listening, got:\n%s", h, out)
			}
		})
	}
}
