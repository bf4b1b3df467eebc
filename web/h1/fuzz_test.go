package h1

import (
	"bytes"
	"strings"
	"testing"
)

// outcome is what the connection makes of some input: the heads it
// accepts, in order, and the status of the error that ends it (0: none,
// the input ends inside a head or between heads).
type outcome struct {
	heads []string // each accepted request re-serialized
	code  int
}

// feed runs input through the connection's head machinery (blank lines,
// head end, partial checks, parse) in pieces of size step, as reads
// would deliver it. Bodies are not consumed: a request with one ends the
// feed, as the bytes after it are not a head.
func feed(in []byte, step int, lim limits) outcome {
	var out outcome
	var buf []byte
	scan, blank := 0, 0
	lineDone := false
	for fed := 0; fed < len(in) || len(buf) > 0; {
		if fed < len(in) {
			n := min(step, len(in)-fed)
			buf = append(buf, in[fed:fed+n]...)
			fed += n
		}
		for len(buf) > 0 {
			if n, lines := skipBlank(buf); n > 0 {
				blank += lines
				if blank > maxLeadingBlankLines {
					out.code = errBlankLines.code
					return out
				}
				buf, scan = buf[n:], 0
				continue
			}
			end, resume := headEnd(buf, scan)
			if end < 0 {
				scan = resume
				if e := checkPartial(buf, lim, &lineDone); e != nil {
					out.code = e.code
					return out
				}
				break
			}
			if end > lim.maxHead {
				out.code = errHeadTooLarge(buf, lim, &lineDone).code
				return out
			}
			scan, blank, lineDone = 0, 0, false
			var r Request
			if e := parse(buf[:end], &r, lim); e != nil {
				out.code = e.code
				return out
			}
			out.heads = append(out.heads, serialize(&r))
			buf = buf[end:]
			if r.contentLength > 0 || r.chunked {
				return out
			}
		}
		if fed == len(in) {
			break
		}
	}
	return out
}

// serialize writes a parsed request back in canonical form: CRLF line
// ends, one space after each colon.
func serialize(r *Request) string {
	var b strings.Builder
	b.Write(r.Method)
	b.WriteByte(' ')
	b.Write(r.Target)
	b.WriteByte(' ')
	b.Write(r.Proto)
	b.WriteString("\r\n")
	for _, f := range r.fields {
		b.Write(f.name)
		b.WriteString(": ")
		b.Write(f.value)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// FuzzParseRequest checks the parser on any input: it never panics; what
// it accepts, and whether it refuses the rest, is the same whether the
// input arrives at once or a byte at a time; an accepted head holds no CR, LF or NUL in any field, and parses
// again, re-serialized, to itself.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\n\n",
		"\r\nGET /a?b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n",
		"GET http://h/ HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
		"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
	} {
		f.Add([]byte(s))
	}
	lim := limits{maxHead: 2 << 10, maxTarget: 256}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := feed(in, len(in)+1, lim)
		bytewise := feed(in, 1, lim)
		// An input breaking two rules may be refused for either,
		// depending on which shows first: only refusal itself must agree.
		if len(whole.heads) != len(bytewise.heads) || (whole.code == 0) != (bytewise.code == 0) {
			t.Fatalf("at once: %d heads, code %d; a byte at a time: %d heads, code %d",
				len(whole.heads), whole.code, len(bytewise.heads), bytewise.code)
		}
		for i, h := range whole.heads {
			if h != bytewise.heads[i] {
				t.Fatalf("head %d differs:\n%q\n%q", i, h, bytewise.heads[i])
			}
			if i := bytes.IndexAny([]byte(h[:len(h)-4]), "\x00"); i >= 0 {
				t.Fatalf("accepted head holds NUL: %q", h)
			}
			again := feed([]byte(h), len(h), lim)
			if again.code != 0 || len(again.heads) != 1 || again.heads[0] != h {
				t.Fatalf("re-serialized head %q parses to %+v", h, again)
			}
			lines := strings.Split(strings.TrimSuffix(h, "\r\n\r\n"), "\r\n")
			for _, l := range lines {
				if strings.ContainsAny(l, "\r\n") {
					t.Fatalf("a field holds a line break: %q", l)
				}
			}
		}
	})
}
