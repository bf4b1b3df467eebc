package web

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotwistd/gotwistd/service"
	"github.com/gotwistd/gotwistd/systemd"
	"golang.org/x/sys/unix"
)

// heldQuery is a D-Bus question that systemd answers when the test says:
// called is closed once it is asked, and it returns answer once release
// is closed.
type heldQuery struct {
	called, release chan struct{}
	answer          systemd.FDStore
}

func newHeldQuery(answer systemd.FDStore) *heldQuery {
	return &heldQuery{called: make(chan struct{}), release: make(chan struct{}), answer: answer}
}

func (q *heldQuery) query(ctx context.Context) (systemd.FDStore, error) {
	close(q.called)
	<-q.release
	return q.answer, nil
}

// notifications reads what the server sent on the fake NOTIFY_SOCKET so
// far (up to a marker the test sends itself), and returns the messages
// and the descriptors they carried.
func notifications(t *testing.T, notify string, pm *net.UnixConn) (msgs []string, fds []int) {
	t.Helper()
	mark, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	mark.Write([]byte("MARK"))
	mark.Close()
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(16*4))
	for {
		n, oobn, _, _, err := pm.ReadMsgUnix(buf, oob)
		if err != nil {
			t.Fatal(err)
		}
		msg := string(buf[:n])
		if msg == "MARK" {
			return msgs, fds
		}
		msgs = append(msgs, msg)
		cmsgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for i := range cmsgs {
			f, _ := unix.ParseUnixRights(&cmsgs[i])
			fds = append(fds, f...)
		}
	}
}

// TestHandoverPlanAwaited: with --handover=auto, $NOTIFY_SOCKET set and
// no $FDSTORE (systemd 252), the server serves before systemd has said
// over D-Bus whether the unit has a file descriptor store, and Shutdown
// acts on the answer, even one that comes after Shutdown started: a store
// takes the idle keep-alive connection, no store (or a full one) closes
// it, and the store's size is logged.
func TestHandoverPlanAwaited(t *testing.T) {
	tests := []struct {
		name   string
		answer systemd.FDStore
		early  bool // answered before the request, else once Shutdown started
		parked bool
		log    string
	}{
		{"store, answered at Shutdown", systemd.FDStore{Max: 4096}, false, true, "File descriptor store: FileDescriptorStoreMax=4096, 0 held"},
		{"store, answered at once", systemd.FDStore{Max: 4096, Stored: 1}, true, true, "File descriptor store: FileDescriptorStoreMax=4096, 1 held"},
		{"no store, answered at Shutdown", systemd.FDStore{}, false, false, ""},
		{"no store, answered at once", systemd.FDStore{}, true, false, ""},
		{"full store, answered at Shutdown", systemd.FDStore{Max: 2, Stored: 2}, false, false, "The file descriptor store is full: 1 connections closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			notify, pm := fakeNotifySocket(t, dir)
			t.Setenv("FDSTORE", "")
			os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644)
			q := newHeldQuery(tt.answer)
			ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", dir, "--handover", "auto"},
				func(s *Server) { s.queryStore = q.query })
			<-q.called
			if tt.early {
				close(q.release)
				<-ts.pending.done
			}

			// Served while systemd has not answered (unless early).
			_, r := keptAlive(t, ts.addr(0), "/a.txt", "hello")

			stopped := make(chan struct{})
			go func() {
				ts.stop()
				close(stopped)
			}()
			if !tt.early {
				<-ts.stopping
				close(q.release)
			}
			<-stopped

			_, fds := notifications(t, notify, pm)
			for _, fd := range fds {
				unix.Close(fd)
			}
			if got := len(fds) == 1; got != tt.parked {
				t.Errorf("%d connections parked, want parked %v (log %q)", len(fds), tt.parked, ts.log.all())
			}
			if !tt.parked {
				// Shutdown closed it.
				if _, err := r.ReadByte(); err != io.EOF {
					t.Errorf("after Shutdown the client read %v, want EOF", err)
				}
			}
			if tt.log != "" && ts.log.find(tt.log) == "" {
				t.Errorf("no log line with %q in %q", tt.log, ts.log.all())
			}
			if !tt.parked && ts.log.find("Handed") != "" {
				t.Errorf("handover reported without a store with room: %q", ts.log.all())
			}
		})
	}
}

