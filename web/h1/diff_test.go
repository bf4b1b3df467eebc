package h1

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// echo answers with what the server made of the request: the parts a
// handler sees.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var keys []string
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var h strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&h, "%s=%q ", k, r.Header[k])
	}
	fmt.Fprintf(w, "method=%q uri=%q url=%q path=%q proto=%q host=%q cl=%d te=%q close=%v body=%q err=%v\nheader: %s",
		r.Method, r.RequestURI, r.URL.String(), r.URL.Path, r.Proto, r.Host, r.ContentLength, r.TransferEncoding, r.Close, body, err != nil, h.String())
})

// dialRaw connects to addr for a raw exchange that must end within 10 s.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// exchange sends raw on a new connection and returns the first response's
// status and body; status 0 when the connection closed without one.
func exchange(t *testing.T, addr, raw string) (int, string) {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDifferential sends the same raw requests to this engine and to
// net/http's server with the same handler: both accept or both refuse,
// and what the handler sees of an accepted request is the same, except in
// the cases marked stricter, where this engine refuses what net/http
// accepts (see the package documentation).
func TestDifferential(t *testing.T) {
	ours := startEngine(t, &Server{Handler: echo, MaxHeaderBytes: 1 << 20})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	std := &http.Server{Handler: echo}
	go std.Serve(ln)
	t.Cleanup(func() { std.Close() })

	get := func(extra string) string { return "GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\n" + extra + "\r\n" }
	tests := []struct {
		name     string
		raw      string
		stricter bool // net/http accepts, this engine refuses (or fails the body read)
	}{
		{name: "plain", raw: get("")},
		{name: "HTTP/1.0", raw: "GET / HTTP/1.0\r\n\r\n"},
		{name: "HTTP/1.0 keep-alive", raw: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
		{name: "HTTP/1.0 with Host", raw: "GET / HTTP/1.0\r\nHost: h\r\n\r\n"},
		{name: "bare LF", raw: "GET / HTTP/1.1\nHost: h\n\n"},
		{name: "repeated fields", raw: get("Accept: a\r\nAccept: b\r\nX-Y: 1\r\nx-y: 2\r\n")},
		{name: "odd field name case", raw: get("cONTENT-tYPE: text/plain\r\nx_under_score: 1\r\n")},
		{name: "empty value", raw: get("X-Empty:\r\n")},
		{name: "spaces around value", raw: get("X-A:   a b  \t\r\n")},
		{name: "obs-text value", raw: get("X-A: caf\xc3\xa9\r\n")},
		{name: "Pragma no-cache", raw: get("Pragma: no-cache\r\n")},
		{name: "Connection close", raw: get("Connection: close\r\n")},
		{name: "Connection list", raw: get("Connection: keep-alive, close\r\n")},
		{name: "absolute form", raw: "GET http://other.example/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "absolute form https", raw: "GET https://other.example/ HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "escaped path", raw: "GET /a%20b/%2e%2e/c HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "bad escape", raw: "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "raw UTF-8 path", raw: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "semicolon query", raw: "GET /?a=1;b=2 HTTP/1.1\r\nHost: h\r\n\r\n"},
		// net/http passes "/a#b" on as the path; RFC 9112 has no '#'.
		{name: "fragment in target", raw: "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", stricter: true},
		{name: "double slash", raw: "GET //a//b HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "OPTIONS *", raw: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "CONNECT", raw: "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"},
		{name: "unknown method", raw: "FOO / HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "lower-case method", raw: "get / HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "Host with port", raw: "GET / HTTP/1.1\r\nHost: h:8080\r\n\r\n"},
		{name: "IPv6 Host", raw: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
		{name: "Host underscore", raw: "GET / HTTP/1.1\r\nHost: a_b\r\n\r\n"},
		{name: "Content-Length body", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "Content-Length 0", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"},
		{name: "Content-Length leading zeros", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 005\r\n\r\nhello"},
		{name: "chunked body", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-A: 1\r\n\r\n"},
		{name: "chunked upper case", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n"},
		{name: "body short of Content-Length", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello"},
		{name: "bad chunk size", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
		{name: "Expect 100-continue", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello"},

		{name: "missing Host", raw: "GET / HTTP/1.1\r\n\r\n"},
		{name: "two Hosts", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{name: "Host with slash", raw: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"},
		{name: "Host with space", raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
		{name: "HTTP/0.9", raw: "GET /\r\n\r\n"},
		{name: "HTTP/2.0", raw: "GET / HTTP/2.0\r\n\r\n"},
		{name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\nHost: h\r\n\r\n"},
		{name: "version garbage", raw: "GET / HTTP/x.y\r\nHost: h\r\n\r\n"},
		{name: "relative target", raw: "GET a HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "NUL in value", raw: get("X-A: a\x00b\r\n")},
		{name: "CR in value", raw: get("X-A: a\rb\r\n")},
		{name: "space in name", raw: get("X A: b\r\n")},
		{name: "space before colon", raw: get("X-A : b\r\n")},
		{name: "no colon", raw: get("X-A b\r\n")},
		{name: "method with separator", raw: "G(T / HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "two Content-Lengths", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
		{name: "Content-Length sign", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\na"},
		{name: "Content-Length list", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\na"},
		{name: "unknown Transfer-Encoding", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{name: "Expect other", raw: "GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n"},

		{name: "obs-fold", raw: get("X-A: a\r\n b\r\n"), stricter: true},
		{name: "two equal Content-Lengths", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", stricter: true},
		{name: "Content-Length and chunked", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", stricter: true},
		{name: "Transfer-Encoding twice", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "chunked in HTTP/1.0", raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", stricter: true},
		{name: "chunk size line with bare LF", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"},
		{name: "method of 40 letters", raw: strings.Repeat("M", 40) + " / HTTP/1.1\r\nHost: h\r\n\r\n", stricter: true},
		{name: "DEL in target", raw: "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ourCode, ourBody := exchange(t, ours, tt.raw)
			stdCode, stdBody := exchange(t, ln.Addr().String(), tt.raw)
			ourOK, stdOK := ourCode/100 == 2, stdCode/100 == 2
			if tt.stricter {
				bodyRefused := ourOK && strings.Contains(ourBody, "err=true") && strings.Contains(stdBody, "err=false")
				if !stdOK || ourOK && !bodyRefused {
					t.Fatalf("stricter case: net/http %d, this engine %d; want net/http to accept and this engine to refuse", stdCode, ourCode)
				}
				return
			}
			if ourOK != stdOK {
				t.Fatalf("net/http %d %q, this engine %d %q", stdCode, stdBody, ourCode, ourBody)
			}
			if ourOK && ourBody != stdBody {
				t.Errorf("the handler saw different requests:\nnet/http: %s\nengine:   %s", stdBody, ourBody)
			}
		})
	}
}

// startEngine serves with s on a loopback port until the test ends.
func startEngine(t *testing.T, s *Server) string {
	t.Helper()
	return serveLoopback(t, s, nil)
}
