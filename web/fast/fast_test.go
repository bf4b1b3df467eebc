package fast

import "testing"

// plain is a request Plain accepts; the cases change one fact each.
var plain = Request{Method: "GET", Target: "/a.html?x=1", Proto: "HTTP/1.1", AcceptEncoding: "gzip", AcceptEncodingFields: 1}

func TestPlain(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Request)
		plain bool
	}{
		{"GET", func(*Request) {}, true},
		{"HEAD", func(r *Request) { r.Method = "HEAD" }, true},
		{"HTTP/2", func(r *Request) { r.Proto = "HTTP/2.0" }, true},
		{"no Accept-Encoding", func(r *Request) { r.AcceptEncoding, r.AcceptEncodingFields = "", 0 }, true},
		{"Origin, Referer, User-Agent", func(r *Request) { r.Origin, r.Referer, r.UserAgent = "https://o", "r", "ua" }, true},
		{"POST", func(r *Request) { r.Method = "POST" }, false},
		{"lower-case get", func(r *Request) { r.Method = "get" }, false},
		{"OPTIONS *", func(r *Request) { r.Method, r.Target = "OPTIONS", "*" }, false},
		{"absolute-form", func(r *Request) { r.Target = "http://h/a.html" }, false},
		{"empty target", func(r *Request) { r.Target = "" }, false},
		{"body", func(r *Request) { r.Body = true }, false},
		{"Range", func(r *Request) { r.Range = true }, false},
		{"precondition", func(r *Request) { r.Precondition = true }, false},
		{"Upgrade", func(r *Request) { r.Upgrade = true }, false},
		{"Expect", func(r *Request) { r.Expect = true }, false},
		{"two Accept-Encoding fields", func(r *Request) { r.AcceptEncodingFields = 2 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := plain
			tc.edit(&r)
			if got := r.Plain(); got != tc.plain {
				t.Errorf("Plain() = %v, want %v for %+v", got, tc.plain, r)
			}
		})
	}
}

func TestPath(t *testing.T) {
	for _, tc := range []struct{ target, path string }{
		{"/a.html?x=1", "/a.html"},
		{"/a.html", "/a.html"},
		{"/?", "/"},
		{"/a?b?c", "/a"},
		{"", ""},
	} {
		r := Request{Target: tc.target}
		if got := r.Path(); got != tc.path {
			t.Errorf("Path of %q = %q, want %q", tc.target, got, tc.path)
		}
	}
}

func TestString(t *testing.T) {
	b := []byte("abc")
	if s := String(b); s != "abc" {
		t.Errorf("String = %q", s)
	}
	if s := String(nil); s != "" {
		t.Errorf("String(nil) = %q", s)
	}
	if n := testing.AllocsPerRun(100, func() { _ = String(b) }); n != 0 {
		t.Errorf("String allocates %v times", n)
	}
}
