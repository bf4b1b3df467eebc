package web

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawResponses writes req on a new connection to addr and returns the
// responses read until the server closes the connection, and whether it
// did within 10 s. With halfClose the client shuts its side after req.
func rawResponses(t *testing.T, addr, req string, halfClose bool) (statuses []int, bodies []string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	data, err := io.ReadAll(c)
	closed = !errors.Is(err, os.ErrDeadlineExceeded)
	r := bufio.NewReader(bytes.NewReader(data))
	for {
		if _, err := r.Peek(1); err != nil {
			return statuses, bodies, closed
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("response %d: %v in %q", len(statuses)+1, err, data)
		}
		b, _ := io.ReadAll(resp.Body)
		statuses = append(statuses, resp.StatusCode)
		bodies = append(bodies, string(b))
	}
}

// TestGuard checks the requests refused before the handler and the
// connections closed after a request body, on plain HTTP/1.1.
func TestGuard(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{"a.txt": "hello\n", "b.txt": "smuggled\n"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts := startServer(t, []string{"--listen", loopback, "--path", root})
	const next = "GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name      string
		req       string
		halfClose bool
		want      []int // statuses, in order
	}{
		{"target at the limit", "GET /a.txt?" + strings.Repeat("q", maxRequestTarget-len("/a.txt?")) + " HTTP/1.1\r\nHost: x\r\n\r\n", true, []int{200}},
		{"target over the limit", "GET /a.txt?" + strings.Repeat("q", maxRequestTarget) + " HTTP/1.1\r\nHost: x\r\n\r\n" + next, true, []int{414}},
		{"target over the limit, body that never comes", "GET /a.txt?" + strings.Repeat("q", maxRequestTarget) + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", false, []int{414}},
		{"chunked body", "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + next, true, []int{400}},
		{"Content-Length and chunked", "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + next, true, []int{400}},
		{"body on GET: connection closed after", "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + next, true, []int{200}},
		{"body that never comes: answered, closed", "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", false, []int{200}},
		{"chunked body that never ends: answered, closed", "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", false, []int{400}},
		{"Content-Length 0 keeps the connection", "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + next, true, []int{200, 200}},
		{"HEAD over the limit", "HEAD /" + strings.Repeat("a", maxRequestTarget) + " HTTP/1.1\r\nHost: x\r\n\r\n", true, []int{414}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			statuses, bodies, closed := rawResponses(t, ts.addr(0), tt.req, tt.halfClose)
			if !closed {
				t.Fatalf("the server neither answered nor closed within 10 s (got %v)", statuses)
			}
			if len(statuses) != len(tt.want) {
				t.Fatalf("statuses %v, want %v (bodies %q)", statuses, tt.want, bodies)
			}
			for i := range statuses {
				if statuses[i] != tt.want[i] {
					t.Errorf("statuses %v, want %v", statuses, tt.want)
				}
			}
		})
	}
	// The access log has the refusals too.
	ts.stop()
	if l := ts.log.find(`" 414 `); l == "" {
		t.Errorf("no access line for the 414")
	}
}

// TestGuardHTTP2 checks that over HTTP/2 a long target gets 414 and a body
// on GET neither closes the connection nor hangs.
func TestGuardHTTP2(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir, 1)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, []string{"--listen", sslEndpoint("ssl", dir), "--path", root})
	client := newClient(pool)
	base := "https://127.0.0.1:" + ts.port(0)
	resp, _ := get(t, client, "GET", base+"/a.txt?"+strings.Repeat("q", maxRequestTarget), nil)
	if resp.StatusCode != http.StatusRequestURITooLong || resp.ProtoMajor != 2 {
		t.Errorf("long target over %s: %d, want 414", resp.Proto, resp.StatusCode)
	}
	req, err := http.NewRequest("GET", base+"/a.txt", strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello\n" || resp.Close {
		t.Errorf("GET with a body over %s: %d %q, close %v", resp.Proto, resp.StatusCode, b, resp.Close)
	}
}
