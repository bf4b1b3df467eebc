package handover

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdServer is one generation whose handler for /hold waits for release;
// every answer names the generation, the method and the path, so a client
// sees which process served it and whether its request arrived whole.
type holdServer struct {
	*instance
	entered chan struct{}
	release chan struct{}
}

func startHold(t *testing.T, name string, l *net.TCPListener, st *store) *holdServer {
	t.Helper()
	h := &holdServer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h.instance = startWith(t, name, l, st, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			h.entered <- struct{}{}
			<-h.release
		}
		fmt.Fprintf(w, "%s %s %s", name, r.Method, r.URL.Path)
	}))
	return h
}

// only returns the one tracked connection.
func (t *Tracker) only(tb testing.TB) *conn {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.conns) != 1 {
		tb.Fatalf("%d tracked connections, want 1", len(t.conns))
	}
	for c := range t.conns {
		return c
	}
	return nil
}

// readBytes is how many bytes the server has taken off a tracked
// connection: what the kernel received on the socket, less what still
// waits in its buffer.
func readBytes(tb testing.TB, c *conn) int {
	tb.Helper()
	raw, err := c.fileConn.(*net.TCPConn).SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var n int
	var serr error
	raw.Control(func(fd uintptr) {
		// Received first: bytes arriving in between count as unread.
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			serr = err
			return
		}
		inq, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		if err != nil {
			serr = err
			return
		}
		n = int(info.Bytes_received) - inq
	})
	if serr != nil {
		tb.Fatal(serr)
	}
	return n
}

// stopAsync starts the handover of in and returns once it is under way
// (the tracker is leaving); the channel is closed when it is done.
func stopAsync(t *testing.T, in *instance) chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.l.(*listener).Listener.(*adopting).Listener.(noClose).Listener.(*net.TCPListener).SetDeadline(past)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if left, err := in.t.Handover(ctx); err != nil {
			t.Errorf("%s: handover left %d connections: %v", in.name, left, err)
		}
		in.srv.Shutdown(ctx)
		<-in.done
	}()
	for !in.t.leaving.Load() {
		time.Sleep(time.Millisecond)
	}
	return done
}

func readAnswer(c *client) (string, error) {
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestReadAheadIsNotLost: when the server has read bytes of the next
// request ahead, the request boundary is not a place to park the
// connection: the bytes would stay behind in this process and the next
// instance would read a request without its start ("ET /next": 400 or
// 405). The request is served here and the connection parked after it.
func TestReadAheadIsNotLost(t *testing.T) {
	const hold = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name string
		// with is sent with the held request, in the same write; early
		// while it is held; late after its answer, one write a piece.
		with, early string
		late        []string
	}{
		{
			// net/http's background read takes the first byte of a
			// request that arrives while a handler runs; the rest comes
			// later.
			name:  "background read",
			early: "G",
			late:  []string{"ET /next HTTP/1.1\r\nHost: x\r\n\r\n"},
		},
		{
			// Then the rest of the request line alone: once the
			// server has it, the connection is busy, even when its
			// buffer is empty again.
			name:  "background read, request line apart",
			early: "G",
			late:  []string{"ET /next HTTP/1.1\r\n", "Host: x\r\n\r\n"},
		},
		{
			// A pipelining client's next request, cut short: read into
			// the server's buffer with the first one, and the server
			// waits for its end.
			name: "pipelined, partial",
			with: "GET /next HT",
			late: []string{"TP/1.1\r\nHost: x\r\n\r\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.early != "" && !backgroundRead() {
				t.Skip("this engine reads nothing while a handler runs: no byte read ahead to lose")
			}
			l := listen(t)
			st := &store{}
			a := startHold(t, "a", l, st)
			c := dial(t, l.Addr().String())
			// A lost request would leave the client waiting: fail instead.
			c.c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c.c, hold+tt.with); err != nil {
				t.Fatal(err)
			}
			<-a.entered
			if _, err := io.WriteString(c.c, tt.early); err != nil {
				t.Fatal(err)
			}
			// The server has read ahead: every byte sent so far.
			tc := a.t.only(t)
			sent := len(hold) + len(tt.with) + len(tt.early)
			for begin := time.Now(); readBytes(t, tc) < sent; time.Sleep(time.Millisecond) {
				if time.Since(begin) > 10*time.Second {
					t.Fatalf("the server read %d of the %d bytes sent; the test needs it to read them all", readBytes(t, tc), sent)
				}
			}
			stopped := stopAsync(t, a.instance)
			close(a.release)
			if got, err := readAnswer(c); err != nil || got != "a GET /hold" {
				t.Fatalf("held request: %q, %v; want a GET /hold", got, err)
			}
			for _, piece := range tt.late {
				// Give a wrong handover time to happen (it parks the
				// connection within one turn of the Handover loop)
				// before the rest of the request could save it.
				for begin := time.Now(); a.t.count() == 1 && time.Since(begin) < 200*time.Millisecond; {
					time.Sleep(time.Millisecond)
				}
				if _, err := io.WriteString(c.c, piece); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := readAnswer(c); err != nil || got != "a GET /next" {
				t.Fatalf("next request: %q, %v; want a GET /next: served whole, by the instance that read its start", got, err)
			}
			<-stopped
			if parked, failed := a.t.Parked(); parked != 1 || failed != 0 {
				t.Errorf("parked %d, failed %d; want 1, 0", parked, failed)
			}
			b := start(t, "b", l, st, st.sockets(t))
			defer b.stop(t)
			if got, err := c.get("/"); err != nil || got != "b" {
				t.Errorf("after the handover: %q, %v; want b on the same connection", got, err)
			}
		})
	}
}

// TestBoundary: the first Read of a connection, and any Read as long as
// it, can be a request boundary; a shorter one cannot, nor an empty one.
func TestBoundary(t *testing.T) {
	tests := []struct {
		name  string
		reads []int
		want  []bool
	}{
		{"first read", []int{4096}, []bool{true}},
		{"whole buffer again", []int{4096, 4096, 4096}, []bool{true, true, true}},
		{"one byte held", []int{4096, 4095}, []bool{true, false}},
		{"bigger", []int{4096, 32768}, []bool{true, true}},
		{"empty read", []int{0, 4096, 10}, []bool{false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &conn{}
			for i, n := range tt.reads {
				if got := c.boundary(n); got != tt.want[i] {
					t.Errorf("read %d of %d bytes: boundary = %v, want %v", i, n, got, tt.want[i])
				}
			}
		})
	}
}
