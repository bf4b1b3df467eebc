//go:build !linux

package h1

// No event loop here: a tlsSock is never nonblock.

func (s *tlsSock) readNow(p []byte) (int, error)  { panic("h1: no event loop here") }
func (s *tlsSock) writeNow(b []byte) (int, error) { panic("h1: no event loop here") }
