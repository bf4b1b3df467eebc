package epoll

import (
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Set is an epoll set, with an eventfd in it that Wake writes to, and
// what its last Wait found. One goroutine (its loop's) waits on it;
// descriptors are added and removed with unix.EpollCtl on FD from any
// goroutine.
type Set struct {
	FD      int               // the epoll descriptor
	Events  []unix.EpollEvent // Events[:n] is what the last Wait found
	Polling bool              // the last look without waiting found events (see Wait)
	wakeFD  int               // the eventfd
}

// New makes a set with room for size events per Wait.
func New(size int) (*Set, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		unix.Close(wfd)
		unix.Close(fd)
		return nil, err
	}
	return &Set{FD: fd, Events: make([]unix.EpollEvent, size), wakeFD: wfd}, nil
}

// Wake makes the set's Wait (now or next) return with the wake event.
// Not after Close: the eventfd's number may be another file's by then.
func (s *Set) Wake() {
	one := [8]byte{1}
	_, _ = unix.Write(s.wakeFD, one[:])
}

// Woken reports whether ev is the wake event, and if so consumes it.
func (s *Set) Woken(ev unix.EpollEvent) bool {
	if int(ev.Fd) != s.wakeFD {
		return false
	}
	var b [8]byte
	_, _ = unix.Read(s.wakeFD, b[:])
	return true
}

// Wait fills s.Events with what is ready and returns how many there are,
// waiting at most timeout (rounded down to milliseconds). It first looks
// without waiting (a raw call that the scheduler need not know of), then
// lets other goroutines run and looks again a few times (Spins); if the
// last Wait found events without waiting, the clients are busy and the
// next request is likely microseconds away, so it also yields the CPU
// with sched_yield(2) between looks for up to PollFor. Only then does it
// sleep in epoll_pwait(2) as a blocking system call, so the kernel wakes
// this thread itself when something arrives. A poll that found nothing
// is not tried again until a look without waiting finds events: an idle
// or lightly loaded loop sleeps at once.
func (s *Set) Wait(timeout time.Duration) int {
	n, err := waitNow(s.FD, s.Events)
	for spin := 0; n == 0 && err == nil && spin < Spins; spin++ {
		runtime.Gosched()
		n, err = waitNow(s.FD, s.Events)
	}
	if n == 0 && err == nil && s.Polling {
		n, err = s.poll()
	}
	s.Polling = n > 0
	if n == 0 && (err == nil || err == unix.EINTR) {
		n, _ = waitBlocking(s.FD, s.Events, int(max(timeout, 0)/time.Millisecond))
	}
	return max(n, 0)
}

// poll looks for ready events, yielding the CPU between looks, until
// some are found or PollFor has passed.
func (s *Set) poll() (int, error) {
	deadline := time.Now().Add(PollFor)
	for {
		// Through Go's syscall entry: should the kernel run another
		// thread for a while, the scheduler may give this P away.
		_, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		n, err := waitNow(s.FD, s.Events)
		if n != 0 || err != nil || !time.Now().Before(deadline) {
			return n, err
		}
	}
}

// Close closes the epoll descriptor and the eventfd.
func (s *Set) Close() error {
	unix.Close(s.wakeFD)
	return unix.Close(s.FD)
}

// PollFor is how long a busy loop polls before it sleeps. Measured on 2
// cores with wrk on the same machine, HTTP/1.1, against sleeping at once:
// 50 keep-alive connections 166-175k -> 175-195k requests/s (server CPU
// 5.5 -> 4.6 µs per request), one connection 23.7k -> 29.2k, four 52k ->
// 163k; 50 µs did better still with few connections, but cost 1.6x the
// CPU at 20k requests/s from 50 paced clients (30 µs: 1.2x).
const PollFor = 30 * time.Microsecond

// Spins is how many times a loop that found nothing lets other goroutines
// run and looks again before it polls or sleeps: 4 measured best on 2
// cores with the load generator on the same machine (2: ~3% fewer
// requests/s, 0: ~15%).
const Spins = 4

// waitNow is epoll_pwait(2) told not to wait, as a raw system call.
func waitNow(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// waitBlocking is epoll_pwait(2) as a system call that may block: the
// scheduler can give this thread's P to another while it waits.
func waitBlocking(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
