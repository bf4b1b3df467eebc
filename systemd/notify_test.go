package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeEnv is an env whose environment is a map and whose notify socket
// records what is sent instead of sending it.
type fakeEnv struct {
	vars    map[string]string
	pid     int
	mono    time.Duration
	dialErr error
	sendErr error
	dialed  []string
	sent    []string
	files   []int // number of files attached to each sent message
}

func (f *fakeEnv) env() env {
	return env{
		getenv:    func(k string) string { return f.vars[k] },
		getpid:    func() int { return f.pid },
		monotonic: func() (time.Duration, error) { return f.mono, nil },
		dial: func(addr string) (notifyConn, error) {
			f.dialed = append(f.dialed, addr)
			if f.dialErr != nil {
				return nil, f.dialErr
			}
			return fakeConn{f}, nil
		},
	}
}

type fakeConn struct{ f *fakeEnv }

func (c fakeConn) send(msg []byte, files []*os.File) error {
	if c.f.sendErr != nil {
		return c.f.sendErr
	}
	c.f.sent = append(c.f.sent, string(msg))
	c.f.files = append(c.f.files, len(files))
	return nil
}

func (c fakeConn) Close() error { return nil }

func tempFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestNotifySocketCombinations checks every NOTIFY_SOCKET case and every
// way the connection can fail, through Notify.
func TestNotifySocketCombinations(t *testing.T) {
	t.Parallel()
	errDial := errors.New("dial refused")
	errSend := errors.New("send failed")
	tests := []struct {
		name       string
		vars       map[string]string
		dialErr    error
		sendErr    error
		wantSent   bool
		wantDialed string // "" when dial must not happen
		wantErr    error  // errors.Is target, nil for success
	}{
		{name: "unset", vars: nil},
		{name: "empty", vars: map[string]string{"NOTIFY_SOCKET": ""}},
		{name: "absolute path", vars: map[string]string{"NOTIFY_SOCKET": "/run/systemd/notify"}, wantSent: true, wantDialed: "/run/systemd/notify"},
		{name: "abstract", vars: map[string]string{"NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify/123"}, wantSent: true, wantDialed: "@/org/freedesktop/systemd1/notify/123"},
		{name: "relative path rejected", vars: map[string]string{"NOTIFY_SOCKET": "run/notify"}, wantErr: ErrBadEnvironment},
		{name: "dot relative rejected", vars: map[string]string{"NOTIFY_SOCKET": "./notify"}, wantErr: ErrBadEnvironment},
		{name: "bare @ rejected", vars: map[string]string{"NOTIFY_SOCKET": "@"}, wantErr: ErrBadEnvironment},
		{name: "vsock rejected", vars: map[string]string{"NOTIFY_SOCKET": "vsock:2:1234"}, wantErr: ErrBadEnvironment},
		{name: "too long", vars: map[string]string{"NOTIFY_SOCKET": "/" + strings.Repeat("x", 107)}, wantErr: ErrBadEnvironment},
		{name: "longest path", vars: map[string]string{"NOTIFY_SOCKET": "/" + strings.Repeat("x", 106)}, wantSent: true, wantDialed: "/" + strings.Repeat("x", 106)},
		{name: "dial fails", vars: map[string]string{"NOTIFY_SOCKET": "/run/n"}, dialErr: errDial, wantDialed: "/run/n", wantErr: errDial},
		{name: "send fails", vars: map[string]string{"NOTIFY_SOCKET": "/run/n"}, sendErr: errSend, wantDialed: "/run/n", wantErr: errSend},
		{name: "other variables ignored", vars: map[string]string{"LISTEN_FDS": "1", "WATCHDOG_USEC": "bogus"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeEnv{vars: tc.vars, pid: 42, dialErr: tc.dialErr, sendErr: tc.sendErr}
			e := f.env()
			sent, err := e.notify("READY=1", nil)
			if sent != tc.wantSent {
				t.Errorf("sent = %v, want %v", sent, tc.wantSent)
			}
			if tc.wantErr == nil && err != nil {
				t.Errorf("unexpected error: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want one wrapping %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			switch {
			case tc.wantDialed == "" && len(f.dialed) != 0:
				t.Errorf("dialed %q, want no connection", f.dialed)
			case tc.wantDialed != "" && (len(f.dialed) != 1 || f.dialed[0] != tc.wantDialed):
				t.Errorf("dialed %q, want [%q]", f.dialed, tc.wantDialed)
			}
			if tc.wantSent && (len(f.sent) != 1 || f.sent[0] != "READY=1") {
				t.Errorf("sent %q, want [\"READY=1\"]", f.sent)
			}
			// Nothing is unset: the variable is still there for the next call.
			if _, err2 := e.notify("READY=1", nil); (err2 == nil) != (err == nil) && tc.dialErr == nil && tc.sendErr == nil {
				t.Errorf("second call differs: %v then %v", err, err2)
			}
		})
	}
}

// TestMessages checks the exact datagram each helper sends.
func TestMessages(t *testing.T) {
	t.Parallel()
	pathErr := &os.PathError{Op: "open", Path: "/etc/x", Err: syscall.ENOENT}
	tests := []struct {
		name      string
		call      func(e env) (bool, error)
		want      string
		wantFiles int
	}{
		{"notify raw", func(e env) (bool, error) { return e.notify("MAINPID=7\nSTATUS=x", nil) }, "MAINPID=7\nSTATUS=x", 0},
		{"ready without status", func(e env) (bool, error) { return e.ready("") }, "READY=1", 0},
		{"ready with status", func(e env) (bool, error) { return e.ready("serving on tcp:8080") }, "READY=1\nSTATUS=serving on tcp:8080", 0},
		{"ready status newline flattened", func(e env) (bool, error) { return e.ready("a\nREADY=0\r\nb") }, "READY=1\nSTATUS=a READY=0  b", 0},
		{"ready status NUL dropped", func(e env) (bool, error) { return e.ready("a\x00b") }, "READY=1\nSTATUS=ab", 0},
		{"reloading", env.reloading, "RELOADING=1\nMONOTONIC_USEC=123456789", 0},
		{"stopping without status", func(e env) (bool, error) { return e.stopping("") }, "STOPPING=1", 0},
		{"stopping with status", func(e env) (bool, error) { return e.stopping("draining") }, "STOPPING=1\nSTATUS=draining", 0},
		{"status", func(e env) (bool, error) { return e.status("3 connections") }, "STATUS=3 connections", 0},
		{"status empty clears", func(e env) (bool, error) { return e.status("") }, "STATUS=", 0},
		{"status cut", func(e env) (bool, error) { return e.status(strings.Repeat("é", 1500)) }, "STATUS=" + strings.Repeat("é", 1024), 0},
		{"errno from wrapped errno", func(e env) (bool, error) { return e.errno(fmt.Errorf("listen: %w", pathErr), "") }, "STATUS=listen: open /etc/x: no such file or directory\nERRNO=2", 0},
		{"errno with own status", func(e env) (bool, error) { return e.errno(syscall.EADDRINUSE, "port 80 taken") }, "STATUS=port 80 taken\nERRNO=98", 0},
		{"errno without errno", func(e env) (bool, error) { return e.errno(errors.New("bad config"), "") }, "STATUS=bad config", 0},
		{"errno zero ignored", func(e env) (bool, error) { return e.errno(syscall.Errno(0), "x") }, "STATUS=x", 0},
		{"errno nil error", func(e env) (bool, error) { return e.errno(nil, "failed") }, "STATUS=failed", 0},
		{"errno multi-line error", func(e env) (bool, error) { return e.errno(errors.Join(errors.New("a"), syscall.EACCES), "") }, "STATUS=a permission denied\nERRNO=13", 0},
		{"extend timeout", func(e env) (bool, error) { return e.extendTimeout(90 * time.Second) }, "EXTEND_TIMEOUT_USEC=90000000", 0},
		{"extend timeout rounds up", func(e env) (bool, error) { return e.extendTimeout(1500 * time.Nanosecond) }, "EXTEND_TIMEOUT_USEC=2", 0},
		{"store named", func(e env) (bool, error) { return e.storeFiles("web-80", tempFile(t), tempFile(t)) }, "FDSTORE=1\nFDNAME=web-80", 2},
		{"store unnamed", func(e env) (bool, error) { return e.storeFiles("", tempFile(t)) }, "FDSTORE=1", 1},
		{"store longest name", func(e env) (bool, error) { return e.storeFiles(strings.Repeat("n", 255), tempFile(t)) }, "FDSTORE=1\nFDNAME=" + strings.Repeat("n", 255), 1},
		{"remove stored", func(e env) (bool, error) { return e.removeStoredFiles("web-80") }, "FDSTOREREMOVE=1\nFDNAME=web-80", 0},
		{"notify with files", func(e env) (bool, error) { return e.notify("FDSTORE=1\nFDPOLL=0", []*os.File{tempFile(t)}) }, "FDSTORE=1\nFDPOLL=0", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEnv{vars: map[string]string{"NOTIFY_SOCKET": "/run/n"}, mono: 123456789*time.Microsecond + 999}
			sent, err := tc.call(f.env())
			if !sent || err != nil {
				t.Fatalf("got (%v, %v), want (true, nil)", sent, err)
			}
			if len(f.sent) != 1 || f.sent[0] != tc.want {
				t.Fatalf("sent %q, want [%q]", f.sent, tc.want)
			}
			if f.files[0] != tc.wantFiles {
				t.Errorf("sent %d files, want %d", f.files[0], tc.wantFiles)
			}
		})
	}
}

