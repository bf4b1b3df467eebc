//go:build !linux

package endpoint

import "syscall"

// deferAccept: no TCP_DEFER_ACCEPT here; listeners are as Go makes them.
var deferAccept func(network, address string, c syscall.RawConn) error
