package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testcert"
	"github.com/quic-go/quic-go/http3"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr string
	}{
		{name: "defaults", args: []string{"https://127.0.0.1:8443/small.html"},
			want: options{conns: 10, streams: 10, duration: 5 * time.Second, timeout: 10 * time.Second,
				headers: http.Header{}, url: "https://127.0.0.1:8443/small.html"}},
		{name: "every flag", args: []string{"-c", "50", "-m", "4", "-d", "1s", "-t", "3s",
			"-H", "Accept-Encoding: br, gzip", "-H", "X-A:b", "https://h:1/x.js"},
			want: options{conns: 50, streams: 4, duration: time.Second, timeout: 3 * time.Second,
				headers: http.Header{"Accept-Encoding": {"br, gzip"}, "X-A": {"b"}}, url: "https://h:1/x.js"}},
		{name: "no URL", args: []string{"-c", "2"}, wantErr: "want exactly one URL, got 0"},
		{name: "two URLs", args: []string{"https://a:1/", "https://b:1/"}, wantErr: "want exactly one URL, got 2"},
		{name: "plain http", args: []string{"http://127.0.0.1:80/"}, wantErr: "HTTP/3 is always over TLS"},
		{name: "no host", args: []string{"https:///x"}, wantErr: "want https://HOST:PORT/PATH"},
		{name: "zero connections", args: []string{"-c", "0", "https://h:1/"}, wantErr: "-c and -m must be at least 1"},
		{name: "zero streams", args: []string{"-m", "0", "https://h:1/"}, wantErr: "-c and -m must be at least 1"},
		{name: "negative duration", args: []string{"-d", "-1s", "https://h:1/"}, wantErr: "-d and -t must be positive"},
		{name: "duration without unit", args: []string{"-d", "5", "https://h:1/"}, wantErr: "invalid value \"5\" for flag -d"},
		{name: "bad header", args: []string{"-H", "nocolon", "https://h:1/"}, wantErr: `header "nocolon": want 'Name: value'`},
		{name: "unknown flag", args: []string{"-x", "https://h:1/"}, wantErr: "flag provided but not defined: -x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.conns != tt.want.conns || got.streams != tt.want.streams || got.duration != tt.want.duration ||
				got.timeout != tt.want.timeout || got.url != tt.want.url {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			if len(got.headers) != len(tt.want.headers) {
				t.Fatalf("headers %v, want %v", got.headers, tt.want.headers)
			}
			for k, v := range tt.want.headers {
				if strings.Join(got.headers[k], "|") != strings.Join(v, "|") {
					t.Fatalf("header %s = %q, want %q", k, got.headers[k], v)
				}
			}
		})
	}
}

func TestFormatResult(t *testing.T) {
	r := result{requests: 19199, elapsed: 2 * time.Second, bytes: 4204581, errors: 3, non2xx: 1,
		p50: 1341 * time.Microsecond, p99: 6305 * time.Microsecond, cpu: 1530409 * time.Microsecond,
		firstErr: "timeout:\nno recent network activity"}
	want := `finished in 2.00s, 9599.50 req/s, 4204581 body bytes
requests: 19199 done, 3 errors, 1 non-2xx/3xx
latency: p50 1.341 ms, p99 6.305 ms
client CPU: 1.53 s (77% of one core)
first error: timeout: no recent network activity
H3LOAD requests=19199 duration_us=2000000 bytes=4204581 errors=3 non2xx=1 p50_us=1341 p99_us=6305 cpu_us=1530409
`
	if got := formatResult(r); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPercentiles(t *testing.T) {
	tests := []struct {
		name     string
		lat      []int
		p50, p99 time.Duration
	}{
		{name: "none", lat: nil},
		{name: "one", lat: []int{7}, p50: 7, p99: 7},
		{name: "unsorted hundred", lat: func() []int {
			var xs []int
			for i := 100; i >= 1; i-- {
				xs = append(xs, i)
			}
			return xs
		}(), p50: 50, p99: 99},
		{name: "two", lat: []int{9, 1}, p50: 1, p99: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d []time.Duration
			for _, x := range tt.lat {
				d = append(d, time.Duration(x))
			}
			p50, p99 := percentiles(d)
			if p50 != tt.p50 || p99 != tt.p99 {
				t.Fatalf("p50 %v p99 %v, want %v %v", p50, p99, tt.p50, tt.p99)
			}
		})
	}
}

