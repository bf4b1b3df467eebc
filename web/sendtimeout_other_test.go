//go:build !linux

package web

import (
	"net"
	"testing"
)

// userTimeout is never called where --send-timeout has no effect.
func userTimeout(t *testing.T, _ net.Conn) int {
	t.Helper()
	t.Fatal("userTimeout: not supported")
	return 0
}
