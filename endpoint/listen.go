package endpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gotwistd/gotwistd/acme"
)

// Listener is a bound endpoint, ready to serve.
type Listener struct {
	// Endpoint is the endpoint that was bound.
	Endpoint *Endpoint
	// Stream accepts connections for stream endpoints (tcp, tcp6, unix,
	// ssl and systemd stream sockets); nil for datagram endpoints. It is
	// NOT wrapped in TLS: for ssl endpoints the server wraps it with TLS.
	Stream net.Listener
	// Packet is the UDP socket of datagram endpoints (quic, and quic over
	// a systemd UDP socket); nil otherwise. For a UDP socket it is a
	// *net.UDPConn.
	Packet net.PacketConn
	// TLS is non-nil for ssl and quic endpoints: the configuration the
	// server wraps Stream (tls.NewListener) or Packet (QUIC) with.
	// NextProtos is {"h2", "http/1.1"} for ssl and {"h3"} for quic. The
	// certificate is served through GetCertificate, so ReloadCertificates
	// swaps it for new handshakes without touching open connections.
	TLS *tls.Config
	// AcceptOnce is true when Stream holds one already-connected socket,
	// the Accept=yes case of a systemd socket unit: the first Accept
	// returns that connection and later calls block until Close. A server
	// should exit once that connection is finished.
	AcceptOnce bool
	// ACME is the certificate manager of an le or lets listener, nil for
	// others. Listen loads the cached certificate only: the server calls
	// ACME.Obtain when ACME.HasValidCertificate is false (once it serves,
	// so the CA's validation can reach it) and ACME.Renew to keep it fresh,
	// and sends ACME.ServeChallenge the requests of its plain HTTP
	// listeners (http-01).
	ACME *acme.Manager
	// Proxy is non-nil for haproxy endpoints (also under ssl): it is
	// Stream, whose connections read the PROXY protocol header before
	// anything else and report the client address it carries. Set its
	// HeaderTimeout and OnError before serving.
	Proxy *ProxyListener

	bound     net.Listener // the TCP socket Listen bound itself; nil for others
	certs     *certStore
	cleanup   []func() error
	closeOnce sync.Once
	closeErr  error
}

// Kind is the word twistd puts before "Port" in the line it logs when a
// listener closes, "(TCP Port 8080 Closed)": "UDP" for datagram sockets,
// "UNIX" for UNIX stream sockets, "TCP" otherwise.
func (l *Listener) Kind() string {
	switch {
	case l.Packet != nil:
		return "UDP"
	case l.Stream != nil && l.Stream.Addr().Network() == "unix":
		return "UNIX"
	}
	return "TCP"
}

// Description is what twistd's "Site starting on %s" line shows: the port
// number for a TCP or UDP socket ("8080", the real one when Port was 0),
// and the quoted path for a UNIX socket ("'/run/www.sock'").
func (l *Listener) Description() string {
	var a net.Addr
	switch {
	case l.Stream != nil:
		a = l.Stream.Addr()
	case l.Packet != nil:
		a = l.Packet.LocalAddr()
	}
	switch a := a.(type) {
	case *net.TCPAddr:
		return strconv.Itoa(a.Port)
	case *net.UDPAddr:
		return strconv.Itoa(a.Port)
	case *net.UnixAddr:
		return pyRepr(a.Name)
	case nil:
		return l.Endpoint.String()
	default:
		return a.String()
	}
}

// pyRepr quotes s as Python's repr does for simple strings.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// ReloadCertificates re-reads the key, certificate and extra chain files
// of an ssl or quic listener (twistd has none; gotwistd does it on
// SIGHUP). New handshakes use the new certificate; on error the old one
// stays in use and the error says which file failed. For listeners without
// TLS it does nothing and returns nil. Files are read from the absolute
// paths resolved when Listen was called, so a later change of directory
// does not matter, but the files must be readable by the user the server
// then runs as.
func (l *Listener) ReloadCertificates() error {
	if l.certs == nil {
		return nil
	}
	if err := l.certs.load(); err != nil {
		return fmt.Errorf("reload certificates of %s: %w", l.Endpoint, err)
	}
	return nil
}

// Close closes the socket and, for a unix endpoint, removes the socket file
// and its lock file. Sockets inherited from systemd stay open in
// systemd (Close closes this process's duplicate). Calling Close again
// returns the first result.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		if l.Stream != nil {
			if err := l.Stream.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		if l.Packet != nil {
			if err := l.Packet.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		for _, f := range l.cleanup {
			if err := f(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			l.closeErr = fmt.Errorf("close %s: %w", l.Endpoint, err)
		}
	})
	return l.closeErr
}

