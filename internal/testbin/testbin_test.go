package testbin

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLogWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string // run by sh; its output goes to the Log
		want   string
		err    error
	}{
		{name: "line arrives", script: "echo starting; echo 'listening on 80'; exec sleep 30", want: "listening on 80"},
		{name: "exits first", script: "echo failing; exit 3", want: "listening", err: ErrExited},
		{name: "last line before exit", script: "echo 'listening on 80'; exit 0", want: "listening on 80"},
		{name: "never", script: "echo starting; exec sleep 30", want: "listening", err: ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Start(exec.Command("sh", "-c", tc.script))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Kill)
			timeout := 10 * time.Second
			if tc.err == ErrTimeout {
				timeout = 200 * time.Millisecond
			}
			err = p.Log.Wait(timeout, p.Exited, func(log string) bool { return strings.Contains(log, tc.want) })
			if !errors.Is(err, tc.err) {
				t.Fatalf("Wait = %v, want %v; log:\n%s", err, tc.err, p.Log)
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	t.Run("SIGTERM ends it", func(t *testing.T) {
		t.Parallel()
		p, err := Start(exec.Command("sleep", "30"))
		if err != nil {
			t.Fatal(err)
		}
		if !p.Stop(10 * time.Second) {
			t.Fatal("sleep did not end on SIGTERM")
		}
		if !p.Done() || p.Err == nil {
			t.Fatalf("after Stop: done %v, err %v; want done and a signal exit", p.Done(), p.Err)
		}
	})
	t.Run("killed after the grace", func(t *testing.T) {
		t.Parallel()
		p, err := Start(exec.Command("sh", "-c", "trap '' TERM; echo ready; while :; do :; done"))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Log.Wait(10*time.Second, p.Exited, func(log string) bool { return strings.Contains(log, "ready") }); err != nil {
			t.Fatal(err)
		}
		if p.Stop(100 * time.Millisecond) {
			t.Fatal("Stop reported a clean end for a process that ignores SIGTERM")
		}
		if !p.Done() {
			t.Fatal("not done after Stop killed it")
		}
	})
}

func TestTail(t *testing.T) {
	t.Parallel()
	var l Log
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&l, "line %d\n", i)
	}
	if got, want := l.Tail(2), "line 4\nline 5"; got != want {
		t.Errorf("Tail(2) = %q, want %q", got, want)
	}
	if got := Tail("one", 3); got != "one" {
		t.Errorf("Tail of one line = %q", got)
	}
}

func TestBuildOnce(t *testing.T) {
	a, err := BuildGotwistd()
	if err != nil {
		t.Fatal(err)
	}
	b := Gotwistd(t)
	if a != b {
		t.Errorf("two builds: %s and %s", a, b)
	}
	out, err := exec.Command(b, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "gotwistd") {
		t.Errorf("%s --version: %v\n%s", b, err, out)
	}
}

func TestMain(m *testing.M) {
	Main(m)
}
