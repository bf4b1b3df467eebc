package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// scriptedListener answers each Accept with the next error of script, and
// once the script is used up (or for a nil entry) with a connection of a
// real loopback pair. Every call is announced on calls.
type scriptedListener struct {
	net.Listener
	script []error
	calls  chan int
	n      int
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	l.n++
	if l.calls != nil {
		l.calls <- l.n
	}
	if len(l.script) > 0 {
		err := l.script[0]
		l.script = l.script[1:]
		if err != nil {
			return nil, err
		}
	}
	a, b := net.Pipe()
	b.Close()
	return a, nil
}

func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

func newTestRetryListener(inner net.Listener) (*acceptRetryListener, *logRecorder) {
	rec := &logRecorder{}
	l := newAcceptRetryListener(inner, "tcp:8080", slog.New(recHandler{rec: rec, system: "-"}))
	l.rlimit = func() (uint64, error) { return 64, nil }
	return l, rec
}

func TestAcceptRetry(t *testing.T) {
	emfile := acceptErr(syscall.EMFILE)
	tests := []struct {
		name    string
		script  []error // of the first Accept; the second gets a connection at once
		wantErr error   // of the first Accept
		want    []string
	}{
		{name: "a connection", want: nil},
		{name: "out of descriptors three times", script: []error{emfile, emfile, emfile},
			want: []string{
				"[-] Cannot accept connections on tcp:8080: accept4: too many open files (open-files limit 64); they wait in the listen queue, retried up to once a second: raise the open-files limit (LimitNOFILE= in the unit, ulimit -n) or lower --max-connections",
				"[-] Accepting connections on tcp:8080 again, after",
			}},
		{name: "the system is out of descriptors", script: []error{acceptErr(syscall.ENFILE)},
			want: []string{"[-] Cannot accept connections on tcp:8080: accept4: too many open files in system (open-files limit 64); they wait in the listen queue, retried up to once a second: the system is short of file descriptors or memory",
				"[-] Accepting connections on tcp:8080 again"}},
		{name: "another error is returned", script: []error{acceptErr(syscall.EINVAL)}, wantErr: syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, rec := newTestRetryListener(&scriptedListener{script: tt.script})
			c, err := l.Accept()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Accept = %v, %v; want %v", c, err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if len(rec.all()) > 1 {
				t.Errorf("after the first Accept: %q, want at most the limit line", rec.all())
			}
			if _, err := l.Accept(); err != nil {
				t.Fatalf("second Accept: %v", err)
			}
			got := rec.all()
			if len(got) != len(tt.want) {
				t.Fatalf("log %q, want %d lines starting %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("log line %d = %q, want it to start %q", i, got[i], tt.want[i])
				}
			}
			if len(tt.script) > 0 && tt.wantErr == nil && !strings.Contains(got[1], fmt.Sprintf("and %d retries", len(tt.script))) {
				t.Errorf("%q does not count %d retries", got[1], len(tt.script))
			}
		})
	}
}

// TestAcceptRetryQuietRepeat: a second time at the limit within a minute
// of the first is not logged again, neither its start nor its end.
func TestAcceptRetryQuietRepeat(t *testing.T) {
	emfile := acceptErr(syscall.EMFILE)
	l, rec := newTestRetryListener(&scriptedListener{script: []error{emfile, nil, nil, emfile, emfile, nil, nil}})
	for range 4 {
		if _, err := l.Accept(); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.all(); len(got) != 2 {
		t.Errorf("log %q, want the first episode's two lines only", got)
	}
}

// TestAcceptRetryClose: closing the listener ends an Accept that waits for
// a descriptor, with an error that says the listener is closed.
func TestAcceptRetryClose(t *testing.T) {
	inner := &scriptedListener{calls: make(chan int)}
	for range 1000 {
		inner.script = append(inner.script, acceptErr(syscall.EMFILE))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inner.Listener = ln
	l, _ := newTestRetryListener(inner)
	done := make(chan error)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	<-inner.calls // the first try failed; Accept waits for its retry
	l.Close()
	for {
		select {
		case <-inner.calls: // a retry that raced with Close
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
			}
			return
		}
	}
}