// Listen binds the endpoint. Errors name the endpoint and, where the cause
// is a common one (address in use, a privileged port, a missing
// certificate, a missing or mismatched systemd socket), how to fix it.
func (e *Endpoint) Listen(ctx context.Context) (*Listener, error) {
	l := &Listener{Endpoint: e}
	if err := l.listen(ctx, e); err != nil {
		l.Close()
		return nil, fmt.Errorf("endpoint %s: %w", e, err)
	}
	return l, nil
}

func (l *Listener) listen(ctx context.Context, e *Endpoint) error {
	switch e.Type {
	case TypeTCP, TypeTCP6:
		return l.listenTCP(ctx, e.Type, e.Interface, e.Port, e.Backlog)
	case TypeUNIX:
		return l.listenUNIX(ctx, e)
	case TypeSystemd:
		return l.listenSystemd(e, false)
	case TypeSSL:
		if err := l.loadTLS(e, false); err != nil {
			return err
		}
		if e.Inner == nil {
			return l.listenTCP(ctx, TypeTCP, e.Interface, e.Port, e.Backlog)
		}
		if e.Inner.Type == TypeSSL || e.Inner.Type == TypeQUIC {
			return fmt.Errorf("ssl cannot wrap %s", e.Inner.Type)
		}
		return l.listen(ctx, e.Inner)
	case TypeLE, TypeLETS:
		if err := l.loadACME(e); err != nil {
			return err
		}
		if e.Inner == nil || isACME(e.Inner.Type) || e.Inner.Type == TypeSSL || e.Inner.Type == TypeQUIC {
			return fmt.Errorf("%s needs a tcp, tcp6, unix or systemd endpoint inside", e.Type)
		}
		return l.listen(ctx, e.Inner)
	case TypeHAProxy:
		if e.Inner == nil {
			return errors.New("haproxy needs an inner stream endpoint, as in haproxy:tcp:8080")
		}
		switch e.Inner.Type {
		case TypeTCP, TypeTCP6, TypeUNIX, TypeSystemd:
		default:
			return fmt.Errorf("haproxy cannot wrap %s: it wraps tcp, tcp6, unix, systemd (TLS goes outside: ssl:haproxy:...)", e.Inner.Type)
		}
		if err := l.listen(ctx, e.Inner); err != nil {
			return err
		}
		l.Proxy = NewProxyListener(l.Stream)
		l.Stream = l.Proxy
		return nil
	case TypeQUIC:
		if err := l.loadTLS(e, true); err != nil {
			return err
		}
		if e.Inner == nil {
			return l.listenUDP(ctx, e.Interface, e.Port)
		}
		if e.Inner.Type != TypeSystemd {
			return fmt.Errorf("quic cannot wrap %s", e.Inner.Type)
		}
		return l.listenSystemd(e.Inner, true)
	case "":
		return errors.New("the endpoint has no type")
	}
	return fmt.Errorf("%w '%s'", ErrUnknownType, e.Type)
}

func hostPort(iface string, port int) string {
	iface = strings.TrimSuffix(strings.TrimPrefix(iface, "["), "]")
	return net.JoinHostPort(iface, strconv.Itoa(port))
}

func (l *Listener) listenTCP(ctx context.Context, network, iface string, port, backlog int) error {
	// No TCP keep-alive probes on accepted connections, as Twisted sets none
	// (Go would otherwise make four setsockopt calls per connection).
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, network, hostPort(iface, port))
	if err != nil {
		return explainBind(err, port)
	}
	l.Stream, l.bound = ln, ln
	return applyBacklog(ln, backlog)
}

func (l *Listener) listenUDP(ctx context.Context, iface string, port int) error {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", hostPort(iface, port))
	if err != nil {
		return explainBind(err, port)
	}
	l.Packet = pc
	return nil
}

// explainBind adds the usual fix to a bind error.
func explainBind(err error, port int) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("port %d is already in use: stop the server using it (ss -ltnp shows it) or choose another port: %w", port, err)
	case errors.Is(err, syscall.EACCES) && port < 1024:
		return fmt.Errorf("port %d is privileged: start as root and drop privileges with --uid, grant CAP_NET_BIND_SERVICE, or use a systemd socket unit: %w", port, err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("the interface address is not on this machine: give one of its addresses, or none for all: %w", err)
	}
	return err
}

