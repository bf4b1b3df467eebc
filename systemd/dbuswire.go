package systemd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The D-Bus wire format of the client in dbus.go: method calls marshalled
// little-endian, and messages of either byte order unmarshalled for the few
// types the answers use.

// Message types.
const (
	msgCall   = 1
	msgReturn = 2
	msgError  = 3
	msgSignal = 4
)

// flagNoAutoStart asks the bus not to start the destination's service.
const flagNoAutoStart = 0x2

// Header field codes.
const (
	fieldPath        = 1
	fieldInterface   = 2
	fieldMember      = 3
	fieldErrorName   = 4
	fieldReplySerial = 5
	fieldDestination = 6
	fieldSender      = 7
	fieldSignature   = 8
	fieldUnixFDs     = 9
)

// maxDBusMessage bounds a message we read: the answers we wait for are a few
// hundred bytes, and the bus sends us nothing large unasked.
const maxDBusMessage = 1 << 20

// enc marshals little-endian D-Bus values.
type enc struct{ b []byte }

func (e *enc) align(n int) {
	for len(e.b)%n != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *enc) u32(v uint32) {
	e.align(4)
	e.b = binary.LittleEndian.AppendUint32(e.b, v)
}

func (e *enc) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

func (e *enc) sig(s string) {
	e.b = append(e.b, byte(len(s)))
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

func encU32(v uint32) []byte {
	var e enc
	e.u32(v)
	return e.b
}

func encStrings(ss ...string) []byte {
	var e enc
	for _, s := range ss {
		e.str(s)
	}
	return e.b
}

// encodeCall marshals a method call. body must be marshalled from offset
// 0 (it starts 8-aligned, so its alignment is the same).
func encodeCall(serial uint32, dest, path, iface, member, sig string, body []byte) []byte {
	e := enc{b: make([]byte, 0, 128+len(body))}
	// NO_AUTO_START: where systemd does not run, the bus would try to
	// start it (and fail, later); we want the answer now.
	e.b = append(e.b, 'l', msgCall, flagNoAutoStart, 1)
	e.u32(uint32(len(body)))
	e.u32(serial)
	e.u32(0) // the fields' length, filled in below
	start := len(e.b)
	field := func(code byte, typ, val string) {
		e.align(8)
		e.b = append(e.b, code)
		e.sig(typ)
		if typ == "g" {
			e.sig(val)
		} else {
			e.str(val)
		}
	}
	field(fieldPath, "o", path)
	if dest != "" {
		field(fieldDestination, "s", dest)
	}
	if iface != "" {
		field(fieldInterface, "s", iface)
	}
	field(fieldMember, "s", member)
	if sig != "" {
		field(fieldSignature, "g", sig)
	}
	binary.LittleEndian.PutUint32(e.b[12:], uint32(len(e.b)-start))
	e.align(8)
	return append(e.b, body...)
}

// dbusMessage is a message read, with the header fields we look at.
type dbusMessage struct {
	order       binary.ByteOrder
	typ         byte
	serial      uint32
	replySerial uint32
	errorName   string
	signature   string
	body        []byte
}

// readMessage reads one message.
func readMessage(r io.Reader) (*dbusMessage, error) {
	var fixed [16]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	m := &dbusMessage{typ: fixed[1]}
	switch fixed[0] {
	case 'l':
		m.order = binary.LittleEndian
	case 'B':
		m.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("read message: bad byte order %q", fixed[0])
	}
	if fixed[3] != 1 {
		return nil, fmt.Errorf("read message: protocol version %d, want 1", fixed[3])
	}
	bodyLen := m.order.Uint32(fixed[4:])
	m.serial = m.order.Uint32(fixed[8:])
	fieldsLen := m.order.Uint32(fixed[12:])
	padded := (uint64(fieldsLen) + 7) &^ 7
	if padded+uint64(bodyLen) > maxDBusMessage {
		return nil, fmt.Errorf("read message: %d bytes of header fields and %d of body: more than %d", fieldsLen, bodyLen, maxDBusMessage)
	}
	rest := make([]byte, padded+uint64(bodyLen))
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	// Offsets count from the message's start: the fields from 16.
	d := &dec{b: rest[:fieldsLen], order: m.order, base: 16}
	for len(d.b) > d.off {
		if err := d.align(8); err != nil {
			return nil, err
		}
		code, err := d.byte()
		if err != nil {
			return nil, err
		}
		sig, err := d.sig()
		if err != nil {
			return nil, err
		}
		switch sig {
		case "s", "o":
			s, err := d.str()
			if err != nil {
				return nil, err
			}
			if code == fieldErrorName {
				m.errorName = s
			}
		case "g":
			s, err := d.sig()
			if err != nil {
				return nil, err
			}
			if code == fieldSignature {
				m.signature = s
			}
		case "u":
			v, err := d.u32()
			if err != nil {
				return nil, err
			}
			if code == fieldReplySerial {
				m.replySerial = v
			}
		default:
			return nil, fmt.Errorf("read message: header field %d of type %q", code, sig)
		}
	}
	m.body = rest[padded:]
	return m, nil
}

// body returns a decoder of the body, after checking its signature.
func (m *dbusMessage) bodyOf(sig string) (*dec, error) {
	if m.signature != sig {
		return nil, fmt.Errorf("reply of signature %q, want %q", m.signature, sig)
	}
	return &dec{b: m.body, order: m.order}, nil
}

// objectPath is the reply's one object path.
func (m *dbusMessage) objectPath() (string, error) {
	d, err := m.bodyOf("o")
	if err != nil {
		return "", err
	}
	return d.str()
}

// variantU32 is the reply's one variant, which must hold a uint32.
func (m *dbusMessage) variantU32() (uint32, error) {
	d, err := m.bodyOf("v")
	if err != nil {
		return 0, err
	}
	sig, err := d.sig()
	if err != nil {
		return 0, err
	}
	if sig != "u" {
		return 0, fmt.Errorf("variant of type %q, want \"u\"", sig)
	}
	return d.u32()
}

// asError makes an error reply an error, with its text when the body
// starts with a string.
func (m *dbusMessage) asError() error {
	e := &DBusError{Name: m.errorName}
	if e.Name == "" {
		e.Name = "(unnamed d-bus error)"
	}
	if strings.HasPrefix(m.signature, "s") {
		d := &dec{b: m.body, order: m.order}
		if s, err := d.str(); err == nil {
			e.Message = s
		}
	}
	return e
}

// dec unmarshals D-Bus values; base is the offset of b[0] in the message,
// for alignment.
type dec struct {
	b     []byte
	off   int
	base  int
	order binary.ByteOrder
}

var errShort = errors.New("d-bus message: truncated")

func (d *dec) align(n int) error {
	for (d.base+d.off)%n != 0 {
		if d.off >= len(d.b) {
			return errShort
		}
		if d.b[d.off] != 0 {
			return errors.New("d-bus message: padding not zero")
		}
		d.off++
	}
	return nil
}

func (d *dec) byte() (byte, error) {
	if d.off >= len(d.b) {
		return 0, errShort
	}
	d.off++
	return d.b[d.off-1], nil
}

func (d *dec) u32() (uint32, error) {
	if err := d.align(4); err != nil {
		return 0, err
	}
	if len(d.b)-d.off < 4 {
		return 0, errShort
	}
	v := d.order.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

// str reads a string or an object path.
func (d *dec) str() (string, error) {
	n, err := d.u32()
	if err != nil {
		return "", err
	}
	return d.text(uint64(n))
}

// sig reads a signature.
func (d *dec) sig() (string, error) {
	n, err := d.byte()
	if err != nil {
		return "", err
	}
	return d.text(uint64(n))
}

// text reads n bytes and the NUL after them.
func (d *dec) text(n uint64) (string, error) {
	if uint64(len(d.b)-d.off) < n+1 {
		return "", errShort
	}
	s := d.b[d.off : d.off+int(n)]
	if d.b[d.off+int(n)] != 0 || bytes.IndexByte(s, 0) >= 0 {
		return "", errors.New("d-bus message: string not NUL-terminated, or holding a NUL")
	}
	d.off += int(n) + 1
	return string(s), nil
}
