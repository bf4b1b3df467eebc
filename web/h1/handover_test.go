package h1

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/handover"
	"github.com/gotwistd/gotwistd/systemd"
)

// TestHandoverBytesDuringHandler: the start of a next request that
// arrives while a handler runs and a handover begins is not lost: the
// instance that reads it serves the request whole (this engine reads
// nothing during a handler, so either instance may), and the connection
// is parked at the boundary after it; the next instance serves what
// follows on the same connection.
func TestHandoverBytesDuringHandler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var parked []*os.File
	tr := handover.New(handover.DefaultName)
	tr.Store = func(name string, files ...*os.File) (bool, error) {
		for _, f := range files {
			fd, err := syscall.Dup(int(f.Fd()))
			if err != nil {
				return false, err
			}
			parked = append(parked, os.NewFile(uintptr(fd), name))
		}
		return true, nil
	}
	entered, release := make(chan struct{}), make(chan struct{})
	a := &Server{ConnState: tr.ConnState, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			close(entered)
			<-release
		}
		io.WriteString(w, "a "+r.URL.Path)
	})}
	done := make(chan struct{})
	go func() { a.Serve(tr.Listener(noCloseListener{ln})); close(done) }()

	c := dial(t, ln.Addr().String())
	c.send("GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered
	c.send("GET /ne") // the start of the next request, during the handler
	stopped := make(chan error, 1)
	go func() {
		ln.(*net.TCPListener).SetDeadline(time.Unix(1, 0))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := tr.Handover(ctx)
		if err == nil {
			err = a.Shutdown(ctx)
		}
		stopped <- err
	}()
	close(release)
	if _, body, _ := c.read("GET"); body != "a /hold" {
		t.Fatalf("held request: %q", body)
	}
	c.send("xt HTTP/1.1\r\nHost: h\r\n\r\n")
	if err := <-stopped; err != nil {
		t.Fatalf("handover: %v", err)
	}
	<-done
	if len(parked) != 1 {
		t.Fatalf("%d connections parked, want 1", len(parked))
	}
	ln.(*net.TCPListener).SetDeadline(time.Time{})
	var socks []systemd.Socket
	for _, f := range parked {
		socks = append(socks, systemd.Socket{FD: int(f.Fd()), Name: handover.DefaultName, File: f, Family: syscall.AF_INET, Type: syscall.SOCK_STREAM})
	}
	b := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b "+r.URL.Path) })}
	go b.Serve(handover.Adopt(noCloseListener{ln}, socks))
	defer b.Close()
	if _, body, _ := c.read("GET"); body != "a /next" && body != "b /next" {
		t.Fatalf("next request: %q, want /next answered whole", body)
	}
	if got := c.get("/after"); got != "b /after" {
		t.Fatalf("after the handover: %q, want b /after", got)
	}
}

// noCloseListener keeps the listening socket open when a server stops, as
// systemd's socket unit does.
type noCloseListener struct{ net.Listener }

func (noCloseListener) Close() error { return nil }
