// Package stackgrow sizes a goroutine's stack once, while it is shallow.
//
// A goroutine starts on a 2 KB stack, and the runtime doubles it each time
// a call does not fit: it allocates the new stack and copies the old one,
// walking every frame on it and reading each function's stack maps from
// the binary's .gopclntab. A goroutine that goes 16 KB deep (a TLS
// handshake: crypto/tls, ML-KEM, SHA-3) is copied three times, at depth 7,
// 17 and 15; the walks cost CPU on every connection, and at start-up they
// fault in pages of .gopclntab (64 KB each, with the kernel's fault-around)
// that nothing else reads: about 0.8 MB of gotwistd's idle RSS.
//
// To16K, To8K and To4K grow the stack in one step, at the top of a goroutine
// known to go that deep, when there are two or three frames to copy. The
// memory is the same the goroutine would have grown to; only the copies
// and walks are saved. The runtime still shrinks an idle stack at a
// garbage collection.
package stackgrow

// To16K gives the calling goroutine a stack of at least 16 KB, in one copy
// if it is smaller. Called near the top of a goroutine (under 1 KB of
// stack in use), the stack becomes exactly 16 KB.
func To16K() { _ = frame14K(0) }

// To8K is To16K for goroutines that go 8 KB deep.
func To8K() { _ = frame6K(0) }

// To4K is To16K for goroutines that go 4 KB deep.
func To4K() { _ = frame2K(0) }

// frame14K has a 14 KB frame: its prologue's stack check makes the runtime
// grow the stack to the power of two that fits it. The frame is zeroed
// (Go zeroes locals), which touches the pages the goroutine goes on to
// use; the index keeps the compiler from dropping the array.
//
//go:noinline
func frame14K(i int) byte {
	var pad [14 << 10]byte
	return pad[i&(len(pad)-1)]
}

// frame6K is frame14K's 6 KB frame, for an 8 KB stack.
//
//go:noinline
func frame6K(i int) byte {
	var pad [6 << 10]byte
	return pad[i%len(pad)]
}

// frame2K is frame14K's 2 KB frame, for a 4 KB stack.
//
//go:noinline
func frame2K(i int) byte {
	var pad [2 << 10]byte
	return pad[i&(len(pad)-1)]
}