func TestRunBadArgs(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"http://x/"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if first := strings.SplitN(errb.String(), "\n", 2)[0]; !strings.HasPrefix(first, "h3load: error: URL") {
		t.Fatalf("first line %q", first)
	}
	out.Reset()
	if code := run([]string{"-h"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "usage: h3load") {
		t.Fatalf("-h: exit %d, output %q", code, out.String())
	}
}

// TestLoadAgainstHTTP3Server loads a real quic-go HTTP/3 server on a
// loopback UDP port and checks the counts: every response is the page, the
// header asked for is sent and no other Accept-Encoding is added.
func TestLoadAgainstHTTP3Server(t *testing.T) {
	cert, err := testcert.New(testcert.Options{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	page := []byte(strings.Repeat("x", 160))
	var badHeader atomic.Int64
	srv := &http3.Server{
		TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert.TLS()}}),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Accept-Encoding") != "br, gzip" {
				badHeader.Add(1)
			}
			if r.URL.Path == "/missing" {
				http.NotFound(w, r)
				return
			}
			w.Write(page)
		}),
	}
	go srv.Serve(pc)
	defer srv.Close()
	base := "https://" + pc.LocalAddr().String()

	o, err := parseArgs([]string{"-c", "2", "-m", "3", "-d", "300ms", "-H", "Accept-Encoding: br, gzip", base + "/page"})
	if err != nil {
		t.Fatal(err)
	}
	r := load(context.Background(), o)
	if r.requests == 0 || r.errors != 0 || r.non2xx != 0 {
		t.Fatalf("got %d requests, %d errors (first: %s), %d non-2xx; want some, 0, 0", r.requests, r.errors, r.firstErr, r.non2xx)
	}
	if r.bytes != r.requests*int64(len(page)) {
		t.Fatalf("%d body bytes for %d requests of %d bytes", r.bytes, r.requests, len(page))
	}
	if n := badHeader.Load(); n != 0 {
		t.Fatalf("%d requests came without exactly Accept-Encoding: br, gzip", n)
	}
	if r.p50 <= 0 || r.p99 < r.p50 {
		t.Fatalf("p50 %v, p99 %v", r.p50, r.p99)
	}

	o.url = base + "/missing"
	if r := load(context.Background(), o); r.requests == 0 || r.non2xx != r.requests {
		t.Fatalf("404s: %d requests, %d counted non-2xx", r.requests, r.non2xx)
	}
}

// FuzzParseArgs feeds -H values and URLs: parsing never panics, and an
// accepted header is stored under its trimmed name with its trimmed value.
func FuzzParseArgs(f *testing.F) {
	f.Add("Accept-Encoding: br, gzip", "https://127.0.0.1:8443/small.html")
	f.Add("nocolon", "http://x/")
	f.Add(":", "https://[::1]:1/")
	f.Add("X: a:b", "https://h/%zz")
	f.Fuzz(func(t *testing.T, header, url string) {
		o, err := parseArgs([]string{"-H", header, url})
		if err != nil {
			return
		}
		name, value, _ := strings.Cut(header, ":")
		if got := o.headers.Values(strings.TrimSpace(name)); len(got) != 1 || got[0] != strings.TrimSpace(value) {
			t.Fatalf("-H %q gave %q", header, o.headers)
		}
		if o.url != url {
			t.Fatalf("url %q, want %q", o.url, url)
		}
	})
}
