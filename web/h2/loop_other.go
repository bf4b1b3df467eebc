//go:build !linux

package h2

// No event loops here: every connection keeps its reading goroutine.

type loopState struct{ lp *loop } // lp is always nil

type loop struct{}

func (*loop) kick(*conn) {}

type loops struct{}

func (c *conn) initLoop() {}

func (c *conn) park() (held bool, framesErr, readErr error) { return false, nil, nil }

func (c *conn) socketFull() bool { return false }