// TestInvalidArguments checks that caller mistakes are errors whether or
// not NOTIFY_SOCKET is set, and that nothing is sent.
func TestInvalidArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		call func(e env) (bool, error)
	}{
		{"empty state", func(e env) (bool, error) { return e.notify("", nil) }},
		{"state too long", func(e env) (bool, error) { return e.notify("STATUS="+strings.Repeat("x", 4090), nil) }},
		{"state with NUL", func(e env) (bool, error) { return e.notify("READY=1\x00", nil) }},
		{"nil file", func(e env) (bool, error) { return e.notify("FDSTORE=1", []*os.File{nil}) }},
		{"too many files", func(e env) (bool, error) { return e.notify("FDSTORE=1", make([]*os.File, 254)) }},
		{"store without files", func(e env) (bool, error) { return e.storeFiles("x") }},
		{"store nil file", func(e env) (bool, error) { return e.storeFiles("x", nil) }},
		{"store name with colon", func(e env) (bool, error) { return e.storeFiles("a:b", tempFile(t)) }},
		{"store name with newline", func(e env) (bool, error) { return e.storeFiles("a\nFDSTOREREMOVE=1", tempFile(t)) }},
		{"store name with DEL", func(e env) (bool, error) { return e.storeFiles("a\x7f", tempFile(t)) }},
		{"store name not ASCII", func(e env) (bool, error) { return e.storeFiles("café", tempFile(t)) }},
		{"store name too long", func(e env) (bool, error) { return e.storeFiles(strings.Repeat("n", 256), tempFile(t)) }},
		{"remove empty name", func(e env) (bool, error) { return e.removeStoredFiles("") }},
		{"remove bad name", func(e env) (bool, error) { return e.removeStoredFiles("a:b") }},
		{"extend zero", func(e env) (bool, error) { return e.extendTimeout(0) }},
		{"extend negative", func(e env) (bool, error) { return e.extendTimeout(-time.Second) }},
	}
	for _, socket := range []string{"", "/run/n"} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/NOTIFY_SOCKET=%q", tc.name, socket), func(t *testing.T) {
				f := &fakeEnv{vars: map[string]string{"NOTIFY_SOCKET": socket}}
				sent, err := tc.call(f.env())
				if sent || !errors.Is(err, ErrInvalidArgument) {
					t.Fatalf("got (%v, %v), want (false, error wrapping ErrInvalidArgument)", sent, err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				if len(f.dialed) != 0 {
					t.Errorf("dialed %q despite invalid argument", f.dialed)
				}
			})
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	t.Parallel()
	const ours = 4242
	tests := []struct {
		name    string
		usec    string
		pid     string
		want    time.Duration
		wantErr bool
	}{
		{name: "unset"},
		{name: "unset with our pid", pid: "4242"},
		{name: "unset with garbage pid", pid: "x"},
		{name: "no pid", usec: "30000000", want: 30 * time.Second},
		{name: "our pid", usec: "40000", pid: "4242", want: 40 * time.Millisecond},
		{name: "other pid", usec: "40000", pid: "1", want: 0},
		{name: "other pid garbage usec", usec: "junk", pid: "1", want: 0},
		{name: "leading zeros", usec: "0010", want: 10 * time.Microsecond},
		{name: "one microsecond", usec: "1", want: time.Microsecond},
		{name: "largest", usec: "9223372036854775", want: 9223372036854775 * time.Microsecond},
		{name: "garbage usec", usec: "abc", wantErr: true},
		{name: "zero usec", usec: "0", wantErr: true},
		{name: "negative usec", usec: "-5", wantErr: true},
		{name: "plus sign", usec: "+5", wantErr: true},
		{name: "fractional usec", usec: "1.5", wantErr: true},
		{name: "unit suffix", usec: "30s", wantErr: true},
		{name: "space", usec: " 5", wantErr: true},
		{name: "infinity", usec: "18446744073709551615", wantErr: true},
		{name: "overflows Duration", usec: "9223372036854776", wantErr: true},
		{name: "overflows uint64", usec: "99999999999999999999", wantErr: true},
		{name: "garbage pid", usec: "40000", pid: "me", wantErr: true},
		{name: "zero pid", usec: "40000", pid: "0", wantErr: true},
		{name: "negative pid", usec: "40000", pid: "-4242", wantErr: true},
		{name: "our pid garbage usec", usec: "x", pid: "4242", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEnv{vars: map[string]string{"WATCHDOG_USEC": tc.usec, "WATCHDOG_PID": tc.pid}, pid: ours}
			got, err := f.env().watchdogInterval()
			if tc.wantErr {
				if !errors.Is(err, ErrBadEnvironment) || got != 0 {
					t.Fatalf("got (%v, %v), want (0, error wrapping ErrBadEnvironment)", got, err)
				}
				if !strings.Contains(err.Error(), "WATCHDOG_") {
					t.Errorf("error %q does not name the variable", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got (%v, %v), want (%v, nil)", got, err, tc.want)
			}
		})
	}
}

