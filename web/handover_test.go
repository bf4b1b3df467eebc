package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/handover"
	"github.com/gotwistd/gotwistd/service"
	"github.com/gotwistd/gotwistd/systemd"

	"golang.org/x/sys/unix"
)

func TestPlanHandover(t *testing.T) {
	store := func(max, stored uint32) func(context.Context) (systemd.FDStore, error) {
		return func(context.Context) (systemd.FDStore, error) {
			return systemd.FDStore{Unit: "/org/freedesktop/systemd1/unit/x_2eservice", Max: max, Stored: stored}, nil
		}
	}
	fail := func(err error) func(context.Context) (systemd.FDStore, error) {
		return func(context.Context) (systemd.FDStore, error) { return systemd.FDStore{}, err }
	}
	asked := func(context.Context) (systemd.FDStore, error) {
		t.Error("asked systemd over D-Bus, but the environment decides")
		return systemd.FDStore{}, nil
	}
	tests := []struct {
		name, mode, notify, fdstore string
		query                       func(context.Context) (systemd.FDStore, error)
		on                          bool
		room                        int
		note                        string // in the log line, "" for none
	}{
		{"auto with $FDSTORE", HandoverAuto, "/run/notify", "4096", asked, true, 4096, ""},
		{"auto, $FDSTORE zero", HandoverAuto, "/run/notify", "0", asked, false, -1, ""},
		{"auto, $FDSTORE garbage", HandoverAuto, "/run/notify", "lots", asked, false, -1, ""},
		{"auto, store from D-Bus (systemd 252)", HandoverAuto, "/run/notify", "", store(4096, 0), true, 4096, "FileDescriptorStoreMax=4096, 0 held"},
		{"auto, D-Bus: partly full", HandoverAuto, "/run/notify", "", store(10, 4), true, 6, "FileDescriptorStoreMax=10, 4 held"},
		{"auto, D-Bus: full", HandoverAuto, "/run/notify", "", store(4, 4), true, 0, "FileDescriptorStoreMax=4"},
		{"auto, D-Bus: no store", HandoverAuto, "/run/notify", "", store(0, 0), false, -1, ""},
		{"auto, D-Bus: not a service", HandoverAuto, "/run/notify", "", fail(fmt.Errorf("x: %w", systemd.ErrNoUnit)), false, -1, ""},
		{"auto, no D-Bus", HandoverAuto, "/run/notify", "", fail(os.ErrNotExist), false, -1, "No connection handover on stop"},
		{"on", HandoverOn, "/run/notify", "", asked, true, -1, ""},
		{"on with $FDSTORE", HandoverOn, "/run/notify", "8", asked, true, 8, ""},
		{"off", HandoverOff, "/run/notify", "4096", asked, false, -1, ""},
		{"no systemd", HandoverOn, "", "4096", asked, false, -1, ""},
		{"auto, no systemd", HandoverAuto, "", "", asked, false, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"NOTIFY_SOCKET": tt.notify, "FDSTORE": tt.fdstore}
			p := planHandover(tt.mode, func(k string) string { return env[k] }, tt.query)
			if p.on != tt.on || p.room != tt.room {
				t.Errorf("planHandover: on %v, room %d; want %v, %d", p.on, p.room, tt.on, tt.room)
			}
			if tt.note == "" && p.note != "" || !strings.Contains(p.note, tt.note) {
				t.Errorf("log line %q, want one with %q", p.note, tt.note)
			}
		})
	}
}

// fakeNotifySocket plays systemd's part: it listens on a unixgram socket
// in dir, closed at the end of the test, and names it in NOTIFY_SOCKET for
// the rest of the test. It returns the socket's path and the socket, from
// which to read what the server notifies.
func fakeNotifySocket(t *testing.T, dir string) (string, *net.UnixConn) {
	t.Helper()
	notify := filepath.Join(dir, "notify")
	pm, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pm.Close() })
	t.Setenv("NOTIFY_SOCKET", notify)
	return notify, pm
}

