package systemd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// orderer is a byte order that appends too.
type orderer interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// reply builds a method return or error in byte order order, as a bus
// would send it: REPLY_SERIAL, SIGNATURE and ERROR_NAME fields.
func reply(order orderer, typ byte, replySerial uint32, errName, sig string, body []byte) []byte {
	b := []byte{'l', typ, 0, 1}
	if order == orderer(binary.BigEndian) {
		b[0] = 'B'
	}
	b = order.AppendUint32(b, uint32(len(body)))
	b = order.AppendUint32(b, 7)
	b = order.AppendUint32(b, 0)
	start := len(b)
	pad := func(n int) {
		for len(b)%n != 0 {
			b = append(b, 0)
		}
	}
	pad(8)
	b = append(b, fieldReplySerial, 1, 'u', 0)
	b = order.AppendUint32(b, replySerial)
	if errName != "" {
		pad(8)
		b = append(b, fieldErrorName, 1, 's', 0)
		b = order.AppendUint32(b, uint32(len(errName)))
		b = append(append(b, errName...), 0)
	}
	if sig != "" {
		pad(8)
		b = append(b, fieldSignature, 1, 'g', 0, byte(len(sig)))
		b = append(append(b, sig...), 0)
	}
	order.PutUint32(b[12:], uint32(len(b)-start))
	pad(8)
	return append(b, body...)
}

// variantU32Body is the body of a Get reply holding the uint32 v.
func variantU32Body(order orderer, v uint32) []byte {
	return order.AppendUint32([]byte{1, 'u', 0, 0}, v)
}

func TestEncodeCall(t *testing.T) {
	body := encStrings("org.freedesktop.systemd1.Service", "FileDescriptorStoreMax")
	b := encodeCall(3, "org.freedesktop.systemd1", "/org/freedesktop/systemd1/unit/www_2eexample_2ecom_2eservice",
		"org.freedesktop.DBus.Properties", "Get", "ss", body)
	if len(b)%8 != len(body)%8 || b[0] != 'l' || b[1] != msgCall || b[3] != 1 {
		t.Fatalf("header % x", b[:16])
	}
	m, err := readMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("readMessage of our own call: %v", err)
	}
	if m.typ != msgCall || m.serial != 3 || m.signature != "ss" || !bytes.Equal(m.body, body) {
		t.Errorf("read back: type %d serial %d signature %q body %q", m.typ, m.serial, m.signature, m.body)
	}
	d, _ := m.bodyOf("ss")
	a, err1 := d.str()
	p, err2 := d.str()
	if a != "org.freedesktop.systemd1.Service" || p != "FileDescriptorStoreMax" || err1 != nil || err2 != nil {
		t.Errorf("body read back: %q %q (%v, %v)", a, p, err1, err2)
	}
}

