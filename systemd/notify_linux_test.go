package systemd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// manager is a fake service manager: a real unixgram socket, like the one
// systemd listens on, that the test reads datagrams from.
type manager struct {
	t    *testing.T
	conn *net.UnixConn
	addr string
}

// listenManager listens on addr (a path or "@name"), sets NOTIFY_SOCKET to
// it for the test, and turns on SO_PASSCRED as systemd does.
func listenManager(t *testing.T, addr string) *manager {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	t.Setenv("NOTIFY_SOCKET", addr)
	return &manager{t: t, conn: c, addr: addr}
}

func pathManager(t *testing.T) *manager {
	t.Helper()
	return listenManager(t, filepath.Join(t.TempDir(), "notify"))
}

func abstractManager(t *testing.T) *manager {
	t.Helper()
	return listenManager(t, fmt.Sprintf("@gotwistd-test/%d/%d", os.Getpid(), time.Now().UnixNano()))
}

// message is one datagram as the manager sees it.
type message struct {
	text  string
	files []*os.File
	cred  *unix.Ucred
}

// read returns the next datagram; a guard deadline turns a missing
// message into a failure instead of a hang.
func (m *manager) read() message {
	m.t.Helper()
	got, err := m.tryRead()
	if err != nil {
		m.t.Fatal(err)
	}
	return got
}

// tryRead is read for goroutines other than the test's.
func (m *manager) tryRead() (message, error) {
	if err := m.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return message{}, err
	}
	buf := make([]byte, maxMessage+1)
	oob := make([]byte, unix.CmsgSpace(4*maxFiles)+unix.CmsgSpace(unix.SizeofUcred))
	n, oobn, flags, _, err := m.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return message{}, fmt.Errorf("read notification: %w", err)
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return message{}, fmt.Errorf("notification truncated (flags %#x)", flags)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return message{}, err
	}
	got := message{text: string(buf[:n])}
	for _, cm := range msgs {
		if fds, err := unix.ParseUnixRights(&cm); err == nil {
			for _, fd := range fds {
				f := os.NewFile(uintptr(fd), "received")
				m.t.Cleanup(func() { f.Close() })
				got.files = append(got.files, f)
			}
			continue
		}
		if cred, err := unix.ParseUnixCredentials(&cm); err == nil {
			got.cred = cred
		}
	}
	return got, nil
}

// fstat stats f without (*os.File).Fd, which would make f blocking.
func fstat(t *testing.T, f *os.File) unix.Stat_t {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return st
}

