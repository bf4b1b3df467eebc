//go:build !linux

package web

import "time"

// setSendTimeoutFD does nothing: TCP_USER_TIMEOUT is Linux's (and
// gotwistd's HTTP/1.1 engine accepts on sockets itself only there).
func setSendTimeoutFD(fd int, d time.Duration) {}
