package hostile

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMaxConnections fills --max-connections with keep-alive clients:
// connections beyond it are closed at once without a byte, the clients
// inside keep being served, and new clients are served again as soon as a
// slot is free.
func TestMaxConnections(t *testing.T) {
	const limit = 8
	tr := newTree(t)
	s := start(t, nil, "--listen", "tcp:0:interface=127.0.0.1", "--path", tr.root, "--max-connections=8")
	type held struct {
		c net.Conn
		r *bufio.Reader
	}
	request := func(h held) error {
		if _, err := io.WriteString(h.c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		h.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(h.r, nil)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && string(b) != indexBody {
			t.Errorf("held connection got %d %q", resp.StatusCode, b)
		}
		return err
	}
	var conns []held
	for i := range limit {
		c, err := net.Dial("tcp", s.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		h := held{c, bufio.NewReader(c)}
		if err := request(h); err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, limit, err)
		}
		conns = append(conns, h)
	}
	for i := range 20 {
		c, err := net.Dial("tcp", s.addr())
		if err != nil {
			// A full accept queue would be a refusal too, but the
			// server accepts and closes: the dial itself succeeds.
			t.Fatalf("excess connection %d: dial: %v", i+1, err)
		}
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		if len(b) > 0 || (err != nil && !strings.Contains(err.Error(), "reset")) {
			t.Errorf("excess connection %d: got %q, %v; want it closed without a byte", i+1, b, err)
		}
	}
	for i, h := range conns {
		if err := request(h); err != nil {
			t.Errorf("held connection %d after the refusals: %v", i+1, err)
		}
	}
	// Logged as the first excess connection was closed; it may still be
	// in the pipe from the server.
	waitLog(t, s, regexp.MustCompile(`the --max-connections limit`), 15*time.Second)
	for _, h := range conns {
		h.c.Close()
	}
	// The server frees a slot when it sees the client's end of the
	// connection: retry briefly.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(s.url("/"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no normal request served within 10 s of freeing every slot: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkServes(t, s)
}