func sameFile(t *testing.T, a, b *os.File) bool {
	t.Helper()
	sa, sb := fstat(t, a), fstat(t, b)
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// TestRealSocket sends every helper's message over a real path socket and
// a real abstract socket and reads each datagram back.
func TestRealSocket(t *testing.T) {
	for _, kind := range []struct {
		name   string
		listen func(*testing.T) *manager
	}{{"path", pathManager}, {"abstract", abstractManager}} {
		t.Run(kind.name, func(t *testing.T) {
			m := kind.listen(t)
			steps := []struct {
				call func() (bool, error)
				want string
			}{
				{func() (bool, error) { return Ready("serving /srv on tcp:8080") }, "READY=1\nSTATUS=serving /srv on tcp:8080"},
				{func() (bool, error) { return Status("2 connections") }, "STATUS=2 connections"},
				{func() (bool, error) { return ExtendTimeout(time.Minute) }, "EXTEND_TIMEOUT_USEC=60000000"},
				{func() (bool, error) {
					return Errno(&net.OpError{Op: "listen", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}, "")
				}, "STATUS=listen: bind: address already in use\nERRNO=98"},
				{func() (bool, error) { return RemoveStoredFiles("conn") }, "FDSTOREREMOVE=1\nFDNAME=conn"},
				{func() (bool, error) { return Stopping("shutting down") }, "STOPPING=1\nSTATUS=shutting down"},
				{func() (bool, error) { return Notify("STATUS=" + strings.Repeat("x", maxMessage-7)) }, "STATUS=" + strings.Repeat("x", maxMessage-7)},
			}
			for i, s := range steps {
				sent, err := s.call()
				if !sent || err != nil {
					t.Fatalf("step %d: got (%v, %v), want (true, nil)", i, sent, err)
				}
				got := m.read()
				if got.text != s.want {
					t.Errorf("step %d: manager read %q, want %q", i, got.text, s.want)
				}
				if len(got.files) != 0 {
					t.Errorf("step %d: %d unexpected files", i, len(got.files))
				}
				// systemd's NotifyAccess=main matches the kernel-attached pid.
				if got.cred == nil || int(got.cred.Pid) != os.Getpid() {
					t.Errorf("step %d: credentials %+v, want our pid %d", i, got.cred, os.Getpid())
				}
			}
			if v := os.Getenv("NOTIFY_SOCKET"); v != m.addr {
				t.Errorf("NOTIFY_SOCKET is now %q, want it left as %q", v, m.addr)
			}
		})
	}
}

func TestRealSocketErrors(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stream, err := net.Listen("unix", filepath.Join(dir, "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	tests := []struct {
		name string
		addr string
		want error
	}{
		{"missing path", filepath.Join(dir, "missing"), syscall.ENOENT},
		{"regular file", regular, syscall.ECONNREFUSED},
		{"stream socket", filepath.Join(dir, "stream"), syscall.EPROTOTYPE},
		{"missing abstract", fmt.Sprintf("@gotwistd-test/none/%d", time.Now().UnixNano()), syscall.ECONNREFUSED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tc.addr)
			sent, err := Ready("")
			if sent || !errors.Is(err, tc.want) {
				t.Fatalf("got (%v, %v), want (false, error wrapping %v)", sent, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.addr) {
				t.Errorf("error %q does not name NOTIFY_SOCKET", err)
			}
		})
	}
}

// TestRealFilesPassed sends files with SCM_RIGHTS and checks the manager
// received the same open files, and that the caller's files are untouched.
func TestRealFilesPassed(t *testing.T) {
	m := pathManager(t)
	file := tempFile(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lnFile, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lnFile.Close()

	tests := []struct {
		name  string
		call  func(files ...*os.File) (bool, error)
		files []*os.File
		want  string
	}{
		{"store listener and pipe", func(f ...*os.File) (bool, error) { return StoreFiles("web", f...) }, []*os.File{lnFile, r}, "FDSTORE=1\nFDNAME=web"},
		{"store unnamed file", func(f ...*os.File) (bool, error) { return StoreFiles("", f...) }, []*os.File{file}, "FDSTORE=1"},
		{"notify with three", func(f ...*os.File) (bool, error) { return NotifyWithFiles("FDSTORE=1\nFDNAME=x", f...) }, []*os.File{file, w, lnFile}, "FDSTORE=1\nFDNAME=x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sent, err := tc.call(tc.files...)
			if !sent || err != nil {
				t.Fatalf("got (%v, %v), want (true, nil)", sent, err)
			}
			got := m.read()
			if got.text != tc.want {
				t.Errorf("manager read %q, want %q", got.text, tc.want)
			}
			if len(got.files) != len(tc.files) {
				t.Fatalf("manager got %d files, want %d", len(got.files), len(tc.files))
			}
			for i := range tc.files {
				if !sameFile(t, got.files[i], tc.files[i]) {
					t.Errorf("file %d: received a different file (dev/ino differ)", i)
				}
			}
		})
	}

	// The pipe is still ours and still non-blocking: (*os.File).Fd would
	// have switched it to blocking mode, leaving deadlines without effect.
	rc, err := r.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	if err := rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) }); err != nil || ferr != nil {
		t.Fatal(err, ferr)
	}
	if flags&unix.O_NONBLOCK == 0 {
		t.Error("sending the pipe switched it to blocking mode")
	}
	if _, err := w.Write([]byte("x")); err != nil {
		t.Errorf("pipe closed by sending: %v", err)
	}

	t.Run("closed file", func(t *testing.T) {
		closed := tempFile(t)
		closed.Close()
		sent, err := StoreFiles("x", closed)
		if sent || !errors.Is(err, os.ErrClosed) {
			t.Fatalf("got (%v, %v), want (false, error wrapping os.ErrClosed)", sent, err)
		}
	})
}

// TestRealReloading checks MONOTONIC_USEC against CLOCK_MONOTONIC read
// before and after.
func TestRealReloading(t *testing.T) {
	m := abstractManager(t)
	var before, after unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &before); err != nil {
		t.Fatal(err)
	}
	sent, err := Reloading()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &after); err != nil {
		t.Fatal(err)
	}
	if !sent || err != nil {
		t.Fatalf("got (%v, %v), want (true, nil)", sent, err)
	}
	text := m.read().text
	first, usec, ok := strings.Cut(text, "\nMONOTONIC_USEC=")
	if !ok || first != "RELOADING=1" {
		t.Fatalf("manager read %q, want RELOADING=1 then MONOTONIC_USEC=", text)
	}
	got, err := strconv.ParseInt(usec, 10, 64)
	if err != nil {
		t.Fatalf("MONOTONIC_USEC=%q: %v", usec, err)
	}
	lo, hi := before.Nano()/1000, after.Nano()/1000
	if got < lo || got > hi {
		t.Errorf("MONOTONIC_USEC=%d, want within CLOCK_MONOTONIC [%d, %d]", got, lo, hi)
	}
}

