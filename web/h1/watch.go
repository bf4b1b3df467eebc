package h1

import "github.com/gotwistd/gotwistd/web/fast"

// refreshWatch lets a connection on its goroutine trust the fast.Handler's
// watch, as an event loop and the HTTP/2 engine do: when the Handler is a
// fast.Watcher with a descriptor, it is refreshed once per read (the
// changes made before the requests of that read were sent are in its
// queue by then), and the requests are Watched: the static handler need
// not stat(2) a cached file for each of them. false when there is no
// watch.
func (c *conn) refreshWatch() bool {
	w, ok := c.srv.Fast.(fast.Watcher)
	if !ok || w.WatchFD() < 0 {
		return false
	}
	if !c.refreshed {
		w.Refresh()
		c.refreshed = true
	}
	return true
}