// TestHandoverPlanForgetsAfterAnswer: connections adopted while systemd
// is being asked how full the store is leave the store (FDSTOREREMOVE)
// only after the answer, which therefore counts them whatever the timing,
// and the room Shutdown gives the store counts them back.
func TestHandoverPlanForgetsAfterAnswer(t *testing.T) {
	dir := t.TempDir()
	notify, pm := fakeNotifySocket(t, dir)
	t.Setenv("FDSTORE", "")
	q := newHeldQuery(systemd.FDStore{Max: 4, Stored: 4})
	s := startHeld(t, dir, q)
	defer s.listeners[0].Close()
	<-q.called

	c, sock := parkedConn(t, s)
	defer c.Close()
	s.served[0].adopted = []systemd.Socket{sock}
	s.adoptedN = 1
	s.mu.Lock()
	ln := s.wrapPlain(0, s.listeners[0].Stream)
	s.mu.Unlock()
	defer ln.Close()
	if s.served[0].tracker == nil {
		t.Fatal("no tracker while systemd's answer is awaited")
	}
	if msgs, _ := notifications(t, notify, pm); strings.Contains(strings.Join(msgs, "\n"), "FDSTOREREMOVE") {
		t.Fatalf("the adopted connection left the store before systemd said how full it is: %q", msgs)
	}
	close(q.release)
	<-s.pending.done
	if msgs, _ := notifications(t, notify, pm); !strings.Contains(strings.Join(msgs, "\n"), "FDSTOREREMOVE=1\nFDNAME=gotwistd-conn") {
		t.Fatalf("notifications %q: the adopted connection did not leave the store after the answer", msgs)
	}
	s.settleHandover(context.Background())
	if s.plan.room != 1 || !s.plan.on {
		t.Errorf("plan on %v, room %d; want on, room 1 (4 of 4 held, 1 of them adopted)", s.plan.on, s.plan.room)
	}
}

// startHeld has a server listen (not serve) on a random port with
// --handover=auto, asking q.
func startHeld(t *testing.T, dir string, q *heldQuery) *Server {
	t.Helper()
	cfg, err := ParseArgs([]string{"--listen", "tcp:0:interface=127.0.0.1", "--path", dir, "--handover", "auto"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, service.Env{})
	if err != nil {
		t.Fatal(err)
	}
	s.queryStore = q.query
	if err := s.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHandoverPlanGivesUp: when Shutdown's time is up before systemd has
// answered, nothing is parked (the trackers are dropped, so idle
// connections are closed as without a store) and the adopted
// connections put off until the answer leave the store at once.
func TestHandoverPlanGivesUp(t *testing.T) {
	dir := t.TempDir()
	fakeNotifySocket(t, dir)
	t.Setenv("FDSTORE", "")
	q := newHeldQuery(systemd.FDStore{Max: 4096})
	defer close(q.release)
	s := startHeld(t, dir, q)
	defer s.listeners[0].Close()
	<-q.called
	s.mu.Lock()
	ln := s.wrapPlain(0, s.listeners[0].Stream)
	s.mu.Unlock()
	defer ln.Close()
	if s.served[0].tracker == nil {
		t.Fatal("no tracker while systemd's answer is awaited")
	}
	forgot := false
	s.pending.then(func() { forgot = true })
	if forgot {
		t.Fatal("then ran before the answer")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.settleHandover(ctx)
	if !forgot {
		t.Error("the put-off forget did not run when Shutdown gave up waiting")
	}
	if s.plan.on || s.handover || s.served[0].tracker != nil {
		t.Errorf("plan on %v, handover %v, tracker %v; want no handover", s.plan.on, s.handover, s.served[0].tracker)
	}
}
