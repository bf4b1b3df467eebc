package h2

import (
	"bytes"
	"net"
	"testing"

	"github.com/gotwistd/gotwistd/web/fast"
	"golang.org/x/net/http2/hpack"
)

// fixedFiles answers every plain request with one ready-made response,
// as the static cache answers a cached file.
type fixedFiles struct{ resp fast.Response }

func (f *fixedFiles) ServeFast(*fast.Request) (fast.Response, bool) { return f.resp, true }

// BenchmarkServeFast is a fast request once its header block is decoded:
// validate the fields, show them to the fast.Handler, and encode its
// answer (HEAD: no body queued). The stream is its one allocation.
func BenchmarkServeFast(b *testing.B) {
	nc, peer := net.Pipe()
	defer nc.Close()
	defer peer.Close()
	ff := &fixedFiles{fast.Response{Header: []byte("Accept-Ranges: bytes\r\nContent-Length: 160\r\nContent-Type: text/html\r\n" +
		"Etag: \"1-a0-1\"\r\nLast-Modified: Tue, 02 Jan 2024 03:04:06 GMT\r\nServer: gotwistd/1\r\n"), Body: make([]byte, 160)}}
	c := newConn(&Server{Fast: ff}, nc)
	fields := []hpack.HeaderField{
		{Name: ":method", Value: "HEAD"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: "www.example.com"},
		{Name: ":path", Value: "/index.html"},
		{Name: "user-agent", Value: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		{Name: "accept", Value: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		{Name: "accept-language", Value: "en-US,en;q=0.5"}, {Name: "accept-encoding", Value: "gzip, deflate, br, zstd"},
		{Name: "sec-fetch-dest", Value: "document"}, {Name: "priority", Value: "u=0, i"},
	}
	b.ReportAllocs()
	for b.Loop() {
		st := &stream{id: 1, window: c.peerWindow, recvWindow: defaultWindow, declared: -1, recvEnd: true}
		st.pend = st.pend0[:0]
		var h head
		if c.validate(st, fields, &h) != 0 || !c.serveFast(st, &h) {
			b.Fatal("not served fast")
		}
		c.out = c.out[:0]
	}
}

// BenchmarkDecode is the header block h2load sends for each request once
// its first has filled the table (indexed fields, :path as a literal
// nghttp2 never indexes), decoded again and again on one connection.
func BenchmarkDecode(b *testing.B) {
	nc, peer := net.Pipe()
	defer nc.Close()
	defer peer.Close()
	c := newConn(&Server{}, nc)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	fields := []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"}, {Name: ":authority", Value: "127.0.0.1:8443"},
		{Name: "user-agent", Value: "h2load nghttp2/1.52.0"}, {Name: "accept", Value: "*/*"},
	}
	for _, f := range fields {
		_ = enc.WriteField(f)
	}
	c.block = append(c.block[:0], hb.Bytes()...)
	if _, err := c.decode(); err != nil { // fills the decoder's table
		b.Fatal(err)
	}
	hb.Reset()
	for _, f := range fields {
		_ = enc.WriteField(f) // indexed now
	}
	_ = enc.WriteField(hpack.HeaderField{Name: ":path", Value: "/small.html", Sensitive: true}) // a literal left out of the table
	block := bytes.Clone(hb.Bytes())
	b.ReportAllocs()
	for b.Loop() {
		c.block = append(c.block[:0], block...)
		got, err := c.decode()
		if err != nil || len(got) != len(fields)+1 {
			b.Fatal("decode:", got, err)
		}
	}
}

// discard is a connection that takes every write.
type discard struct{ net.Conn }

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkLargeBody is the data path of a 100 KB body: its DATA frames
// into the output buffer, and the write, on 50 connections in turn (as
// h2load -c50 loads them: what each connection keeps is cold by its next
// turn). With a window as large as h2load's, nothing is allocated but the
// stream.
func BenchmarkLargeBody(b *testing.B) {
	nc, peer := net.Pipe()
	defer nc.Close()
	defer peer.Close()
	conns := make([]*conn, 50)
	for i := range conns {
		conns[i] = newConn(&Server{}, discard{nc})
	}
	body := make([]byte, 100<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := conns[i%len(conns)]
		i++
		c.sendWindow = maxWindow
		st := &stream{id: 1, window: maxWindow, recvEnd: true}
		st.pend = st.pend0[:0]
		c.mu.Lock()
		c.queueLocked(st, body, true)
		c.mu.Unlock()
		c.pump()
		c.flush()
		if !st.ended {
			b.Fatal("the body was not sent")
		}
	}
}
