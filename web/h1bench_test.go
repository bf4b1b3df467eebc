package web

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkH1Cached measures what one HTTP/1.1 request for a small cached
// file costs the server (gotwistd's engine, its fast path), over loopback
// TCP with the access log off, with and without --metrics: the client
// pipelines 16 requests per write, as wrk's pipelining scripts do, and
// checks every status line.
func BenchmarkH1Cached(b *testing.B) {
	dir := b.TempDir()
	page := "<!DOCTYPE html><title>small</title><p>" + strings.Repeat("x", 160-43) + "</p>\n"
	if err := os.WriteFile(filepath.Join(dir, "small.html"), []byte(page), 0o644); err != nil {
		b.Fatal(err)
	}
	// The static handler caches a file once it is out of the racy
	// window (2 s after its last change).
	time.Sleep(2100 * time.Millisecond)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plain", nil},
		{"metrics", []string{"--metrics", "/metrics"}},
	} {
		ts := startServer(b, append([]string{"--listen", "tcp:0:interface=127.0.0.1", "--path", dir, "--no-access-log"}, tc.args...))
		nc, err := net.Dial("tcp", ts.addr(0))
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		c := &h1BenchClient{nc: nc, r: bufio.NewReaderSize(nc, 64<<10),
			req: []byte("GET /small.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\n\r\n")}
		const batch = 16
		for range 3 {
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
	}
}

// h1BenchClient sends pipelined GET requests and reads their responses.
type h1BenchClient struct {
	nc  net.Conn
	r   *bufio.Reader
	req []byte
	out []byte
}

// round sends n requests in one write and reads the n responses.
func (c *h1BenchClient) round(n int) error {
	c.out = c.out[:0]
	for range n {
		c.out = append(c.out, c.req...)
	}
	if _, err := c.nc.Write(c.out); err != nil {
		return err
	}
	for range n {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
			return fmt.Errorf("status line %q, want 200", line)
		}
		length := -1
		for {
			line, err = c.r.ReadSlice('\n')
			if err != nil {
				return err
			}
			if len(line) <= 2 {
				break
			}
			if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
				length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		if length < 0 {
			return fmt.Errorf("no Content-Length")
		}
		if _, err := c.r.Discard(length); err != nil {
			return err
		}
	}
	return nil
}

var _ io.Reader = (*bufio.Reader)(nil)
