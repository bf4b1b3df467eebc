package epoll

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWaitPolling drives Wait by hand: a set polls (yields and looks
// again before sleeping) only after a look without waiting found events,
// and a poll that finds nothing turns polling off, so an idle loop sleeps
// in epoll_pwait(2) instead of spinning.
func TestWaitPolling(t *testing.T) {
	cases := []struct {
		name        string
		polling     bool // before the wait
		ready       bool // an event is ready before the wait
		wantN       int
		wantPolling bool
	}{
		{"idle, nothing ready: sleeps, stays idle", false, false, 0, false},
		{"idle, a request waiting: starts polling", false, true, 1, true},
		{"polling, a request waiting: keeps polling", true, true, 1, true},
		{"polling, nothing comes: stops polling", true, false, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(8)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			defer unix.Close(p[0])
			defer unix.Close(p[1])
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p[0])}
			if err := unix.EpollCtl(s.FD, unix.EPOLL_CTL_ADD, p[0], &ev); err != nil {
				t.Fatal(err)
			}
			if tc.ready {
				unix.Write(p[1], []byte("x"))
			}
			s.Polling = tc.polling
			const sleep = 20 * time.Millisecond // how long a wait that finds nothing sleeps
			begin := time.Now()
			n := s.Wait(sleep)
			took := time.Since(begin)
			if n != tc.wantN || s.Polling != tc.wantPolling {
				t.Errorf("after the wait: %d events, polling %v; want %d, %v", n, s.Polling, tc.wantN, tc.wantPolling)
			}
			if n == 1 && int(s.Events[0].Fd) != p[0] {
				t.Errorf("the event is for fd %d, want the pipe's %d", s.Events[0].Fd, p[0])
			}
			if n == 0 && took < sleep/2 {
				t.Errorf("a wait that found nothing returned after %v; want it to sleep about %v", took, sleep)
			}
		})
	}
}

// TestWake: Wake makes a waiting set return with an event that Woken
// recognises and consumes, so that the next Wait sleeps again.
func TestWake(t *testing.T) {
	s, err := New(8)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go func() {
		time.Sleep(10 * time.Millisecond)
		s.Wake()
	}()
	if n := s.Wait(5 * time.Second); n != 1 || !s.Woken(s.Events[0]) {
		t.Fatalf("after Wake: %d events (woken %v), want the wake event", n, n > 0 && s.Woken(s.Events[0]))
	}
	if n := s.Wait(20 * time.Millisecond); n != 0 {
		t.Errorf("the wake event was not consumed: %d events on the next Wait", n)
	}
}
