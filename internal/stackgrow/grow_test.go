package stackgrow

import (
	"runtime/debug"
	"testing"
	"unsafe"
)

// deep recurses until about n bytes of stack are in use below it.
//
//go:noinline
func deep(n int) byte {
	var frame [256]byte
	frame[n%len(frame)] = byte(n)
	if n <= len(frame) {
		return frame[0]
	}
	return deep(n-len(frame)-64) + frame[n%len(frame)]
}

// moves reports whether the stack of a new goroutine that calls reserve
// and then uses n bytes of stack is moved (copied) during that use: the
// address of a local of its first frame changes when it is.
func moves(reserve func(), n int) bool {
	done := make(chan bool)
	go func() {
		reserve()
		var x byte
		before := uintptr(unsafe.Pointer(&x))
		_ = deep(n)
		after := uintptr(unsafe.Pointer(&x))
		done <- before != after
	}()
	return <-done
}

func TestReserve(t *testing.T) {
	// No garbage collection, which may shrink a stack (moving it).
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, tc := range []struct {
		name    string
		reserve func()
		use     int
		moved   bool
	}{
		// Leave room for the runtime's guard and the frames above: the
		// race detector's are larger.
		{"To16K then 10 KB deep", To16K, 10 << 10, false},
		{"To8K then 4 KB deep", To8K, 4 << 10, false},
		{"To8K then 20 KB deep", To8K, 20 << 10, true},
		{"To4K then 1.5 KB deep", To4K, 3 << 9, false},
		{"To4K then 20 KB deep", To4K, 20 << 10, true},
		{"nothing then 10 KB deep", func() {}, 10 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := moves(tc.reserve, tc.use); got != tc.moved {
				t.Errorf("stack moved = %v, want %v", got, tc.moved)
			}
		})
	}
}

// BenchmarkDeepGoroutine is a goroutine going 12 KB deep, as a TLS
// handshake's does, with and without To16K first.
func BenchmarkDeepGoroutine(b *testing.B) {
	for _, bc := range []struct {
		name    string
		reserve func()
	}{{"as is", func() {}}, {"To16K", To16K}} {
		b.Run(bc.name, func(b *testing.B) {
			done := make(chan struct{})
			for b.Loop() {
				go func() {
					bc.reserve()
					_ = deep(12 << 10)
					done <- struct{}{}
				}()
				<-done
			}
		})
	}
}