func TestRealBarrier(t *testing.T) {
	t.Run("unset", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		if err := Barrier(time.Second); err != nil {
			t.Fatalf("Barrier without NOTIFY_SOCKET = %v, want nil", err)
		}
	})
	t.Run("manager closes", func(t *testing.T) {
		m := pathManager(t)
		done := make(chan message, 1)
		go func() {
			got, err := m.tryRead()
			if err != nil {
				got.text = err.Error()
			}
			// Like systemd: look at the fd, then close it.
			var st unix.Stat_t
			if len(got.files) == 1 {
				if err := unix.Fstat(int(got.files[0].Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
					got.text += " (fd is not a pipe)"
				}
			}
			for _, f := range got.files {
				f.Close()
			}
			done <- got
		}()
		if err := Barrier(10 * time.Second); err != nil {
			t.Fatalf("Barrier = %v, want nil", err)
		}
		got := <-done
		if got.text != "BARRIER=1" || len(got.files) != 1 {
			t.Fatalf("manager read %q with %d files, want BARRIER=1 with 1", got.text, len(got.files))
		}
	})
	t.Run("manager never answers", func(t *testing.T) {
		m := pathManager(t)
		err := Barrier(20 * time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Barrier = %v, want error wrapping os.ErrDeadlineExceeded", err)
		}
		if got := m.read(); got.text != "BARRIER=1" { // keeps the fd open until now
			t.Errorf("manager read %q", got.text)
		}
	})
	t.Run("bad socket", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "relative")
		if err := Barrier(time.Second); !errors.Is(err, ErrBadEnvironment) {
			t.Fatalf("Barrier = %v, want error wrapping ErrBadEnvironment", err)
		}
	})
}

// TestRealWatchdog runs RunWatchdog with a 40ms interval against a real
// socket. healthy() follows a script, and every ping must match one
// healthy() == true: none while unhealthy, resumed when healthy again.
// Nothing depends on timing except the test's running time.
func TestRealWatchdog(t *testing.T) {
	m := abstractManager(t)
	t.Setenv("WATCHDOG_USEC", "40000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	script := []bool{true, true, true, false, false, false, true, true}
	var calls, healthyCalls atomic.Int64
	finished := make(chan struct{})
	healthy := func() bool {
		i := calls.Add(1) - 1
		if i < int64(len(script)) {
			if script[i] {
				healthyCalls.Add(1)
			}
			return script[i]
		}
		if i == int64(len(script)) {
			close(finished)
		}
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- RunWatchdog(ctx, healthy) }()
	select {
	case <-finished:
	case err := <-result:
		t.Fatalf("RunWatchdog returned early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("healthy() was not polled through the script")
	}
	cancel()
	if err := <-result; err != nil {
		t.Fatalf("RunWatchdog = %v, want nil after cancel", err)
	}

	// Every ping is queued by now; an end marker from us closes the count.
	end, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: m.addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer end.Close()
	if _, err := end.Write([]byte("END=1")); err != nil {
		t.Fatal(err)
	}
	pings := 0
	for {
		text := m.read().text
		if text == "END=1" {
			break
		}
		if text != "WATCHDOG=1" {
			t.Fatalf("manager read %q, want WATCHDOG=1", text)
		}
		pings++
	}
	if want := int(healthyCalls.Load()); pings != want {
		t.Errorf("%d pings for %d healthy checks (script %v): pings must follow healthy()", pings, want, script)
	}
	if pings < 5 {
		t.Errorf("only %d pings", pings)
	}
}

// TestRealWatchdogStaleSocket: a ping that cannot be sent ends RunWatchdog
// with the error, so the daemon can log why systemd is about to kill it.
func TestRealWatchdogStaleSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
	t.Setenv("WATCHDOG_USEC", "40000")
	t.Setenv("WATCHDOG_PID", "")
	err := RunWatchdog(context.Background(), func() bool { return true })
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "watchdog") {
		t.Fatalf("RunWatchdog = %v, want a watchdog error wrapping ENOENT", err)
	}
}
