package endpoint

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/gotwistd/gotwistd/systemd"
	"golang.org/x/sys/unix"
)

// socketSource lists the sockets systemd passed, as systemd.Sockets does.
// An Endpoint's sockets field holds one in tests, which so fake socket
// activation for their own endpoints only (and can run in parallel).
type socketSource func() ([]systemd.Socket, error)

// systemdSockets is the socket source of e: systemd.Sockets unless a test
// set another.
func (e *Endpoint) systemdSockets() ([]systemd.Socket, error) {
	if e.sockets != nil {
		return e.sockets()
	}
	return systemd.Sockets()
}

var domainFamily = map[string]int{
	DomainINET:  unix.AF_INET,
	DomainINET6: unix.AF_INET6,
	DomainUNIX:  unix.AF_UNIX,
}

func familyName(f int) string {
	switch f {
	case unix.AF_INET:
		return "INET"
	case unix.AF_INET6:
		return "INET6"
	case unix.AF_UNIX:
		return "UNIX"
	}
	return "family " + strconv.Itoa(f)
}

// kind describes a socket as "a TCP socket", "a UNIX datagram socket", ...
func kind(s systemd.Socket) string {
	if s.Type == 0 && s.Family == 0 {
		return "not a socket"
	}
	inet := s.Family == unix.AF_INET || s.Family == unix.AF_INET6
	switch s.Type {
	case unix.SOCK_STREAM:
		if inet {
			return "a TCP socket"
		}
		return "a " + familyName(s.Family) + " stream socket"
	case unix.SOCK_DGRAM:
		if inet {
			return "a UDP socket"
		}
		return "a " + familyName(s.Family) + " datagram socket"
	case unix.SOCK_SEQPACKET:
		return "a " + familyName(s.Family) + " seqpacket socket"
	}
	return "a socket of type " + strconv.Itoa(s.Type)
}

func describe(s systemd.Socket, index int) string {
	if s.Name != "" {
		return fmt.Sprintf("systemd socket %q (fd %d)", s.Name, s.FD)
	}
	return fmt.Sprintf("systemd socket at index %d (fd %d)", index, s.FD)
}

// fit reports why s does not suit an endpoint of domain wanting a datagram
// or stream socket, or nil when it does.
func fit(s systemd.Socket, index int, domain string, datagram bool) error {
	wantType, need, directive := unix.SOCK_STREAM, "a stream socket", "ListenStream="
	if datagram {
		wantType, need, directive = unix.SOCK_DGRAM, "a datagram socket", "ListenDatagram="
	}
	if s.Type != wantType {
		return fmt.Errorf("%s is %s, but the endpoint needs %s: use %s in the .socket unit", describe(s, index), kind(s), need, directive)
	}
	if domain == DomainINET && s.Family == unix.AF_INET6 && dualStack(s) {
		// systemd's plain ListenStream=80 is one IPv6 socket that also
		// takes IPv4 connections; Twisted accepts it as domain=INET too.
		return nil
	}
	if want := domainFamily[domain]; s.Family != want {
		fix := "domain=" + familyName(s.Family)
		switch domain {
		case DomainINET:
			fix += ", or an IPv4 address in the .socket unit (ListenStream=0.0.0.0:80)"
		case DomainINET6:
			fix += ", or an IPv6 address in the .socket unit (ListenStream=[::]:80)"
		}
		article := "an"
		if s.Family == unix.AF_UNIX {
			article = "a"
		}
		return fmt.Errorf("%s is %s %s socket, but the endpoint says domain=%s: use %s", describe(s, index), article, familyName(s.Family), domain, fix)
	}
	return nil
}