func TestReadMessage(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	unitPath := "/org/freedesktop/systemd1/unit/x_2eservice"
	pathBody := func(o orderer) []byte {
		return append(append(o.AppendUint32(nil, uint32(len(unitPath))), unitPath...), 0)
	}
	tests := []struct {
		name    string
		in      []byte
		path    string // want objectPath
		u32     uint32 // want variantU32, if path is ""
		errName string // want an error reply of this name
		wantErr string // want readMessage or the accessor to fail so
	}{
		{name: "object path, little-endian", in: reply(le, msgReturn, 1, "", "o", pathBody(le)), path: unitPath},
		{name: "object path, big-endian", in: reply(be, msgReturn, 1, "", "o", pathBody(be)), path: unitPath},
		{name: "variant u, little-endian", in: reply(le, msgReturn, 1, "", "v", variantU32Body(le, 4096)), u32: 4096},
		{name: "variant u, big-endian", in: reply(be, msgReturn, 1, "", "v", variantU32Body(be, 4096)), u32: 4096},
		{name: "error with text", in: reply(le, msgError, 1, "org.freedesktop.DBus.Error.AccessDenied", "s", encStrings("no")), errName: "org.freedesktop.DBus.Error.AccessDenied"},
		{name: "variant of a string", in: reply(le, msgReturn, 1, "", "v", append([]byte{1, 's', 0, 0}, encStrings("x")...)), wantErr: `variant of type "s"`},
		{name: "wrong signature", in: reply(le, msgReturn, 1, "", "u", encU32(1)), wantErr: `signature "u", want "v"`},
		{name: "bad byte order", in: append([]byte{'x'}, reply(le, msgReturn, 1, "", "", nil)[1:]...), wantErr: "bad byte order"},
		{name: "version 2", in: func() []byte { b := reply(le, msgReturn, 1, "", "", nil); b[3] = 2; return b }(), wantErr: "protocol version 2"},
		{name: "truncated", in: reply(le, msgReturn, 1, "", "o", pathBody(le))[:30], wantErr: "unexpected EOF"},
		{name: "huge body", in: func() []byte { b := reply(le, msgReturn, 1, "", "", nil); le.PutUint32(b[4:], 1<<30); return b }(), wantErr: "more than"},
		{name: "field of an array type", in: func() []byte {
			b := reply(le, msgReturn, 1, "", "", nil)
			b[18] = 'a'
			return b
		}(), wantErr: `header field 5 of type "a"`},
		{name: "string without NUL", in: func() []byte {
			b := reply(le, msgReturn, 1, "", "o", pathBody(le))
			b[len(b)-1] = 'x'
			return b
		}(), path: unitPath, wantErr: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := readMessage(bytes.NewReader(tt.in))
			if err == nil {
				switch {
				case tt.errName != "":
					var de *DBusError
					if e := m.asError(); !errors.As(e, &de) || de.Name != tt.errName || m.typ != msgError {
						t.Errorf("error reply: %v, want %s", e, tt.errName)
					}
					return
				case tt.path != "" || strings.Contains(tt.wantErr, "want \"o\""):
					var p string
					p, err = m.objectPath()
					if err == nil && p != tt.path {
						t.Errorf("objectPath = %q, want %q", p, tt.path)
					}
				default:
					var v uint32
					v, err = m.variantU32()
					if err == nil && v != tt.u32 {
						t.Errorf("variantU32 = %d, want %d", v, tt.u32)
					}
				}
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one with %q", err, tt.wantErr)
			}
			if m != nil && err == nil && m.replySerial != 1 {
				t.Errorf("reply serial %d, want 1", m.replySerial)
			}
		})
	}
}

// FuzzReadMessage: no input makes the reader or the accessors panic, and
// what the reader accepts it accepts again from its own parts.
func FuzzReadMessage(f *testing.F) {
	le := binary.LittleEndian
	f.Add(reply(le, msgReturn, 1, "", "v", variantU32Body(le, 4096)))
	f.Add(reply(binary.BigEndian, msgReturn, 1, "", "o", append(append(binary.BigEndian.AppendUint32(nil, 4), "/a/b"...), 0)))
	f.Add(reply(le, msgError, 1, "org.freedesktop.DBus.Error.UnknownObject", "s", encStrings("gone")))
	f.Add(encodeCall(1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", "", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := readMessage(bytes.NewReader(b))
		if err != nil {
			return
		}
		_, _ = m.objectPath()
		_, _ = m.variantU32()
		_ = m.asError().Error()
		if len(m.body) > maxDBusMessage {
			t.Fatalf("body of %d bytes accepted", len(m.body))
		}
	})
}

func TestBusSockets(t *testing.T) {
	tests := []struct {
		name string
		euid int
		addr string
		want []busSocket
	}{
		{"user", 1000, "", []busSocket{{SystemBusSocket, true}}},
		{"root: systemd's own socket first", 0, "", []busSocket{{PrivateSocket, false}, {SystemBusSocket, true}}},
		{"address from the environment", 1000, "unix:path=/run/other%2dbus", []busSocket{{"/run/other-bus", true}}},
		{"first unix path of a list", 1000, "tcp:host=x,port=1;unix:guid=1,path=/b", []busSocket{{"/b", true}}},
		{"no usable address", 1000, "unix:abstract=x", []busSocket{{SystemBusSocket, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := busSockets(tt.euid, func(k string) string {
				if k == "DBUS_SYSTEM_BUS_ADDRESS" {
					return tt.addr
				}
				return ""
			})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("busSockets = %v, want %v", got, tt.want)
			}
		})
	}
}