// listeningServer makes a Server for `gotwistd web ARGS...` and has it
// listen, but not serve: the test drives it from there.
func listeningServer(t *testing.T, args ...string) *Server {
	t.Helper()
	cfg, err := ParseArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, service.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestShutdownParksKeepAliveConnection plays systemd's part with a real
// unixgram NOTIFY_SOCKET: on Shutdown the server must send FDSTORE=1 with
// the client's connection attached, without closing it, so that whoever
// holds that fd next answers the client's next request on the same
// connection.
func TestShutdownParksKeepAliveConnection(t *testing.T) {
	dir := t.TempDir()
	_, pm := fakeNotifySocket(t, dir)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644)

	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", dir, "--handover", "on"})
	c, r := keptAlive(t, ts.addr(0), "/a.txt", "hello")

	ts.stop()
	if got := ts.log.find("Handed 1 idle connections"); got == "" {
		t.Errorf("no handover log line in %q", ts.log.all())
	}

	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := pm.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if msg := string(buf[:n]); !strings.Contains(msg, "FDSTORE=1") || !strings.Contains(msg, "FDNAME=gotwistd-conn") {
		t.Fatalf("notification %q is not an FD store entry", msg)
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(cmsgs) != 1 {
		t.Fatalf("control messages %v: %v", cmsgs, err)
	}
	fds, err := unix.ParseUnixRights(&cmsgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds %v: %v", fds, err)
	}
	f := os.NewFile(uintptr(fds[0]), "parked")
	parked, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	// The next holder answers on the same client connection.
	go func() {
		br := bufio.NewReader(parked)
		req, err := http.ReadRequest(br)
		if err != nil {
			parked.Close()
			return
		}
		fmt.Fprintf(parked, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
		parked.Close()
	}()
	fmt.Fprint(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("the parked connection was closed: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "/next" {
		t.Fatalf("next request answered %q", body)
	}
}

// stallListener stands for a Serve loop that has not yet noticed that its
// listener was closed: once the listener fails, Accept waits for release
// before it reports that.
type stallListener struct {
	net.Listener
	release chan struct{}
	closed  chan struct{} // closed by the first Close
	once    sync.Once
	entered chan struct{} // closed by the first Accept
	enter   sync.Once
}

// Close closes the listener, and lets a stalled Accept report it.
func (l *stallListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

func (l *stallListener) Accept() (net.Conn, error) {
	l.enter.Do(func() { close(l.entered) })
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.release
	}
	return c, err
}

// TestHandOverListenerClosedTwice: after the handover, the stream server's
// Shutdown closes its listener again, and hears that it is closed already
// when its Serve loop has not yet noticed the first Close (a race with the
// loop's goroutine, made certain here). Shutdown has still waited for every
// request: that is no failure, and handOver must not report one, or
// Shutdown would close every connection still open, requests in flight
// included, and the runner would log a warning.
func TestHandOverListenerClosedTwice(t *testing.T) {
	dir := t.TempDir()
	s := listeningServer(t, "--listen", "tcp:0:interface=127.0.0.1", "--path", dir, "--http1-engine", "net/http")
	defer s.listeners[0].Close()
	s.served[0].tracker = handover.New(handover.DefaultName)

	// The stream server, its Serve loop stalled on a closed listener.
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stall := &stallListener{Listener: inner, release: make(chan struct{}), closed: make(chan struct{}), entered: make(chan struct{})}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	s.served[0].engine = srv
	served := make(chan error, 1)
	go func() { served <- srv.Serve(stall) }()
	<-stall.entered
	inner.Close()
	// Once Shutdown has closed the listener again, the loop notices
	// (net/http's Shutdown waits for it).
	go func() {
		<-stall.closed
		close(stall.release)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.handOver(ctx, 0); err != nil {
		t.Errorf("handOver = %v, want nil", err)
	}
	<-served
}

// TestShutdownBeforeServeKeepsAdopted: when Shutdown comes before a
// listener's serving goroutine has run (a restart right after a start),
// that goroutine must not take the connections adopted from the previous
// instance: taking them tells systemd to forget its copies
// (FDSTOREREMOVE), and the server, already shut down, would then close
// them with their clients' requests unread.
func TestShutdownBeforeServeKeepsAdopted(t *testing.T) {
	dir := t.TempDir()
	notify, pm := fakeNotifySocket(t, dir)

	s := listeningServer(t, "--listen", "tcp:0:interface=127.0.0.1", "--path", dir, "--handover", "on")
	c, sock := parkedConn(t, s)
	defer c.Close()
	defer sock.File.Close()
	s.served[0].adopted = []systemd.Socket{sock}
	s.mu.Lock()
	s.state = stateServing // Serve started; its goroutine for listener 0 has not run
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.serveOne(0); err != nil {
		t.Errorf("serveOne after Shutdown: %v", err)
	}
	if s.served[0].adopted == nil {
		t.Error("the adopted connection was taken after Shutdown")
	}
	// Every notification the server sent comes before this marker.
	mark, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	mark.Write([]byte("MARK"))
	mark.Close()
	buf := make([]byte, 4096)
	for {
		n, err := pm.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		msg := string(buf[:n])
		if msg == "MARK" {
			break
		}
		if strings.Contains(msg, "FDSTOREREMOVE") {
			t.Errorf("the server told systemd to forget the parked connections: %q", msg)
		}
	}
}

// parkedConn makes a connection to listener 0 of s and returns its client
// end and its server end as systemd passes a connection the previous
// instance parked in its store.
func parkedConn(t *testing.T, s *Server) (net.Conn, systemd.Socket) {
	t.Helper()
	c, err := net.Dial("tcp", s.listeners[0].Stream.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s.listeners[0].Stream.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	f, err := sc.(*net.TCPConn).File()
	sc.Close()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c, systemd.Socket{FD: int(f.Fd()), Name: "gotwistd-conn", File: f, Family: unix.AF_INET, Type: unix.SOCK_STREAM}
}

// keptAlive connects to addr, GETs path on the connection and checks that
// the answer is want and keeps the connection open: a client idle between
// requests, as a handover finds it. The connection closes with the test.
func keptAlive(t *testing.T, addr, path, want string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != want || resp.Close {
		t.Fatalf("GET %s: %q (%v), close %v; want %q on a connection kept open", path, body, err, resp.Close, want)
	}
	return c, r
}
