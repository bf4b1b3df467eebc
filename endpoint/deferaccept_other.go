//go:build !linux

package endpoint

// DeferAccept sets TCP_DEFER_ACCEPT where there is one (Linux); here it
// does nothing.
func (l *Listener) DeferAccept() error { return nil }
