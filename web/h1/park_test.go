//go:build linux

package h1

import (
	"testing"
	"time"
)

// TestHandlerConnectionParks: a connection whose last request went to the
// Handler stays on its goroutine for parkAfter, then idles in an event
// loop, from where both kinds of request are still answered.
func TestHandlerConnectionParks(t *testing.T) {
	t.Parallel()
	s, _ := newFastServer()
	s.parkAfter = 50 * time.Millisecond
	c := dial(t, startEngine(t, s))
	looped := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for cn := range s.conns {
			return cn.looped.Load()
		}
		return false
	}
	if got := c.get("/x"); got != "slow:/x" {
		t.Fatalf("GET /x: %q", got)
	}
	if looped() {
		t.Fatal("in a loop at once after a Handler request")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !looped() {
		if time.Now().After(deadline) {
			t.Fatal("not in an event loop 5 s after a Handler request")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, step := range []struct{ path, want string }{
		{"/y", "slow:/y"}, {"/a", "fast:a"}, {"/z", "slow:/z"},
	} {
		if got := c.get(step.path); got != step.want {
			t.Fatalf("request %d after parking, GET %s: %q, want %q", i, step.path, got, step.want)
		}
	}
}
