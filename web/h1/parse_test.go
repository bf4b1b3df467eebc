package h1

import (
	"strings"
	"testing"
	"time"
)

var testLimits = limits{maxHead: 8 << 10, maxTarget: 1 << 10}

// parseHead runs the parser the way a connection does: blank lines
// skipped, head delimited, then parsed; or the partial check when the
// head is incomplete. code 0 means accepted, -1 incomplete and fine.
func parseHead(in string, lim limits) (r *Request, code int) {
	buf := []byte(in)
	n, _ := skipBlank(buf)
	buf = buf[n:]
	end, _ := headEnd(buf, 0)
	r = new(Request)
	r.reset()
	if end < 0 {
		done := false
		if e := checkPartial(buf, lim, &done); e != nil {
			return r, e.code
		}
		return r, -1
	}
	if end > lim.maxHead {
		done := false
		return r, errHeadTooLarge(buf, lim, &done).code
	}
	if e := parse(buf[:end], r, lim); e != nil {
		return r, e.code
	}
	return r, 0
}

func TestParse(t *testing.T) {
	long := strings.Repeat("a", 2<<10)
	tests := []struct {
		name string
		in   string
		code int
		// checks on an accepted request
		method, target, proto string
		cl                    int64
		chunked, close        bool
		host                  string
	}{
		{name: "simple", in: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.1", cl: -1, host: "x"},
		{name: "bare LF line ends", in: "GET / HTTP/1.1\nHost: x\n\n", method: "GET", target: "/", proto: "HTTP/1.1", cl: -1, host: "x"},
		{name: "HTTP/1.0 without Host", in: "GET /a?b HTTP/1.0\r\n\r\n", method: "GET", target: "/a?b", proto: "HTTP/1.0", cl: -1, close: true},
		{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.0", cl: -1},
		{name: "Connection close", in: "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.1", cl: -1, close: true, host: "x"},
		{name: "leading blank lines", in: "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.1", cl: -1, host: "x"},
		{name: "content length", in: "POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n", method: "POST", target: "/f", proto: "HTTP/1.1", cl: 12, host: "x"},
		{name: "chunked", in: "POST /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", method: "POST", target: "/f", proto: "HTTP/1.1", cl: -1, chunked: true, host: "x"},
		{name: "absolute form", in: "GET http://h/p HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", target: "http://h/p", proto: "HTTP/1.1", cl: -1, host: "x"},
		{name: "asterisk form", in: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", method: "OPTIONS", target: "*", proto: "HTTP/1.1", cl: -1, host: "x"},
		{name: "authority form", in: "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", method: "CONNECT", target: "h:443", proto: "HTTP/1.1", cl: -1, host: "h:443"},
		{name: "raw UTF-8 target", in: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", target: "/caf\xc3\xa9", proto: "HTTP/1.1", cl: -1, host: "x"},
		{name: "empty value and spaces", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A:\r\nX-B:  b c \t\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.1", cl: -1, host: "x"},
		{name: "obs-text value", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: \xff\x80\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.1", cl: -1, host: "x"},
		{name: "IPv6 host", in: "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.1", cl: -1, host: "[::1]:80"},

		{name: "incomplete head", in: "GET / HTTP/1.1\r\nHost: x\r\n", code: -1},
		{name: "incomplete request line", in: "GET /ab", code: -1},

		{name: "HTTP/0.9", in: "GET /\r\n", code: 400},
		{name: "lower-case version", in: "GET / http/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "HTTP/2.0", in: "GET / HTTP/2.0\r\n\r\n", code: 505},
		{name: "HTTP/1.2", in: "GET / HTTP/1.2\r\nHost: x\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.2", cl: -1, host: "x"},
		{name: "fragment", in: "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "bare fragment", in: "GET /# HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "HTTP/1.12", in: "GET / HTTP/1.12\r\nHost: x\r\n\r\n", code: 400},
		{name: "two spaces", in: "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "extra word", in: "GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", code: 400},
		{name: "tab separator", in: "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "relative target", in: "GET a HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "backslash target", in: "GET \\a HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "asterisk for GET", in: "GET * HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "method separator", in: "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "method NUL", in: "G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "method too long", in: strings.Repeat("G", 40) + " / HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "method too long, partial", in: strings.Repeat("G", 40), code: 400},
		{name: "garbage, partial", in: "\x16\x03\x01\x00", code: 400},
		{name: "NUL in target", in: "GET /a\x00 HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "DEL in target", in: "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", code: 400},
		{name: "target too long", in: "GET /" + long + " HTTP/1.1\r\nHost: x\r\n\r\n", code: 414},
		{name: "target too long, partial", in: "GET /" + long, code: 414},
		{name: "head too large, partial", in: "GET / HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 2000), code: 431},
		{name: "head too large", in: "GET / HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 2000) + "\r\n", code: 431},
		{name: "too many blank lines", in: "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", code: 0, method: "GET", target: "/", proto: "HTTP/1.1", cl: -1, host: "x"},

		{name: "bare CR in value", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", code: 400},
		{name: "bare CR line end", in: "GET / HTTP/1.1\rHost: x\r\n\r\n", code: 400},
		{name: "NUL in value", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", code: 400},
		{name: "control in value", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", code: 400},
		{name: "NUL in name", in: "GET / HTTP/1.1\r\nHost: x\r\nX-\x00A: b\r\n\r\n", code: 400},
		{name: "space in name", in: "GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", code: 400},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", code: 400},
		{name: "empty name", in: "GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n", code: 400},
		{name: "no colon", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A b\r\n\r\n", code: 400},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", code: 400},
		{name: "folded Transfer-Encoding", in: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n", code: 400},

		{name: "missing Host", in: "GET / HTTP/1.1\r\n\r\n", code: 400},
		{name: "two Hosts", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", code: 400},
		{name: "Host with slash", in: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", code: 400},
		{name: "Host with space", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", code: 400},

		{name: "two Content-Lengths", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", code: 400},
		{name: "two equal Content-Lengths", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", code: 400},
		{name: "Content-Length list", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n", code: 400},
		{name: "Content-Length sign", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n", code: 400},
		{name: "negative Content-Length", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", code: 400},
		{name: "huge Content-Length", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", code: 400},
		{name: "empty Content-Length", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", code: 400},
		{name: "CL and TE", in: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n", code: 400},
		{name: "TE and CL", in: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n", code: 400},
		{name: "TE twice", in: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", code: 400},
		{name: "TE xchunked", in: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", code: 501},
		{name: "TE list", in: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", code: 501},
		{name: "TE empty", in: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", code: 400},
		{name: "TE in HTTP/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", code: 400},
		{name: "Expect other", in: "GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n", code: 417},
		{name: "unsupported TE, then bad syntax", in: "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nX A: b\r\n\r\n", code: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "too many blank lines" {
				// Five leading empty lines: the connection refuses them
				// (skipBlank counts); the parser alone accepts the rest.
				if _, lines := skipBlank([]byte(tt.in)); lines <= maxLeadingBlankLines {
					t.Fatalf("%d blank lines counted", lines)
				}
			}
			r, code := parseHead(tt.in, testLimits)
			if code != tt.code {
				t.Fatalf("code %d, want %d", code, tt.code)
			}
			if code != 0 {
				return
			}
			if string(r.Method) != tt.method || string(r.Target) != tt.target || string(r.Proto) != tt.proto {
				t.Errorf("request line %q %q %q, want %q %q %q", r.Method, r.Target, r.Proto, tt.method, tt.target, tt.proto)
			}
			if r.contentLength != tt.cl || r.chunked != tt.chunked || r.close != tt.close {
				t.Errorf("framing cl=%d chunked=%v close=%v, want %d %v %v", r.contentLength, r.chunked, r.close, tt.cl, tt.chunked, tt.close)
			}
			if string(r.Host()) != tt.host {
				t.Errorf("Host %q, want %q", r.Host(), tt.host)
			}
		})
	}
}

// TestHeadEndResumes feeds a head a byte at a time: the end is found once,
// at the right place, whatever the line ends.
func TestHeadEndResumes(t *testing.T) {
	for _, in := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nHost: x\n\r\n",
		"GET / HTTP/1.1\nHost: x\r\n\n",
	} {
		resume := 0
		found := -1
		for i := 1; i <= len(in); i++ {
			end, r := headEnd([]byte(in[:i]), resume)
			if end >= 0 {
				found = end
				break
			}
			resume = r
		}
		if found != len(in) {
			t.Errorf("%q: end %d, want %d", in, found, len(in))
		}
	}
}

func TestHeaderAccessors(t *testing.T) {
	r, code := parseHead("GET / HTTP/1.1\r\nhost: h\r\nREFERER: r\r\nuser-agent: ua\r\nAccept-Encoding: gzip\r\nRange: bytes=1-\r\nIf-None-Match: x\r\nX-Y: z\r\n\r\n", testLimits)
	if code != 0 {
		t.Fatal(code)
	}
	if string(r.Host()) != "h" || string(r.Referer()) != "r" || string(r.UserAgent()) != "ua" || string(r.Header("x-y")) != "z" {
		t.Errorf("accessors: %q %q %q %q", r.Host(), r.Referer(), r.UserAgent(), r.Header("x-y"))
	}
	if ae, ok := r.AcceptEncoding(); !ok || string(ae) != "gzip" {
		t.Errorf("AcceptEncoding %q %v", ae, ok)
	}
	if !r.fast.Range || !r.fast.Precondition || r.fastRequest("", time.Time{}, false).Plain() {
		t.Errorf("range %v cond %v plain %v", r.fast.Range, r.fast.Precondition, r.fastRequest("", time.Time{}, false).Plain())
	}
	n := 0
	r.Field(func(name, value []byte) bool { n++; return true })
	if n != 7 {
		t.Errorf("Field saw %d fields", n)
	}
}

func TestParseChunkSize(t *testing.T) {
	tests := []struct {
		in   string
		n    int64
		fine bool
	}{
		{"0", 0, true}, {"a", 10, true}, {"FF", 255, true}, {"10;ext=1", 16, true}, {"10 ;ext", 16, true},
		{"", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"0x10", 0, false}, {"g", 0, false},
		{"1234567890abcdef", 0, false}, {"10;\x00", 0, false}, {" 10", 0, false},
	}
	for _, tt := range tests {
		n, ok := parseChunkSize([]byte(tt.in))
		if ok != tt.fine || ok && n != tt.n {
			t.Errorf("parseChunkSize(%q) = %d %v, want %d %v", tt.in, n, ok, tt.n, tt.fine)
		}
	}
}