// TestRunWatchdogReturnsAtOnce covers every case in which RunWatchdog has
// nothing to do, or cannot start; ctx is never cancelled, so a hang would
// be caught by the guard.
func TestRunWatchdogReturnsAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vars    map[string]string
		wantErr error
	}{
		{name: "no watchdog", vars: map[string]string{"NOTIFY_SOCKET": "/run/n"}},
		{name: "other pid", vars: map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}},
		{name: "no notify socket", vars: map[string]string{"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "7"}},
		{name: "bad usec", vars: map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "soon"}, wantErr: ErrBadEnvironment},
		{name: "bad notify socket", vars: map[string]string{"NOTIFY_SOCKET": "notify", "WATCHDOG_USEC": "1000"}, wantErr: ErrBadEnvironment},
		{name: "send fails", vars: map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "1000"}, wantErr: syscall.ECONNREFUSED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEnv{vars: tc.vars, pid: 7}
			if tc.wantErr == syscall.ECONNREFUSED {
				f.dialErr = syscall.ECONNREFUSED
			}
			e := f.env()
			done := make(chan error, 1)
			go func() { done <- e.runWatchdog(context.Background(), nil) }()
			select {
			case err := <-done:
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
					t.Fatalf("RunWatchdog = %v, want %v", err, tc.wantErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("RunWatchdog did not return")
			}
			if tc.wantErr == nil && len(f.sent) != 0 {
				t.Errorf("sent %q, want nothing", f.sent)
			}
		})
	}
}

