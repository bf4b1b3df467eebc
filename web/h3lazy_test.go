package web

import (
	"runtime"
	"strings"
	"testing"
)

// TestHTTP3IdleQUIC: a quic listener no datagram came to runs none of
// quic-go (what keeps an idle server's RSS down), Shutdown stops it, and
// Serve returns.
func TestHTTP3IdleQUIC(t *testing.T) {
	t.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	dir := t.TempDir()
	writeCert(t, dir, 1)
	ts := startServer(t, []string{"--listen", sslEndpoint("quic", dir), "--listen", loopback})
	// Once the plain listener answers, Serve has started every listener's
	// goroutine.
	resp, _ := get(t, newClient(nil), "GET", "http://"+ts.addr(1)+"/", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET on plain HTTP: %d", resp.StatusCode)
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "github.com/quic-go/quic-go.") {
		t.Errorf("quic-go runs before any datagram came:\n%s", stacks)
	}
	ts.stop()
	if l := ts.log.find("(UDP Port " + ts.port(0) + " Closed)"); l == "" {
		t.Errorf("no UDP port closed line in:\n%s", strings.Join(ts.log.all(), "\n"))
	}
}
