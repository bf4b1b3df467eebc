package web

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawHead sends raw on a new connection and returns the status line and
// header of the answer.
func rawHead(t *testing.T, addr, raw string) (string, http.Header) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("%q: no answer: %v", raw, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(line), br)), nil)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	resp.Body.Close()
	return strings.TrimRight(line, "\r\n"), resp.Header
}

// TestRefusalsCarryDateAndServer: the answers the HTTP/1.1 engine gives on
// its own (400, 414, 431, 505), and those of the request guard (a raw '#'
// in the target, a target too long), carry Date and Server like every
// other answer. With --http1-engine net/http, net/http's own 400, 431 and
// 505 are written by net/http, without them; the guard's are checked.
func TestRefusalsCarryDateAndServer(t *testing.T) {
	long := "/" + strings.Repeat("a", maxRequestTarget+10)
	cases := []struct {
		name, raw, status string
		netHTTP           bool // net/http's answer is ours too
	}{
		{"no Host", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request", false},
		{"fragment", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request", true},
		{"target too long", "GET " + long + " HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 414 Request URI Too Long", true},
		{"head too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("b", 70<<10) + "\r\n\r\n", "HTTP/1.1 431 Request Header Fields Too Large", false},
		{"HTTP/2.5", "GET / HTTP/2.5\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported", false},
	}
	for _, engine := range []string{EngineGotwistd, EngineNetHTTP} {
		ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--http1-engine", engine})
		for _, tc := range cases {
			if engine == EngineNetHTTP && !tc.netHTTP {
				continue
			}
			t.Run(engine+" "+tc.name, func(t *testing.T) {
				line, h := rawHead(t, ts.addr(0), tc.raw)
				if !strings.HasPrefix(line, tc.status) {
					t.Errorf("status line %q, want %q", line, tc.status)
				}
				if h.Get("Date") == "" || h.Get("Server") != "gotwistd/1.2.3" {
					t.Errorf("Date %q, Server %q", h.Get("Date"), h.Get("Server"))
				}
			})
		}
	}
}

// TestHTTP12AnsweredAs11: a request in HTTP/1.2 is served, in HTTP/1.1
// (RFC 9110 section 2.5), by both engines.
func TestHTTP12AnsweredAs11(t *testing.T) {
	for _, engine := range []string{EngineGotwistd, EngineNetHTTP} {
		ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--http1-engine", engine})
		line, h := rawHead(t, ts.addr(0), "GET / HTTP/1.2\r\nHost: x\r\n\r\n")
		if line != "HTTP/1.1 200 OK" || h.Get("Server") == "" {
			t.Errorf("%s: %q %v, want HTTP/1.1 200 OK", engine, line, h)
		}
	}
}

// TestHTTP10AnsweredIn11: gotwistd's engine answers HTTP/1.0 requests
// with an HTTP/1.1 status line (RFC 9110 section 2.5, as nginx does),
// saying "Connection: close" when it closes, "keep-alive" when the client
// asked to keep it; the cached-file fast path and the handler alike.
// (--http1-engine net/http answers "HTTP/1.0", as net/http does.)
func TestHTTP10AnsweredIn11(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f.txt"), []byte("f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", root})
	for _, path := range []string{"/f.txt", "/f.txt", "/missing"} {
		for _, tc := range []struct{ conn, want string }{{"", "Connection: close"}, {"Connection: keep-alive\r\n", "Connection: keep-alive"}} {
			c, err := net.Dial("tcp", ts.addr(0))
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET "+path+" HTTP/1.0\r\n"+tc.conn+"\r\n")
			if tc.conn == "" {
				all, _ := io.ReadAll(c) // the server closes
				head, _, _ := strings.Cut(string(all), "\r\n\r\n")
				if !strings.HasPrefix(head, "HTTP/1.1 ") || !strings.Contains(head+"\r\n", "\r\n"+tc.want+"\r\n") {
					t.Errorf("GET %s HTTP/1.0: %q", path, head)
				}
			} else {
				line, h := rawHead(t, ts.addr(0), "GET "+path+" HTTP/1.0\r\n"+tc.conn+"\r\n")
				if !strings.HasPrefix(line, "HTTP/1.1 ") || h.Get("Connection") != "keep-alive" {
					t.Errorf("GET %s HTTP/1.0 keep-alive: %q %v", path, line, h)
				}
			}
			c.Close()
		}
	}
}
