package cgi

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		nph      bool
		status   int
		header   http.Header
		local    string
		err      string
	}{
		{name: "content type", in: "Content-Type: text/html\n", status: 200, header: http.Header{"Content-Type": {"text/html"}}},
		{name: "CRLF, no space", in: "Content-type:text/plain\r\nX-A:  b \r\n", status: 200,
			header: http.Header{"Content-Type": {"text/plain"}, "X-A": {"b"}}},
		{name: "status", in: "Status: 404 Not Found\nContent-Type: text/plain\n", status: 404, header: http.Header{"Content-Type": {"text/plain"}}},
		{name: "status alone", in: "Status: 204\n", status: 204, header: http.Header{}},
		{name: "client redirect", in: "Location: https://example.com/\n", status: 302, header: http.Header{"Location": {"https://example.com/"}}},
		{name: "redirect with status", in: "Status: 301 Moved\nLocation: /new\n", status: 301, header: http.Header{"Location": {"/new"}}},
		{name: "local redirect", in: "Location: /other?q=1\n", local: "/other?q=1", header: http.Header{}},
		{name: "relative path with other headers is a client redirect", in: "Location: /x\nContent-Type: text/plain\n", status: 302,
			header: http.Header{"Location": {"/x"}, "Content-Type": {"text/plain"}}},
		{name: "protocol-relative is not local", in: "Location: //evil.example/\n", status: 302, header: http.Header{"Location": {"//evil.example/"}}},
		{name: "dropped fields", in: "Content-Type: a/b\nServer: evil\nDate: x\nConnection: close\nTransfer-Encoding: chunked\n", status: 200,
			header: http.Header{"Content-Type": {"a/b"}}},
		{name: "repeated field", in: "Content-Type: a/b\nSet-Cookie: a=1\nSet-Cookie: b=2\n", status: 200,
			header: http.Header{"Content-Type": {"a/b"}, "Set-Cookie": {"a=1", "b=2"}}},
		{name: "content length", in: "Content-Type: a/b\nContent-Length: 12\n", status: 200, header: http.Header{"Content-Type": {"a/b"}, "Content-Length": {"12"}}},
		{name: "nph", in: "HTTP/1.1 201 Created\r\nContent-Type: a/b\r\n", nph: true, status: 201, header: http.Header{"Content-Type": {"a/b"}}},
		{name: "nph keeps its status over Status", in: "HTTP/1.0 200 OK\nStatus: 500\n", nph: true, status: 200, header: http.Header{}},

		{name: "empty", in: "", err: "no Content-Type, Location or Status"},
		{name: "no CGI field", in: "X-Foo: bar\n", err: "no Content-Type, Location or Status"},
		{name: "no colon", in: "hello world\n", err: "no colon"},
		{name: "bad name", in: "Bad Name: x\n", err: "not a token"},
		{name: "folded line", in: "Content-Type: a\n  continued\n", err: "no colon"},
		{name: "control character", in: "Content-Type: a\x01b\n", err: "control character"},
		{name: "status 1xx", in: "Status: 100 Continue\n", err: "not a final status"},
		{name: "status 600", in: "Status: 600\n", err: "not a final status"},
		{name: "status word", in: "Status: OK\n", err: "not a final status"},
		{name: "two statuses", in: "Status: 200\nStatus: 404\n", err: "two Status"},
		{name: "two locations", in: "Location: /a\nLocation: /b\n", err: "two Location"},
		{name: "bad content length", in: "Content-Type: a/b\nContent-Length: -1\n", err: "not a number"},
		{name: "nph without status line", in: "Content-Type: a/b\n", nph: true, err: "does not start with HTTP/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := ParseHeader([]byte(tc.in), tc.nph)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.status || resp.LocalRedirect != tc.local {
				t.Errorf("status %d local %q, want %d %q", resp.Status, resp.LocalRedirect, tc.status, tc.local)
			}
			if len(resp.Header) != len(tc.header) {
				t.Errorf("header %q, want %q", resp.Header, tc.header)
			}
			for k, v := range tc.header {
				if strings.Join(resp.Header[k], "|") != strings.Join(v, "|") {
					t.Errorf("%s = %q, want %q", k, resp.Header[k], v)
				}
			}
		})
	}
}

func TestHeaderEnd(t *testing.T) {
	for _, tc := range []struct {
		in         string
		block, sep int
	}{
		{"A: b\n\nbody", 5, 1},
		{"A: b\r\n\r\nbody", 6, 2},
		{"A: b\n\r\nbody", 5, 2},
		{"A: b\r\n\nbody", 6, 1},
		{"\nbody", 0, 1},
		{"\r\nbody", 0, 2},
		{"A: b\nC: d\n\n", 10, 1},
		{"A: b\n", -1, 0},
		{"A: b\n\r", -1, 0},
		{"", -1, 0},
	} {
		block, sep := headerEnd([]byte(tc.in))
		if block != tc.block || sep != tc.sep {
			t.Errorf("headerEnd(%q) = %d, %d; want %d, %d", tc.in, block, sep, tc.block, tc.sep)
		}
	}
}

// FuzzParseHeader checks that no output crashes the parser, that what it
// accepts is a final status or a local redirect, and that no field it
// passes on holds a line break.
func FuzzParseHeader(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.cgi")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b, false)
	}
	f.Add([]byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nbody"), false)
	f.Add([]byte("HTTP/1.1 202 Accepted\r\nX: y\r\n\r\n"), true)
	f.Add([]byte("Location: /x\n\n"), false)
	f.Fuzz(func(t *testing.T, out []byte, nph bool) {
		block, sep := headerEnd(out)
		if block < 0 {
			return
		}
		if block+sep > len(out) {
			t.Fatalf("headerEnd(%q) = %d, %d past the end", out, block, sep)
		}
		resp, err := ParseHeader(out[:block], nph)
		if err != nil {
			return
		}
		if resp.LocalRedirect == "" && (resp.Status < 200 || resp.Status > 599) {
			t.Fatalf("status %d from %q", resp.Status, out[:block])
		}
		for k, vs := range resp.Header {
			for _, v := range vs {
				if strings.ContainsAny(k+v, "\r\n\x00") {
					t.Fatalf("field %q: %q from %q", k, v, out[:block])
				}
			}
		}
	})
}