// startBus runs a real dbus-daemon (Debian's dbus package) on a socket in
// a temporary directory, until the test ends, and returns the socket's
// path. It skips the test if there is no dbus-daemon.
func startBus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("no dbus-daemon (Debian package dbus): the D-Bus client is not tested against a real bus")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	// A session bus of its own that starts no services (the stock
	// session.conf would try to start systemd for org.freedesktop.systemd1).
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+sock+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// It prints its address once it listens.
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return sock
}

// TestDBusDaemon talks to a real dbus-daemon: authentication, Hello, a
// call answered with a uint32, an error reply, a variant of another type,
// and QueryFDStore's question where no systemd answers.
func TestDBusDaemon(t *testing.T) {
	sock := startBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := dialDBus(ctx, sock, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// GetId answers with the bus's id, a string.
	rep, err := c.call(ctx, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId", "", nil)
	if err != nil {
		t.Fatalf("GetId: %v", err)
	}
	d, err := rep.bodyOf("s")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := d.str(); err != nil || len(id) != 32 {
		t.Errorf("GetId = %q (%v), want 32 hex digits", id, err)
	}

	// The bus's own uid, a uint32.
	rep, err = c.call(ctx, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
		"GetConnectionUnixUser", "s", encStrings("org.freedesktop.DBus"))
	if err != nil {
		t.Fatalf("GetConnectionUnixUser: %v", err)
	}
	if d, err = rep.bodyOf("u"); err != nil {
		t.Fatal(err)
	}
	if uid, err := d.u32(); err != nil || int(uid) != os.Geteuid() {
		t.Errorf("the bus's uid = %d (%v), want %d", uid, err, os.Geteuid())
	}

	_, err = c.call(ctx, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
		"GetConnectionUnixProcessID", "s", encStrings("org.example.Nobody"))
	var de *DBusError
	if !errors.As(err, &de) || de.Name != "org.freedesktop.DBus.Error.NameHasNoOwner" || de.Message == "" {
		t.Errorf("GetConnectionUnixProcessID of a name nobody owns: %v, want NameHasNoOwner with a message", err)
	}

	rep, err = c.call(ctx, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.Properties",
		"Get", "ss", encStrings("org.freedesktop.DBus", "Features"))
	if err != nil {
		t.Fatalf("Get Features: %v", err)
	}
	if _, err := rep.variantU32(); err == nil || !strings.Contains(err.Error(), `"as"`) {
		t.Errorf("variantU32 of an array of strings: %v, want an error naming its type", err)
	}

	// No systemd on this bus: an error, which is not ErrNoUnit.
	_, err = queryFDStore(ctx, sock, true, os.Getpid())
	if err == nil || errors.Is(err, ErrNoUnit) || !strings.Contains(err.Error(), "NameHasNoOwner") {
		t.Errorf("queryFDStore with no systemd on the bus: %v, want NameHasNoOwner (and no attempt to start systemd)", err)
	}
	// No bus at all.
	_, err = queryFDStore(ctx, filepath.Join(t.TempDir(), "none"), true, os.Getpid())
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("queryFDStore with no socket: %v", err)
	}
}

// FuzzUnixPath: any D-Bus address list parses without a panic, and a path
// found is never empty.
func FuzzUnixPath(f *testing.F) {
	for _, s := range []string{"unix:path=/run/dbus/system_bus_socket", "unix:path=/a%2cb", "tcp:host=x;unix:guid=0,path=/b", "unix:path=%", "unix:path=%zz", "unix:abstract=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, ok := unixPath(s); ok && p == "" {
			t.Fatalf("unixPath(%q) = empty path", s)
		}
	})
}
