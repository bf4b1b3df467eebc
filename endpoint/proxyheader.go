package endpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// PROXY protocol limits and defaults (HAProxy's proxy-protocol.txt).
const (
	// MaxProxyV1Header is the longest version 1 (text) header the
	// specification allows, CRLF included.
	MaxProxyV1Header = 107
	// MaxProxyV2Header bounds a version 2 (binary) header, its 16 fixed
	// bytes, addresses and TLVs included. The specification allows up
	// to 16+65535; real balancers send far less (HAProxy, AWS and GCP
	// stay under a few hundred bytes with their TLVs), so a larger one is
	// refused as too long.
	MaxProxyV2Header = 4096
	// DefaultProxyHeaderTimeout is how long a connection on a haproxy
	// endpoint may take to send its header when
	// ProxyListener.HeaderTimeout is 0.
	DefaultProxyHeaderTimeout = 10 * time.Second
)

// Causes of a *ProxyError, one per way a header can fail: a server logs
// each cause once, not each connection.
const (
	ProxyNoHeader = "no PROXY protocol header (the connection did not start with one)"
	ProxyTimeout  = "no PROXY protocol header within the read-header timeout"
	ProxyClosed   = "connection closed inside its PROXY protocol header"
	ProxyTooLong  = "PROXY protocol header too long"
	ProxyBadV1    = "malformed PROXY protocol v1 header"
	ProxyBadV2    = "malformed PROXY protocol v2 header"
	ProxyRead     = "read error in the PROXY protocol header"
)

// ErrProxyHeader is what every *ProxyError wraps, for errors.Is.
var ErrProxyHeader = errors.New("bad PROXY protocol header")

// ProxyError says why a connection's PROXY protocol header was refused.
type ProxyError struct {
	// Cause is one of the Proxy* constants.
	Cause string
	// Detail says more ("version 3", "a TLV overruns the header"); may
	// be empty.
	Detail string
	// Err is the underlying read error, if any.
	Err error
}

// Error reads like "malformed PROXY protocol v1 header: bad source port".
func (e *ProxyError) Error() string {
	s := e.Cause
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrProxyHeader and the read error, if any.
func (e *ProxyError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrProxyHeader, e.Err}
	}
	return []error{ErrProxyHeader}
}

func proxyErr(cause, format string, args ...any) *ProxyError {
	return &ProxyError{Cause: cause, Detail: fmt.Sprintf(format, args...)}
}

// ProxyHeader is what a PROXY protocol header says.
type ProxyHeader struct {
	// Version is 1 (text) or 2 (binary).
	Version int
	// Local is true for a version 2 LOCAL command and a version 1
	// "PROXY UNKNOWN" line: the balancer speaks for itself (a health
	// check) and the connection's own addresses stand.
	Local bool
	// Source and Destination are the client's address and the address
	// it connected to, as the balancer saw them: *net.TCPAddr for TCP4
	// and TCP6 (v1) or AF_INET and AF_INET6 (v2), *net.UnixAddr for
	// AF_UNIX (v2). Both nil when Local, or for v2's AF_UNSPEC.
	Source, Destination net.Addr
}

// v2Signature starts every version 2 header.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// v1Signature starts every version 1 header.
var v1Signature = []byte("PROXY ")

// ParseProxyHeader parses the PROXY protocol header (version 1 or 2) at
// the start of b. It returns the header and its length n in b. n == 0
// with a nil error means b is a valid beginning of a header: read more
// and call again. An error is a *ProxyError: b does not start with a
// header, or with a valid one, or the header is longer than
// MaxProxyV1Header or MaxProxyV2Header. Version 2 TLVs are checked to fit
// the header and skipped.
func ParseProxyHeader(b []byte) (h ProxyHeader, n int, err error) {
	switch {
	case len(b) == 0:
		return h, 0, nil
	case b[0] == 'P':
		if len(b) < len(v1Signature) {
			if !bytes.HasPrefix(v1Signature, b) {
				return h, 0, &ProxyError{Cause: ProxyNoHeader}
			}
			return h, 0, nil
		}
		if !bytes.HasPrefix(b, v1Signature) {
			return h, 0, &ProxyError{Cause: ProxyNoHeader}
		}
		return parseV1(b)
	case b[0] == '\r':
		if len(b) < len(v2Signature) {
			if !bytes.HasPrefix(v2Signature, b) {
				return h, 0, &ProxyError{Cause: ProxyNoHeader}
			}
			return h, 0, nil
		}
		if !bytes.HasPrefix(b, v2Signature) {
			return h, 0, &ProxyError{Cause: ProxyNoHeader}
		}
		return parseV2(b)
	}
	return h, 0, &ProxyError{Cause: ProxyNoHeader}
}

