package main

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

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
