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
	l.openFDs = func() (int, error) { return 0, nil } // headroom: all of it
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

// TestAcceptRetryHeadroom: once at the limit, a retry accepts again only
// when acceptHeadroom descriptors are free, so that the connection it
// takes can be served (its file opened); when the count cannot be read
// for want of a descriptor, that is no headroom; when it cannot be read
// at all, the accept is tried.
func TestAcceptRetryHeadroom(t *testing.T) {
	emfile := acceptErr(syscall.EMFILE)
	tests := []struct {
		name        string
		counts      []error // nil: the next of open; else the count fails so
		open        []int
		wantAccepts int // calls of the inner Accept, the failed first one included
		wantCounts  int
	}{
		{name: "free at once", open: []int{10}, counts: []error{nil}, wantAccepts: 2, wantCounts: 1},
		{name: "one descriptor free: wait", open: []int{63, 60, 56}, counts: []error{nil, nil, nil}, wantAccepts: 2, wantCounts: 3},
		{name: "no descriptor to count with: wait", open: []int{0, 20}, counts: []error{os.NewSyscallError("open", syscall.EMFILE), nil}, wantAccepts: 2, wantCounts: 2},
		{name: "no /proc: try", open: []int{0}, counts: []error{os.NewSyscallError("open", syscall.ENOENT)}, wantAccepts: 2, wantCounts: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inner := &scriptedListener{script: []error{emfile, nil}}
			l, _ := newTestRetryListener(inner)
			counted := 0
			l.openFDs = func() (int, error) {
				if counted >= len(tc.open) {
					t.Fatalf("counted %d times, the test has %d counts", counted+1, len(tc.open))
				}
				n, err := tc.open[counted], tc.counts[counted]
				counted++
				return n, err
			}
			c, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if inner.n != tc.wantAccepts || counted != tc.wantCounts {
				t.Errorf("inner Accept called %d times, descriptors counted %d times; want %d and %d",
					inner.n, counted, tc.wantAccepts, tc.wantCounts)
			}
		})
	}
}

// TestCountOpenFDs: the count has at least stdin, stdout, stderr, a file
// the test holds open and the directory being read. (Other tests' servers
// open and close descriptors meanwhile: no exact count.)
func TestCountOpenFDs(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := countOpenFDs()
	if err != nil {
		t.Skipf("no count here: %v", err)
	}
	if n < 5 {
		t.Errorf("countOpenFDs = %d with at least 5 descriptors open", n)
	}
}
