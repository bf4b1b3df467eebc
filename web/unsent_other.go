//go:build !linux

package web

// setUnsentLowatFD does nothing: gotwistd sets TCP_NOTSENT_LOWAT on Linux
// only.
func setUnsentLowatFD(fd int) {}
