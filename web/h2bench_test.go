package web

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// BenchmarkH2Cached measures what one HTTP/2 request for a small cached
// file costs the server, over loopback TLS, with the access log off and
// writing to a file (as bench/run compares them). The client is a few
// lines over the raw frames that allocate nothing per request, so
// allocs/op is the server's; it sends 10 requests per write, as
// `h2load -m 10` does, and checks every response's :status.
func BenchmarkH2Cached(b *testing.B) {
	dir := b.TempDir()
	pool := writeCert(b, dir, 1)
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		b.Fatal(err)
	}
	page := "<!DOCTYPE html><title>small</title><p>" + strings.Repeat("x", 160-43) + "</p>\n"
	if err := os.WriteFile(filepath.Join(www, "small.html"), []byte(page), 0o644); err != nil {
		b.Fatal(err)
	}
	// The static handler caches a file once it is out of the racy
	// window (2 s after its last change).
	time.Sleep(2100 * time.Millisecond)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"log=off", []string{"--no-access-log"}},
		{"log=file", []string{"--logfile", filepath.Join(dir, "access.log")}},
		{"log=off,metrics", []string{"--no-access-log", "--metrics", "/metrics"}},
	} {
		ts := startServer(b, append([]string{"--listen", sslEndpoint("ssl", dir), "--path", www}, tc.args...))
		nc, err := tls.Dial("tcp", ts.addr(0), &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		c := newBenchClient(nc, "127.0.0.1:"+ts.port(0), "/small.html")
		const batch = 10
		for range 3 { // fill the cache, the HPACK tables and the pools
			if err := c.round(batch); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for done := 0; done < b.N; done += batch {
				if err := c.round(min(batch, b.N-done)); err != nil {
					b.Fatal(err)
				}
			}
		})
		if c.bodyBytes == 0 {
			b.Fatal("no body received")
		}
	}
}

// benchClient is a minimal HTTP/2 client for the benchmark: it sends
// GET requests for one path and reads their responses, checking :status,
// without allocating per request.
type benchClient struct {
	nc        io.ReadWriter
	r         *bufio.Reader
	out       []byte
	hb        bytes.Buffer
	enc       *hpack.Encoder
	dec       *hpack.Decoder
	authority string
	path      string
	next      uint32 // next stream id
	status    string // :status of the response being decoded
	unacked   int64  // DATA received since the last WINDOW_UPDATE
	bodyBytes int64
	payload   []byte
}

func newBenchClient(nc io.ReadWriter, authority, path string) *benchClient {
	c := &benchClient{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), authority: authority, path: path, next: 1,
		payload: make([]byte, 16<<10+9)}
	c.enc = hpack.NewEncoder(&c.hb)
	c.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			c.status = f.Value
		}
	})
	c.out = append(c.out, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"...)
	// SETTINGS_INITIAL_WINDOW_SIZE 1 GiB, and as much for the connection.
	c.out = appendBenchFrame(c.out, 0x4, 0, 0, []byte{0, 4, 0x40, 0, 0, 0})
	c.out = appendBenchFrame(c.out, 0x8, 0, 0, []byte{0x40, 0, 0, 0})
	return c
}

func appendBenchFrame(b []byte, typ, flags uint8, stream uint32, p []byte) []byte {
	b = append(b, byte(len(p)>>16), byte(len(p)>>8), byte(len(p)), typ, flags)
	b = binary.BigEndian.AppendUint32(b, stream)
	return append(b, p...)
}

// round sends n requests in one write and reads until all n ended.
func (c *benchClient) round(n int) error {
	for range n {
		c.hb.Reset()
		for _, f := range [...]hpack.HeaderField{
			{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
			{Name: ":authority", Value: c.authority}, {Name: ":path", Value: c.path},
			{Name: "user-agent", Value: "h2load nghttp2/1.52.0"},
		} {
			_ = c.enc.WriteField(f)
		}
		c.out = appendBenchFrame(c.out, 0x1, 0x4|0x1, c.next, c.hb.Bytes()) // END_HEADERS|END_STREAM
		c.next += 2
	}
	if c.unacked > 1<<28 {
		c.out = appendBenchFrame(c.out, 0x8, 0, 0, binary.BigEndian.AppendUint32(nil, uint32(c.unacked)))
		c.unacked = 0
	}
	if _, err := c.nc.Write(c.out); err != nil {
		return err
	}
	c.out = c.out[:0]
	for left := n; left > 0; {
		hdr := c.payload[:9]
		if _, err := io.ReadFull(c.r, hdr); err != nil {
			return err
		}
		length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := hdr[3], hdr[4]
		p := c.payload[9 : 9+length]
		if _, err := io.ReadFull(c.r, p); err != nil {
			return err
		}
		switch typ {
		case 0x0: // DATA
			c.unacked += int64(length)
			c.bodyBytes += int64(length)
		case 0x1: // HEADERS, never padded or prioritized by this server
			c.status = ""
			if _, err := c.dec.Write(p); err != nil {
				return err
			}
			if flags&0x4 == 0 {
				return fmt.Errorf("a HEADERS frame without END_HEADERS")
			}
			if c.status != "200" {
				return fmt.Errorf(":status %q, want 200", c.status)
			}
		case 0x3, 0x7: // RST_STREAM, GOAWAY
			return fmt.Errorf("frame type %d from the server", typ)
		case 0x4: // SETTINGS
			if flags&0x1 == 0 {
				if _, err := c.nc.Write(appendBenchFrame(nil, 0x4, 0x1, 0, nil)); err != nil {
					return err
				}
			}
		}
		if (typ == 0x0 || typ == 0x1) && flags&0x1 != 0 {
			left--
		}
	}
	return nil
}
