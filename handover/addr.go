package handover

import (
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
)

// Connections from a load balancer (endpoint.ProxyConn, which reads a
// PROXY protocol header) have a client address that is not their socket's
// peer. They are parked under a name that keeps it, so that the next
// instance logs the same client: DefaultName, "@" and the address with
// its colons spelled "_" (an FDNAME may not hold ':'), such as
// "gotwistd-conn@203.0.113.7_51234" or "gotwistd-conn@[2001_db8__7]_443".
// One whose header was not read yet (accepted once the handover started)
// is parked unread as "gotwistd-conn@proxy", for the next instance to read
// the header.

// ProxiedSuffix ends the name of a connection parked before its PROXY
// protocol header was read.
const ProxiedSuffix = "@proxy"

// Addressed is implemented by connection wrappers whose client address
// is not the socket's peer (endpoint.ProxyConn). ClientAddr reports it
// without waiting: addr, when the wrapper knows it (invalid when the
// socket's own peer stands, as after a PROXY LOCAL command); pending, when
// the wrapper has not read what tells it yet, so the connection is parked
// unread; ok false when it cannot be parked now (a header being read, or
// a bad one).
type Addressed interface {
	ClientAddr() (addr netip.AddrPort, pending, ok bool)
}

// NameFor returns the name a connection from addr is parked under: name
// itself for an invalid addr.
func NameFor(name string, addr netip.AddrPort) string {
	if !addr.IsValid() {
		return name
	}
	a := netip.AddrPortFrom(addr.Addr().Unmap().WithZone(""), addr.Port())
	return name + "@" + strings.ReplaceAll(a.String(), ":", "_")
}

// AddrOf returns the client address a parked connection's name holds,
// if name is base or starts with base+"@". proxied reports a connection
// parked before its PROXY header was read; ok is false for other names.
func AddrOf(base, name string) (addr netip.AddrPort, proxied, ok bool) {
	if name == base {
		return addr, false, true
	}
	rest, found := strings.CutPrefix(name, base+"@")
	if !found {
		return addr, false, false
	}
	if "@"+rest == ProxiedSuffix {
		return addr, true, true
	}
	a, err := netip.ParseAddrPort(strings.ReplaceAll(rest, "_", ":"))
	if err != nil {
		return addr, false, false
	}
	return a, false, true
}

// nameOf is the name c is parked under; ok false when it cannot be
// parked now.
func (t *Tracker) nameOf(c net.Conn) (string, bool) {
	for c != nil {
		if a, isA := c.(Addressed); isA {
			addr, pending, ok := a.ClientAddr()
			switch {
			case !ok:
				return "", false
			case pending:
				return t.Name + ProxiedSuffix, true
			}
			return NameFor(t.Name, addr), true
		}
		u, isW := c.(interface{ Unwrap() net.Conn })
		if !isW {
			break
		}
		c = u.Unwrap()
	}
	return t.Name, true
}

// addrConn is an adopted connection whose client address came with its
// name: its RemoteAddr, kept when it is parked again.
type addrConn struct {
	fileConn
	remote netip.AddrPort
}

func (c *addrConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

// ClientAddr makes it parked again under the same name.
func (c *addrConn) ClientAddr() (netip.AddrPort, bool, bool) { return c.remote, false, true }

func (c *addrConn) Unwrap() net.Conn { return c.fileConn }

// TransparentIO tells gotwistd's HTTP/1.1 engine that reads and writes
// go to the socket unchanged.
func (c *addrConn) TransparentIO() {}

func (c *addrConn) File() (*os.File, error) { return c.fileConn.File() }

// ReadFrom keeps sendfile(2) for net/http's file responses.
func (c *addrConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.fileConn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.fileConn}, r)
}

// CloseWrite half-closes the connection.
func (c *addrConn) CloseWrite() error {
	if cw, ok := c.fileConn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
