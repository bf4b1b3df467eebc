package main

import (
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSingleCPU(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		one, found   bool
	}{
		{"one CPU", "Name:\tgotwistd\nCpus_allowed:\t2\nCpus_allowed_list:\t1\n", true, true},
		{"range", "Cpus_allowed_list:\t0-1\n", false, true},
		{"list", "Cpus_allowed_list:\t0,2\n", false, true},
		{"two digits", "Cpus_allowed_list:\t13\n", true, true},
		{"empty", "Cpus_allowed_list:\t\n", false, true},
		{"no line", "Name:\tx\nCpus_allowed:\t3\n", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			one, found := singleCPU(tc.status)
			if one != tc.one || found != tc.found {
				t.Errorf("singleCPU = %v, %v; want %v, %v", one, found, tc.one, tc.found)
			}
		})
	}
}

// TestAnyPinnedSeesAThread pins a thread of this process to one CPU and
// expects anyPinned to see it, and not to once the thread is free again.
func TestAnyPinnedSeesAThread(t *testing.T) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil || all.Count() < 2 {
		t.Skip("needs two CPUs")
	}
	self := []int{syscall.Getpid()}
	if pinned, _ := anyPinned(self); pinned {
		t.Skip("a thread of this process is pinned already")
	}
	done := make(chan struct{})
	pinnedNow := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var one unix.CPUSet
		for i := 0; i < 1024; i++ {
			if all.IsSet(i) {
				one.Set(i)
				break
			}
		}
		pinnedNow <- unix.SchedSetaffinity(0, &one)
		<-done
		_ = unix.SchedSetaffinity(0, &all)
		pinnedNow <- nil
	}()
	if err := <-pinnedNow; err != nil {
		t.Fatalf("sched_setaffinity: %v", err)
	}
	pinned, ok := anyPinned(self)
	close(done)
	<-pinnedNow
	if !ok || !pinned {
		t.Fatalf("anyPinned with a thread on one CPU = %v, %v; want true, true", pinned, ok)
	}
	if pinned, ok := anyPinned(self); !ok || pinned {
		t.Errorf("anyPinned once the thread is free again = %v, %v; want false, true", pinned, ok)
	}
}
