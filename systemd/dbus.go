package systemd

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// A minimal D-Bus client: enough to ask the service manager one property
// of the unit this process runs in. The wire protocol is the D-Bus
// specification's: SASL EXTERNAL authentication with our uid, then method
// calls marshalled little-endian, and replies of either byte order
// unmarshalled for the few types the answers use (o, s, g, u, v).

// Well-known D-Bus sockets.
const (
	// SystemBusSocket is the system bus's socket (dbus-daemon or
	// dbus-broker), used unless $DBUS_SYSTEM_BUS_ADDRESS names another.
	SystemBusSocket = "/run/dbus/system_bus_socket"
	// PrivateSocket is systemd's own D-Bus socket: it needs no bus
	// daemon, but only root may talk on it.
	PrivateSocket = "/run/systemd/private"
)

// ErrNoUnit is returned by QueryFDStore when the service manager knows no
// unit for this process, or the unit is not a service.
var ErrNoUnit = errors.New("no systemd service unit for this process")

// FDStore is what the service manager says of a service's file
// descriptor store.
type FDStore struct {
	// Unit is the unit's D-Bus object path.
	Unit string
	// Max is FileDescriptorStoreMax=: how many descriptors the store
	// holds at most (0: there is no store).
	Max uint32
	// Stored is NFileDescriptorStore: how many it holds now.
	Stored uint32
}

// Free is how many more descriptors the store takes.
func (s FDStore) Free() int {
	if s.Stored >= s.Max {
		return 0
	}
	return int(s.Max - s.Stored)
}

// QueryFDStore asks the service manager over D-Bus for the file
// descriptor store of the service this process runs in (the unit
// GetUnitByPID names for our pid): its FileDescriptorStoreMax= and how
// many descriptors it holds. systemd 252 and 253 do not tell a service
// its store's size in the environment ($FDSTORE is systemd >= 254's); this
// is how to learn it there.
//
// As root it talks to systemd directly on PrivateSocket, which works
// without a bus daemon, and falls back to the system bus; other users
// use the system bus ($DBUS_SYSTEM_BUS_ADDRESS if it names a unix:path=
// socket, else SystemBusSocket), whose policy lets anyone read these
// properties. ctx bounds the whole exchange; without a deadline in ctx,
// 2 seconds.
//
// Results:
//   - (store, nil): the answer; store.Max 0 means the unit has no store.
//   - an error wrapping ErrNoUnit: we run in no service unit (a scope,
//     a shell).
//   - another error: no bus to ask (no socket, refused, not allowed),
//     or it answered with an error; the message names the socket and
//     the cause.
func QueryFDStore(ctx context.Context) (FDStore, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	var errs []error
	for _, s := range busSockets(os.Geteuid(), os.Getenv) {
		st, err := queryFDStore(ctx, s.path, s.bus, os.Getpid())
		if err == nil || errors.Is(err, ErrNoUnit) {
			return st, err
		}
		errs = append(errs, err)
	}
	return FDStore{}, errors.Join(errs...)
}

// busSocket is a D-Bus socket to try; bus: a bus daemon's (Hello first),
// rather than systemd's own.
type busSocket struct {
	path string
	bus  bool
}

// busSockets lists where to ask, in order.
func busSockets(euid int, getenv func(string) string) []busSocket {
	var out []busSocket
	if euid == 0 {
		out = append(out, busSocket{PrivateSocket, false})
	}
	system := SystemBusSocket
	if a := getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
		if p, ok := unixPath(a); ok {
			system = p
		}
	}
	return append(out, busSocket{system, true})
}

// unixPath returns the path of the first unix:path= address of a D-Bus
// server address list ("unix:path=/run/x;tcp:host=...").
func unixPath(addrs string) (string, bool) {
	for _, a := range strings.Split(addrs, ";") {
		rest, ok := strings.CutPrefix(a, "unix:")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "path="); ok && v != "" {
				if u, err := unescapeAddr(v); err == nil {
					return u, true
				}
			}
		}
	}
	return "", false
}

