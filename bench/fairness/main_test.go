package main

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestContentLength(t *testing.T) {
	tests := []struct {
		name, head string
		want       int64
		wantErr    string
	}{
		{"plain", "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", 42, ""},
		{"any case and spaces", "HTTP/1.1 200 OK\r\ncontent-length:  7 \r\nX: y\r\n\r\n", 7, ""},
		{"not 200", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", 0, "want 200"},
		{"no length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, "without Content-Length"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "bad Content-Length"},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Le", 0, "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := contentLength(bufio.NewReader(strings.NewReader(tt.head)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Fatalf("= %d, %v; want %d", n, err, tt.want)
			}
		})
	}
}

// TestRunCountsEveryConnection loads a real server and checks that every
// connection's requests and bytes are counted.
func TestRunCountsEveryConnection(t *testing.T) {
	body := strings.Repeat("x", 100_000)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/f" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	res, err := run(l.Addr().String(), "/f", 4, 200*time.Millisecond, 8192)
	if err != nil {
		t.Fatal(err)
	}
	if res.perConn[0] < 1 {
		t.Errorf("a connection completed no request: %v", res.perConn)
	}
	total := 0
	for _, n := range res.perConn {
		total += n
	}
	if total != len(res.latencies) || res.bytes != int64(total)*int64(len(body)) {
		t.Errorf("%d requests, %d latencies, %d bytes: want bytes = requests × %d", total, len(res.latencies), res.bytes, len(body))
	}
	if _, err := run(l.Addr().String(), "/missing", 1, 50*time.Millisecond, 8192); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404 gave %v, want an error naming it", err)
	}
}
