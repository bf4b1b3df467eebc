package handover

import (
	"net"
	"strings"
	"sync"
	"syscall"

	"github.com/gotwistd/gotwistd/systemd"
)

// The next instance's side: the connections a previous instance parked,
// served before anything the listener accepts.

// Adopt returns a listener that first yields the connections parked by a
// previous instance (socks, as systemd.SocketsNamed returns them), then
// accepts from l. It tells systemd to forget its copies of them, so that
// closing a connection really closes it. Sockets that are not connected
// stream sockets are closed and skipped. A socket whose name holds a
// client address (NameFor) gives a connection whose RemoteAddr is that
// address; one parked before its PROXY protocol header was read (its name
// ends in ProxiedSuffix) is closed: use AdoptProxied to serve those.
func Adopt(l net.Listener, socks []systemd.Socket) net.Listener {
	return AdoptProxied(l, socks, nil)
}

// AdoptProxied is Adopt, with proxied wrapping each connection parked
// before its PROXY protocol header was read in what reads it
// (endpoint.ProxyListener.Wrap).
func AdoptProxied(l net.Listener, socks []systemd.Socket, proxied func(net.Conn) net.Conn) net.Listener {
	a, forget := AdoptLater(l, socks, proxied)
	forget()
	return a
}

// AdoptLater is AdoptProxied, but leaves systemd's copies in the store
// until the caller calls forget (once; it tells systemd to drop them).
// A server that asks systemd how full the store is (systemd.QueryFDStore)
// while it starts calls forget once it has the answer, so that the answer
// counts the adopted connections either way.
func AdoptLater(l net.Listener, socks []systemd.Socket, proxied func(net.Conn) net.Conn) (_ net.Listener, forget func()) {
	a := &adopting{Listener: l}
	var names []string
	for _, s := range socks {
		if s.Type != syscall.SOCK_STREAM || s.Listening || s.File == nil {
			if s.File != nil {
				s.File.Close()
			}
			continue
		}
		c, err := net.FileConn(s.File)
		s.File.Close()
		if err != nil {
			continue
		}
		base, _, _ := strings.Cut(s.Name, "@")
		addr, isProxied, _ := AddrOf(base, s.Name)
		fc, isFile := c.(fileConn)
		switch {
		case isProxied && proxied == nil:
			c.Close()
			names = appendUnique(names, s.Name)
			continue
		case isProxied:
			c = proxied(c)
		case addr.IsValid() && isFile:
			c = &addrConn{fileConn: fc, remote: addr}
		}
		a.queue = append(a.queue, c)
		names = appendUnique(names, s.Name)
	}
	return a, func() {
		for _, n := range names {
			systemd.RemoveStoredFiles(n)
		}
	}
}

func appendUnique(names []string, n string) []string {
	for _, m := range names {
		if m == n {
			return names
		}
	}
	return append(names, n)
}

type adopting struct {
	net.Listener
	mu    sync.Mutex
	queue []net.Conn
}

func (a *adopting) Accept() (net.Conn, error) {
	a.mu.Lock()
	if len(a.queue) > 0 {
		c := a.queue[0]
		a.queue = a.queue[1:]
		a.mu.Unlock()
		return c, nil
	}
	a.mu.Unlock()
	return a.Listener.Accept()
}

// takeQueued returns the parked connections not yet served, and forgets
// them.
func (a *adopting) takeQueued() []net.Conn {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.queue
	a.queue = nil
	return q
}

// Close closes the listener and any parked connection not yet served.
func (a *adopting) Close() error {
	a.mu.Lock()
	for _, c := range a.queue {
		c.Close()
	}
	a.queue = nil
	a.mu.Unlock()
	return a.Listener.Close()
}