func parseV1(b []byte) (h ProxyHeader, n int, err error) {
	end := -1
	for i := len(v1Signature); i < len(b) && i < MaxProxyV1Header-1; i++ {
		c := b[i]
		if c == '\r' {
			if i+1 == len(b) {
				return h, 0, nil // the '\n' may come next
			}
			if b[i+1] != '\n' {
				return h, 0, proxyErr(ProxyBadV1, "CR without LF")
			}
			end = i
			break
		}
		if c < 0x20 || c > 0x7e {
			return h, 0, proxyErr(ProxyBadV1, "byte %#02x in the line", c)
		}
	}
	if end < 0 {
		if len(b) >= MaxProxyV1Header-1 {
			return h, 0, proxyErr(ProxyTooLong, "no CRLF in the first %d bytes of a v1 header", MaxProxyV1Header)
		}
		return h, 0, nil
	}
	h.Version = 1
	n = end + 2
	f := strings.Split(string(b[len(v1Signature):end]), " ")
	switch f[0] {
	case "UNKNOWN":
		// The rest of the line, if any, is to be ignored.
		h.Local = true
		return h, n, nil
	case "TCP4", "TCP6":
	default:
		return h, 0, proxyErr(ProxyBadV1, "protocol %q is not TCP4, TCP6 or UNKNOWN", f[0])
	}
	if len(f) != 5 {
		return h, 0, proxyErr(ProxyBadV1, "%d fields after PROXY, want 5 (protocol, source, destination, their ports)", len(f))
	}
	src, err1 := v1Addr(f[0], f[1], f[3])
	if err1 != nil {
		return h, 0, proxyErr(ProxyBadV1, "source: %v", err1)
	}
	dst, err2 := v1Addr(f[0], f[2], f[4])
	if err2 != nil {
		return h, 0, proxyErr(ProxyBadV1, "destination: %v", err2)
	}
	h.Source, h.Destination = src, dst
	return h, n, nil
}

func v1Addr(proto, ip, port string) (*net.TCPAddr, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		return nil, fmt.Errorf("%q is not an IP address", ip)
	}
	if (proto == "TCP4") != a.Is4() {
		return nil, fmt.Errorf("%q is not an %s address", ip, map[bool]string{true: "IPv4", false: "IPv6"}[proto == "TCP4"])
	}
	if !isNumber(port) || len(port) > 5 || len(port) > 1 && port[0] == '0' {
		return nil, fmt.Errorf("port %q is not a number 0-65535", port)
	}
	p, _ := strconv.Atoi(port)
	if p > 65535 {
		return nil, fmt.Errorf("port %q is not a number 0-65535", port)
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(p))), nil
}

// Version 2 address families and address block sizes.
const (
	v2Unspec = 0x0
	v2Inet   = 0x1
	v2Inet6  = 0x2
	v2Unix   = 0x3
	v2Fixed  = 16 // signature, version and command, family, length
)

func parseV2(b []byte) (h ProxyHeader, n int, err error) {
	if len(b) < v2Fixed {
		return h, 0, nil
	}
	if v := b[12] >> 4; v != 2 {
		return h, 0, proxyErr(ProxyBadV2, "version %d, want 2", v)
	}
	cmd := b[12] & 0xf
	if cmd > 1 {
		return h, 0, proxyErr(ProxyBadV2, "command %d is neither LOCAL (0) nor PROXY (1)", cmd)
	}
	fam, proto := b[13]>>4, b[13]&0xf
	total := v2Fixed + int(binary.BigEndian.Uint16(b[14:16]))
	if total > MaxProxyV2Header {
		return h, 0, proxyErr(ProxyTooLong, "a v2 header of %d bytes, more than the %d accepted", total, MaxProxyV2Header)
	}
	if len(b) < total {
		return h, 0, nil
	}
	h.Version = 2
	if cmd == 0 {
		// LOCAL: whatever follows is to be skipped unread.
		h.Local = true
		return h, total, nil
	}
	if fam > v2Unix || proto > 2 {
		return h, 0, proxyErr(ProxyBadV2, "address family %d, transport %d", fam, proto)
	}
	p := b[v2Fixed:total]
	var used int
	switch fam {
	case v2Inet:
		if used = 12; len(p) < used {
			return h, 0, proxyErr(ProxyBadV2, "%d bytes for AF_INET addresses, want 12", len(p))
		}
		h.Source = v2TCP(p[0:4], p[8:10])
		h.Destination = v2TCP(p[4:8], p[10:12])
	case v2Inet6:
		if used = 36; len(p) < used {
			return h, 0, proxyErr(ProxyBadV2, "%d bytes for AF_INET6 addresses, want 36", len(p))
		}
		h.Source = v2TCP(p[0:16], p[32:34])
		h.Destination = v2TCP(p[16:32], p[34:36])
	case v2Unix:
		if used = 216; len(p) < used {
			return h, 0, proxyErr(ProxyBadV2, "%d bytes for AF_UNIX addresses, want 216", len(p))
		}
		h.Source = &net.UnixAddr{Name: cString(p[0:108]), Net: "unix"}
		h.Destination = &net.UnixAddr{Name: cString(p[108:216]), Net: "unix"}
	}
	// TLVs: type (1 byte), length (2 bytes), value. Skipped, but each
	// must lie inside the header.
	for rest := p[used:]; len(rest) > 0; {
		if len(rest) < 3 {
			return h, 0, proxyErr(ProxyBadV2, "%d stray bytes after the TLVs", len(rest))
		}
		l := 3 + int(binary.BigEndian.Uint16(rest[1:3]))
		if l > len(rest) {
			return h, 0, proxyErr(ProxyBadV2, "TLV of type %#02x overruns the header", rest[0])
		}
		rest = rest[l:]
	}
	return h, total, nil
}

func v2TCP(ip, port []byte) *net.TCPAddr {
	a, _ := netip.AddrFromSlice(ip)
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, binary.BigEndian.Uint16(port)))
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