// applyBacklog applies backlog to a listening socket: listen(2) on a socket
// that is already listening updates its queue length.
func applyBacklog(ln net.Listener, backlog int) error {
	sc, ok := ln.(syscall.Conn)
	if !ok || backlog <= 0 {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), backlog) }); err != nil {
		return err
	}
	if lerr != nil {
		return fmt.Errorf("set backlog %d: %w", backlog, lerr)
	}
	return nil
}

func (l *Listener) loadTLS(e *Endpoint, quic bool) error {
	store, err := newCertStore(e)
	if err != nil {
		return err
	}
	l.certs = store
	l.TLS = store.config(quic)
	return nil
}

// abstract reports whether a unix path is in Linux's abstract namespace.
func abstract(path string) bool { return strings.HasPrefix(path, "@") }

func (l *Listener) listenUNIX(ctx context.Context, e *Endpoint) error {
	path := e.Path
	if e.Lockfile && !abstract(path) {
		unlock, err := lockSocket(path)
		if err != nil {
			return err
		}
		l.cleanup = append(l.cleanup, unlock)
		if err := removeStaleSocket(path); err != nil {
			return err
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		switch {
		case errors.Is(err, syscall.EADDRINUSE) && !e.Lockfile:
			return fmt.Errorf("%s already exists: remove it, or use lockfile=1 so a stale socket is removed: %w", path, err)
		case errors.Is(err, syscall.EACCES):
			return fmt.Errorf("cannot create %s: make its directory writable by this user: %w", path, err)
		case errors.Is(err, syscall.ENOENT):
			return fmt.Errorf("the directory of %s does not exist: create it: %w", path, err)
		}
		return err
	}
	l.Stream = ln
	if !abstract(path) {
		if err := os.Chmod(path, e.Mode.Perm()); err != nil {
			return fmt.Errorf("set mode %04o: %w", uint32(e.Mode.Perm()), err)
		}
	}
	return applyBacklog(ln, e.Backlog)
}

// lockSocket takes path+".lock" the way Twisted's FilesystemLock does: a
// symbolic link whose target is the owner's pid. A lock whose process is
// gone is stale and is taken over. It returns the function that releases
// the lock.
func lockSocket(path string) (func() error, error) {
	lock := path + ".lock"
	me := strconv.Itoa(os.Getpid())
	for range 5 {
		err := os.Symlink(me, lock)
		if err == nil {
			return func() error {
				if target, err := os.Readlink(lock); err == nil && target == me {
					if err := os.Remove(lock); err != nil && !errors.Is(err, os.ErrNotExist) {
						return err
					}
				}
				return nil
			}, nil
		}
		if !errors.Is(err, os.ErrExist) {
			if errors.Is(err, os.ErrPermission) {
				return nil, fmt.Errorf("cannot create lock file %s: make its directory writable by this user, or use lockfile=0: %w", lock, err)
			}
			return nil, fmt.Errorf("create lock file %s: %w", lock, err)
		}
		owner, ok := readLock(lock)
		if owner == 0 && !ok {
			continue // vanished between symlink and read: try again
		}
		if owner == os.Getpid() {
			return nil, fmt.Errorf("%s is already in use by this process (lock %s)", path, lock)
		}
		if owner > 0 && alive(owner) {
			return nil, fmt.Errorf("%s is in use: process %d holds its lock %s; stop that process, or remove %s if it is not a server", path, owner, lock, lock)
		}
		// Stale: the owner is gone (or the lock holds no pid).
		if err := os.Remove(lock); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale lock file %s: %w", lock, err)
		}
	}
	return nil, fmt.Errorf("could not take lock file %s: it keeps changing", lock)
}

// readLock reads the pid held by a lock: the target of a symbolic link (as
// Twisted writes it) or the contents of a regular file. ok is false when
// the lock does not exist any more.
func readLock(lock string) (pid int, ok bool) {
	s, err := os.Readlink(lock)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, false
		}
		b, err := os.ReadFile(lock)
		if err != nil {
			return 0, !errors.Is(err, os.ErrNotExist)
		}
		s = string(b)
	}
	pid, err = strconv.Atoi(strings.TrimSpace(s))
	if err != nil || pid <= 0 {
		return -1, true
	}
	return pid, true
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// removeStaleSocket removes a socket file left at path by a process that is
// gone. The caller holds the lock. A socket something still accepts on, or
// a file that is not a socket, is left alone and reported.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: remove it or choose another path", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("%s is in use: another process accepts connections on it without a lock; stop it or choose another path", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}
