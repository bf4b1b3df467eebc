package h1

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gotwistd/gotwistd/web/tlsbatch"
)

// countConn counts the writes to the connection beneath.
type countConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

type countListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countConn{c, &l.writes}, nil
}

// readerOnly hides a reader's WriteTo, so io.Copy offers the body to the
// response's ReadFrom, as a file's copy does.
type readerOnly struct{ io.Reader }

// TestTLSBatchedCopy: a body copied through ReadFrom over TLS goes out
// batchedCopySize at a time, each chunk's records in one write to the
// socket (over web/tlsbatch, as gotwistd listens), not one write per
// 16 KB record; the body arrives whole, twice on one connection.
func TestTLSBatchedCopy(t *testing.T) {
	const size = 1 << 20
	body := strings.Repeat("0123456789abcdef", size/16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, readerOnly{strings.NewReader(body)})
	})
	s := &Server{Handler: h, ErrorLog: quietLog()}
	var cl *countListener
	addr, cfg := tlsServerWith(t, s, func(ln net.Listener, c *tls.Config) net.Listener {
		cl = &countListener{Listener: ln}
		return NewTLSListener(tlsbatch.Listener(cl), c)
	})
	c, br := dialTLS(t, addr, cfg, "http/1.1")
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		before := cl.writes.Load()
		io.WriteString(c, "GET /f HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != body {
			t.Fatalf("request %d: %d bytes (%v), want the %d sent", i, len(b), err, size)
		}
		// The head, then one write per chunk (and, the first time,
		// crypto/tls's session ticket).
		want := int64(size/batchedCopySize + 3)
		if n := cl.writes.Load() - before; n > want {
			t.Errorf("request %d: %d writes to the socket for a %d-byte body, want at most %d (%d records)", i, n, size, want, size/16384)
		}
	}
}
