package web

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHealthy checks Healthy against real servers on every kind of stream
// listener: it passes while the server serves, writes no access line, and
// does not fail a server that is shutting down.
func TestHealthy(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1)
	tests := []struct {
		name   string
		listen []string
		target string // the network Healthy checks
	}{
		{"tcp", []string{"tcp:0:interface=127.0.0.1"}, "tcp"},
		{"every address", []string{"tcp:0"}, "tcp"},
		{"ssl only", []string{sslEndpoint("ssl", dir)}, "tcp"},
		{"unix only", []string{"unix:" + filepath.Join(dir, "h.sock")}, "unix"},
		{"plain tcp preferred", []string{"unix:" + filepath.Join(dir, "p.sock"), sslEndpoint("ssl", dir), "tcp:0:interface=127.0.0.1"}, "tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"--path", dir}
			for _, l := range tt.listen {
				args = append(args, "--listen", l)
			}
			ts := startServer(t, args)
			addr, _, ok := waitServing(t, ts)
			if !ok || addr.Network() != tt.target {
				t.Fatalf("health target %v (%v), want a %s listener", addr, ok, tt.target)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for range 3 {
				if err := ts.Healthy(ctx); err != nil {
					t.Fatalf("Healthy on a serving server: %v", err)
				}
			}
			ts.stop() // flushes the access log
			if l := ts.log.find("OPTIONS"); l != "" {
				t.Errorf("the health check wrote an access line: %s", l)
			}
			if err := ts.Healthy(ctx); err != nil {
				t.Errorf("Healthy after Shutdown: %v, want nil (nothing to check)", err)
			}
		})
	}
}

// TestCheckHTTPFails points the check at sockets that do not serve: one
// whose backlog takes the connection but nobody accepts (a wedged accept
// loop), one that accepts and closes, and a closed port.
func TestCheckHTTPFails(t *testing.T) {
	wedged, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer wedged.Close()
	closing, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer closing.Close()
	go func() {
		for {
			c, err := closing.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()

	tests := []struct {
		name string
		addr net.Addr
		want string
	}{
		{"nobody accepts", wedged.Addr(), "no answer from"},
		{"accepts and closes", closing.Addr(), "no answer from"},
		{"closed port", gone.Addr(), "connect to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := checkHTTP(ctx, tt.addr, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkHTTP(%s) = %v, want an error with %q", tt.name, err, tt.want)
			}
		})
	}
}

// TestHealthyUnreachableUnixPath: a UNIX listener whose path this process
// cannot reach (it chrooted after binding) is not checked, rather than
// failed, so the watchdog does not restart a healthy server for ever.
func TestHealthyUnreachableUnixPath(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "u.sock")
	ts := startServer(t, []string{"--listen", "unix:" + sock + ":lockfile=0"})
	waitServing(t, ts)
	// Take the path away as a chroot would: the socket is still served.
	if err := os.Rename(sock, sock+".moved"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Healthy(ctx); err != nil {
		t.Errorf("Healthy with the socket's path gone: %v, want nil", err)
	}
	if err := checkHTTP(ctx, &net.UnixAddr{Name: sock + ".moved", Net: "unix"}, false); err != nil {
		t.Errorf("the socket itself does not serve: %v", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("timed out")
	}
}

// waitServing waits until Serve has started (it runs in its own goroutine)
// and returns the health check's target.
func waitServing(t *testing.T, ts *testServer) (net.Addr, bool, bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		ts.mu.Lock()
		serving := ts.state == stateServing
		ts.mu.Unlock()
		if serving {
			return ts.healthTarget()
		}
	}
	t.Fatal("Serve did not start")
	return nil, false, false
}