// pickSystemd finds the inherited socket e selects.
func pickSystemd(e *Endpoint, datagram bool) (systemd.Socket, error) {
	socks, err := e.systemdSockets()
	if err != nil {
		return systemd.Socket{}, err
	}
	if len(socks) == 0 {
		what := fmt.Sprintf("no socket from systemd at index %d", e.Index)
		if e.Name != "" {
			what = fmt.Sprintf("no socket named %q from systemd", e.Name)
		}
		return systemd.Socket{}, fmt.Errorf("%s: this process was not socket-activated (LISTEN_FDS is unset, or LISTEN_PID is another process): start it through its .socket unit, or use a tcp: or unix: endpoint", what)
	}
	if e.Name == "" {
		if e.Index >= len(socks) {
			return systemd.Socket{}, fmt.Errorf("no socket from systemd at index %d: systemd passed %d (index 0 to %d); add a ListenStream= to the .socket unit or lower index=", e.Index, len(socks), len(socks)-1)
		}
		s := socks[e.Index]
		return s, fit(s, e.Index, e.Domain, datagram)
	}
	var firstErr error
	var names []string
	for i, s := range socks {
		names = append(names, strconv.Quote(s.Name))
		if s.Name != e.Name {
			continue
		}
		err := fit(s, i, e.Domain, datagram)
		if err == nil {
			return s, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return systemd.Socket{}, firstErr
	}
	if socks[0].Name == "" {
		return systemd.Socket{}, fmt.Errorf("no socket named %q from systemd: systemd passed %d socket(s) without names (LISTEN_FDNAMES unset or incomplete); use index= instead, or a systemd that sets FileDescriptorName=", e.Name, len(socks))
	}
	return systemd.Socket{}, fmt.Errorf("no socket named %q from systemd: the names passed are %s; set FileDescriptorName=%s in the .socket unit or use one of those", e.Name, strings.Join(names, ", "), e.Name)
}

func (l *Listener) listenSystemd(e *Endpoint, datagram bool) error {
	s, err := pickSystemd(e, datagram)
	if err != nil {
		return err
	}
	if datagram {
		pc, err := net.FilePacketConn(s.File)
		if err != nil {
			return fmt.Errorf("use %s: %w", describe(s, e.Index), err)
		}
		l.Packet = pc
		return nil
	}
	if s.Listening {
		ln, err := net.FileListener(s.File)
		if err != nil {
			return fmt.Errorf("use %s: %w", describe(s, e.Index), err)
		}
		l.Stream = ln
		return nil
	}
	c, err := net.FileConn(s.File)
	if err != nil {
		return fmt.Errorf("use %s: %w", describe(s, e.Index), err)
	}
	l.Stream = newOnceListener(c)
	l.AcceptOnce = true
	return nil
}

// onceListener is the listener of an Accept=yes connection: Accept returns
// the connection once, then blocks until Close.
type onceListener struct {
	mu     sync.Mutex
	conn   net.Conn // nil once taken
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func newOnceListener(c net.Conn) *onceListener {
	return &onceListener{conn: c, addr: c.LocalAddr(), closed: make(chan struct{})}
}

// Accept returns the connection the first time, then waits for Close and
// returns net.ErrClosed.
func (o *onceListener) Accept() (net.Conn, error) {
	o.mu.Lock()
	c := o.conn
	o.conn = nil
	o.mu.Unlock()
	select {
	case <-o.closed:
		if c != nil {
			c.Close()
		}
		return nil, &net.OpError{Op: "accept", Net: o.addr.Network(), Addr: o.addr, Err: net.ErrClosed}
	default:
	}
	if c != nil {
		return c, nil
	}
	<-o.closed
	return nil, &net.OpError{Op: "accept", Net: o.addr.Network(), Addr: o.addr, Err: net.ErrClosed}
}

// Close wakes blocked Accepts and closes the connection if it was never
// accepted.
func (o *onceListener) Close() error {
	var err error
	o.once.Do(func() {
		close(o.closed)
		o.mu.Lock()
		c := o.conn
		o.conn = nil
		o.mu.Unlock()
		if c != nil {
			err = c.Close()
		}
	})
	if err == nil {
		return nil
	}
	return errors.Join(err)
}

// Addr is the connection's local address.
func (o *onceListener) Addr() net.Addr { return o.addr }

// dualStack reports whether an AF_INET6 socket also accepts IPv4
// (IPV6_V6ONLY is off), without touching the descriptor's blocking mode.
func dualStack(s systemd.Socket) bool {
	if s.File == nil {
		return false
	}
	rc, err := s.File.SyscallConn()
	if err != nil {
		return false
	}
	v6only := 1
	rc.Control(func(fd uintptr) {
		if v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); err == nil {
			v6only = v
		}
	})
	return v6only == 0
}