// unescapeAddr undoes D-Bus address escaping (%XX).
func unescapeAddr(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("d-bus address %q: %% at the end", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("d-bus address %q: bad escape %q", s, s[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// queryFDStore asks on one socket.
func queryFDStore(ctx context.Context, path string, bus bool, pid int) (FDStore, error) {
	c, err := dialDBus(ctx, path, bus)
	if err != nil {
		return FDStore{}, err
	}
	defer c.Close()
	var unit string
	rep, err := c.call(ctx, "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "GetUnitByPID", "u", encU32(uint32(pid)))
	if err == nil {
		unit, err = rep.objectPath()
	}
	if err != nil {
		var de *DBusError
		if errors.As(err, &de) && strings.HasSuffix(de.Name, ".NoSuchUnit") {
			return FDStore{}, fmt.Errorf("d-bus %s: GetUnitByPID(%d): %w", path, pid, ErrNoUnit)
		}
		return FDStore{}, fmt.Errorf("d-bus %s: GetUnitByPID(%d): %w", path, pid, err)
	}
	st := FDStore{Unit: unit}
	for _, p := range []struct {
		name string
		to   *uint32
	}{{"FileDescriptorStoreMax", &st.Max}, {"NFileDescriptorStore", &st.Stored}} {
		rep, err := c.call(ctx, "org.freedesktop.systemd1", unit, "org.freedesktop.DBus.Properties", "Get", "ss",
			encStrings("org.freedesktop.systemd1.Service", p.name))
		if err == nil {
			*p.to, err = rep.variantU32()
		}
		if err != nil {
			var de *DBusError
			if errors.As(err, &de) && strings.HasSuffix(de.Name, ".UnknownInterface") {
				return FDStore{}, fmt.Errorf("d-bus %s: %s is not a service: %w", path, unit, ErrNoUnit)
			}
			return FDStore{}, fmt.Errorf("d-bus %s: %s %s: %w", path, unit, p.name, err)
		}
	}
	return st, nil
}

// dbusConn is an authenticated D-Bus connection.
type dbusConn struct {
	nc     net.Conn
	r      *bufio.Reader
	serial uint32
}

// dialDBus connects to the socket at path and authenticates with our
// uid; on a bus it also says Hello, as a bus requires first.
func dialDBus(ctx context.Context, path string, bus bool) (*dbusConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("d-bus: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	c := &dbusConn{nc: nc, r: bufio.NewReaderSize(nc, 4096)}
	if err := c.auth(os.Geteuid()); err != nil {
		nc.Close()
		return nil, fmt.Errorf("d-bus %s: %w", path, err)
	}
	if bus {
		if _, err := c.call(ctx, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "", nil); err != nil {
			nc.Close()
			return nil, fmt.Errorf("d-bus %s: Hello: %w", path, err)
		}
	}
	return c, nil
}

// Close closes the connection.
func (c *dbusConn) Close() error { return c.nc.Close() }

// auth runs SASL EXTERNAL: the server checks the uid we claim against
// the socket's peer credentials.
func (c *dbusConn) auth(uid int) error {
	msg := "\x00AUTH EXTERNAL " + hex.EncodeToString([]byte(strconv.Itoa(uid))) + "\r\n"
	if _, err := io.WriteString(c.nc, msg); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if !strings.HasPrefix(line, "OK ") {
		return fmt.Errorf("auth EXTERNAL as uid %d refused: %q", uid, strings.TrimSpace(line))
	}
	if _, err := io.WriteString(c.nc, "BEGIN\r\n"); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// call sends a method call and waits for its reply, skipping other
// messages (the bus's NameAcquired signal). An error reply is a
// *DBusError.
func (c *dbusConn) call(ctx context.Context, dest, path, iface, member, sig string, body []byte) (*dbusMessage, error) {
	c.serial++
	if _, err := c.nc.Write(encodeCall(c.serial, dest, path, iface, member, sig, body)); err != nil {
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := readMessage(c.r)
		if err != nil {
			return nil, err
		}
		if (m.typ != msgReturn && m.typ != msgError) || m.replySerial != c.serial {
			continue
		}
		if m.typ == msgError {
			return nil, m.asError()
		}
		return m, nil
	}
}

// DBusError is an error reply.
type DBusError struct {
	// Name is the error's name (org.freedesktop.DBus.Error.AccessDenied).
	Name string
	// Message is its text, if the reply had one.
	Message string
}

func (e *DBusError) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}