func TestRunWatchdogCancelled(t *testing.T) {
	t.Parallel()
	f := &fakeEnv{vars: map[string]string{"NOTIFY_SOCKET": "/run/n", "WATCHDOG_USEC": "3600000000"}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.env().runWatchdog(ctx, nil); err != nil {
		t.Fatalf("RunWatchdog on a done context = %v, want nil", err)
	}
	if len(f.sent) != 0 {
		t.Errorf("sent %q on a done context", f.sent)
	}
}

func FuzzWatchdogInterval(f *testing.F) {
	for _, s := range []string{"", "0", "1", "30000000", "-1", "+1", "1e6", "18446744073709551615", "9223372036854776"} {
		f.Add(s, "")
		f.Add(s, "7")
	}
	f.Fuzz(func(t *testing.T, usec, pid string) {
		fe := &fakeEnv{vars: map[string]string{"WATCHDOG_USEC": usec, "WATCHDOG_PID": pid}, pid: 7}
		d, err := fe.env().watchdogInterval()
		if d < 0 {
			t.Fatalf("negative interval %v", d)
		}
		if err != nil && (d != 0 || !errors.Is(err, ErrBadEnvironment)) {
			t.Fatalf("(%v, %v): an error must come with 0 and wrap ErrBadEnvironment", d, err)
		}
		if d > 0 {
			if d%time.Microsecond != 0 || strings.TrimLeft(usec, "0") != fmt.Sprint(int64(d/time.Microsecond)) {
				t.Fatalf("WATCHDOG_USEC=%q gave %v", usec, d)
			}
			if pid != "" && pid != "7" && strings.TrimLeft(pid, "0") != "7" {
				t.Fatalf("WATCHDOG_PID=%q is not ours but gave %v", pid, d)
			}
		}
	})
}

// FuzzStatus checks that no status text can break out of its STATUS=
// line or make the message one systemd ignores.
func FuzzStatus(f *testing.F) {
	for _, s := range []string{"", "up", "a\nREADY=1", "\x00", strings.Repeat("é", 3000), "\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, status string) {
		fe := &fakeEnv{vars: map[string]string{"NOTIFY_SOCKET": "/run/n"}}
		e := fe.env()
		for _, state := range []string{withStatus("READY=1", status), "STATUS=" + cleanStatus(status)} {
			if _, err := e.notify(state, nil); err != nil {
				t.Fatalf("status %q: %v", status, err)
			}
		}
		for _, msg := range fe.sent {
			lines := strings.Split(msg, "\n")
			last := lines[len(lines)-1]
			if len(lines) > 2 || !strings.HasPrefix(last, "STATUS=") && status != "" {
				t.Fatalf("status %q gave message %q", status, msg)
			}
			if len(last) > len("STATUS=")+maxStatus {
				t.Fatalf("status line is %d bytes", len(last))
			}
		}
	})
}
