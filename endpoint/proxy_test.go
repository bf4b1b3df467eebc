package endpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// appendV2 encodes h as a version 2 header followed by tlvs (raw TLV
// bytes), as a balancer would send it.
func appendV2(b []byte, h ProxyHeader, tlvs []byte) []byte {
	b = append(b, v2Signature...)
	var addr []byte
	fam := byte(v2Unspec)
	cmd := byte(0x21)
	if h.Local {
		cmd = 0x20
	}
	switch s := h.Source.(type) {
	case *net.TCPAddr:
		d := h.Destination.(*net.TCPAddr)
		sa, da := s.AddrPort(), d.AddrPort()
		if sa.Addr().Is4() {
			fam = v2Inet<<4 | 1
			a4, d4 := sa.Addr().As4(), da.Addr().As4()
			addr = append(append(addr, a4[:]...), d4[:]...)
		} else {
			fam = v2Inet6<<4 | 1
			a16, d16 := sa.Addr().As16(), da.Addr().As16()
			addr = append(append(addr, a16[:]...), d16[:]...)
		}
		addr = binary.BigEndian.AppendUint16(addr, sa.Port())
		addr = binary.BigEndian.AppendUint16(addr, da.Port())
	case *net.UnixAddr:
		fam = v2Unix<<4 | 1
		var u [216]byte
		copy(u[:108], s.Name)
		copy(u[108:], h.Destination.(*net.UnixAddr).Name)
		addr = u[:]
	}
	b = append(b, cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addr)+len(tlvs)))
	return append(append(b, addr...), tlvs...)
}

// appendV1 encodes h as a version 1 line.
func appendV1(b []byte, h ProxyHeader) []byte {
	if h.Source == nil {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	s, d := h.Source.(*net.TCPAddr).AddrPort(), h.Destination.(*net.TCPAddr).AddrPort()
	proto := "TCP6"
	if s.Addr().Is4() {
		proto = "TCP4"
	}
	return fmt.Appendf(b, "PROXY %s %s %s %d %d\r\n", proto, s.Addr(), d.Addr(), s.Port(), d.Port())
}

func tcpAddr(s string) *net.TCPAddr {
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s))
}

func tlv(typ byte, value string) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}

func TestParseProxyHeader(t *testing.T) {
	v4 := ProxyHeader{Source: tcpAddr("203.0.113.7:51234"), Destination: tcpAddr("10.0.0.1:443")}
	v6 := ProxyHeader{Source: tcpAddr("[2001:db8::7]:40000"), Destination: tcpAddr("[2001:db8::1]:80")}
	ux := ProxyHeader{Source: &net.UnixAddr{Name: "/run/client.sock", Net: "unix"}, Destination: &net.UnixAddr{Name: "/run/lb.sock", Net: "unix"}}
	with := func(h ProxyHeader, v int) ProxyHeader { h.Version = v; return h }
	bigTLV := tlv(0x04, strings.Repeat("x", MaxProxyV2Header-16-12-3+1))
	tests := []struct {
		name  string
		in    []byte
		want  ProxyHeader
		n     int    // header length; 0: incomplete or error
		cause string // "" for no error
	}{
		{"v1 tcp4", []byte("PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\nGET / HTTP/1.1\r\n"), with(v4, 1), 43, ""},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 40000 80\r\n"), with(v6, 1), 45, ""},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), ProxyHeader{Version: 1, Local: true}, 15, ""},
		{"v1 unknown with addresses", []byte("PROXY UNKNOWN ffff:: ffff:: 1 2\r\n"), ProxyHeader{Version: 1, Local: true}, 33, ""},
		{"v1 longest", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
			ProxyHeader{Version: 1, Source: tcpAddr("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), Destination: tcpAddr("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}, 104, ""},
		{"v1 partial signature", []byte("PRO"), ProxyHeader{}, 0, ""},
		{"v1 partial line", []byte("PROXY TCP4 203.0.113.7 10.0"), ProxyHeader{}, 0, ""},
		{"v1 CR last", []byte("PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r"), ProxyHeader{}, 0, ""},
		{"v1 too long", []byte("PROXY UNKNOWN " + strings.Repeat("a", 100)), ProxyHeader{}, 0, ProxyTooLong},
		{"v1 CRLF past 107", []byte("PROXY UNKNOWN " + strings.Repeat("a", 92) + "\r\n"), ProxyHeader{}, 0, ProxyTooLong},
		{"v1 LF alone", []byte("PROXY UNKNOWN\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 CR without LF", []byte("PROXY UNKNOWN\rx"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 bad protocol", []byte("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 four fields", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 double space", []byte("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 v6 address as TCP4", []byte("PROXY TCP4 ::1 ::1 1 2\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 v4 address as TCP6", []byte("PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 port too big", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 port leading zero", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 080 2\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 negative port", []byte("PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 NUL byte", []byte("PROXY TCP4 1.2.3.4\x00 1.2.3.4 1 2\r\n"), ProxyHeader{}, 0, ProxyBadV1},
		{"v1 lower case", []byte("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n"), ProxyHeader{}, 0, ProxyNoHeader},

		{"v2 inet", appendV2(nil, v4, nil), with(v4, 2), 28, ""},
		{"v2 inet6", appendV2(nil, v6, nil), with(v6, 2), 52, ""},
		{"v2 unix", appendV2(nil, ux, nil), with(ux, 2), 232, ""},
		{"v2 local", appendV2(nil, ProxyHeader{Local: true}, nil), ProxyHeader{Version: 2, Local: true}, 16, ""},
		{"v2 local with addresses", appendV2(nil, ProxyHeader{Local: true, Source: v4.Source, Destination: v4.Destination}, nil), ProxyHeader{Version: 2, Local: true}, 28, ""},
		{"v2 unspec", appendV2(nil, ProxyHeader{}, nil), ProxyHeader{Version: 2}, 16, ""},
		{"v2 TLVs skipped", append(appendV2(nil, v4, append(tlv(0x01, "h2"), tlv(0x05, "unique-id")...)), "GET"...), with(v4, 2), 28 + 5 + 12, ""},
		{"v2 empty TLV", appendV2(nil, v4, tlv(0x04, "")), with(v4, 2), 31, ""},
		{"v2 largest", appendV2(nil, v4, tlv(0x04, strings.Repeat("x", MaxProxyV2Header-16-12-3))), with(v4, 2), MaxProxyV2Header, ""},
		{"v2 too long", appendV2(nil, v4, bigTLV), ProxyHeader{}, 0, ProxyTooLong},
		{"v2 too long, told early", appendV2(nil, v4, bigTLV)[:16], ProxyHeader{}, 0, ProxyTooLong},
		{"v2 partial signature", v2Signature[:5], ProxyHeader{}, 0, ""},
		{"v2 partial fixed part", appendV2(nil, v4, nil)[:14], ProxyHeader{}, 0, ""},
		{"v2 partial addresses", appendV2(nil, v4, nil)[:20], ProxyHeader{}, 0, ""},
		{"v2 bad signature", []byte("\r\n\r\n\x00\r\nQUIT!\x21\x11\x00\x00"), ProxyHeader{}, 0, ProxyNoHeader},
		{"v2 version 1", func() []byte { b := appendV2(nil, v4, nil); b[12] = 0x11; return b }(), ProxyHeader{}, 0, ProxyBadV2},
		{"v2 command 2", func() []byte { b := appendV2(nil, v4, nil); b[12] = 0x22; return b }(), ProxyHeader{}, 0, ProxyBadV2},
		{"v2 family 4", func() []byte { b := appendV2(nil, v4, nil); b[13] = 0x41; return b }(), ProxyHeader{}, 0, ProxyBadV2},
		{"v2 transport 3", func() []byte { b := appendV2(nil, v4, nil); b[13] = 0x13; return b }(), ProxyHeader{}, 0, ProxyBadV2},
		{"v2 inet short", func() []byte { b := appendV2(nil, v4, nil)[:24]; b[15] = 8; return b }(), ProxyHeader{}, 0, ProxyBadV2},
		{"v2 inet6 short", func() []byte { b := appendV2(nil, v4, nil); b[13] = 0x21; return b }(), ProxyHeader{}, 0, ProxyBadV2},
		{"v2 TLV overruns", func() []byte {
			b := appendV2(nil, v4, tlv(0x01, "h2"))
			b[len(b)-3] = 9 // the TLV's length: 0x0009
			return b
		}(), ProxyHeader{}, 0, ProxyBadV2},
		{"v2 stray byte", appendV2(nil, v4, []byte{0x04}), ProxyHeader{}, 0, ProxyBadV2},

		{"http request", []byte("GET / HTTP/1.1\r\n"), ProxyHeader{}, 0, ProxyNoHeader},
		{"tls hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00}, ProxyHeader{}, 0, ProxyNoHeader},
		{"empty", nil, ProxyHeader{}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := ParseProxyHeader(tt.in)
			if tt.cause != "" {
				var pe *ProxyError
				if !errors.As(err, &pe) || pe.Cause != tt.cause || !errors.Is(err, ErrProxyHeader) {
					t.Fatalf("ParseProxyHeader(%q) = %+v, %d, %v; want cause %q", tt.in, h, n, err, tt.cause)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseProxyHeader(%q): %v", tt.in, err)
			}
			if n != tt.n || !reflect.DeepEqual(h, tt.want) && tt.n > 0 {
				t.Fatalf("ParseProxyHeader(%q) = %+v, %d; want %+v, %d", tt.in, h, n, tt.want, tt.n)
			}
		})
	}
}

// TestParseProxyHeaderGolden reads testdata/proxy/*.txt: a Go-quoted
// input, a "----------" line, and the result ParseProxyHeader gives for it.
// Run with -update to rewrite the results.
func TestParseProxyHeaderGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/proxy/*.txt")
	if len(files) == 0 {
		t.Fatal("no golden files in testdata/proxy")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(data), "\n----------\n")
			if !ok {
				t.Fatalf("%s has no ---------- line", file)
			}
			raw, err := strconv.Unquote(strings.TrimSpace(in))
			if err != nil {
				t.Fatalf("%s: the input is not a Go string: %v", file, err)
			}
			got := describeHeader([]byte(raw))
			if *update {
				if err := os.WriteFile(file, []byte(strings.TrimSpace(in)+"\n----------\n"+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s\n got %s\nwant %s", file, got, want)
			}
		})
	}
}

func describeHeader(b []byte) string {
	h, n, err := ParseProxyHeader(b)
	switch {
	case err != nil:
		return "error: " + err.Error() + "\n"
	case n == 0:
		return "incomplete\n"
	}
	return fmt.Sprintf("version %d, local %v, source %v, destination %v, %d bytes, rest %q\n", h.Version, h.Local, h.Source, h.Destination, n, b[n:])
}

// FuzzParseProxyHeader checks that ParseProxyHeader never panics, never
// claims more bytes than it has or than the limits allow, that a header
// it accepts parses the same with anything after it, and that its
// addresses survive being sent again in either version.
func FuzzParseProxyHeader(f *testing.F) {
	v4 := ProxyHeader{Source: tcpAddr("203.0.113.7:51234"), Destination: tcpAddr("10.0.0.1:443")}
	for _, s := range [][]byte{
		[]byte("PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n"), []byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY TCP6 ::1 ::1 1 2\r\nGET"), appendV2(nil, v4, tlv(1, "h2")), appendV2(nil, ProxyHeader{Local: true}, nil),
		appendV2(nil, ProxyHeader{Source: &net.UnixAddr{Name: "/a", Net: "unix"}, Destination: &net.UnixAddr{Name: "/b", Net: "unix"}}, nil),
		[]byte("GET / HTTP/1.1\r\n"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseProxyHeader(b)
		if err != nil {
			if !errors.Is(err, ErrProxyHeader) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if n == 0 {
			return
		}
		if n > len(b) || h.Version == 1 && n > MaxProxyV1Header || n > MaxProxyV2Header {
			t.Fatalf("n = %d of %d bytes, version %d", n, len(b), h.Version)
		}
		h2, n2, err := ParseProxyHeader(append(b[:n:n], "rest"...))
		if err != nil || n2 != n || !reflect.DeepEqual(h2, h) {
			t.Fatalf("with a rest: %+v, %d, %v; alone: %+v, %d", h2, n2, err, h, n)
		}
		if h.Local || h.Source == nil {
			return
		}
		again := appendV2(nil, h, nil)
		if _, ok := h.Source.(*net.TCPAddr); ok && h.Version == 1 {
			again = appendV1(nil, h)
		}
		h3, n3, err := ParseProxyHeader(again)
		if err != nil || n3 != len(again) || !reflect.DeepEqual(h3.Source, h.Source) || !reflect.DeepEqual(h3.Destination, h.Destination) {
			t.Fatalf("re-sent as %q: %+v, %d, %v; want %+v", again, h3, n3, err, h)
		}
	})
}

// proxyPair returns the server side of a loopback TCP connection accepted
// through a ProxyListener, and the client side.
func proxyPair(t *testing.T, timeout time.Duration, onError func(net.Conn, error)) (*ProxyConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl := NewProxyListener(ln)
	pl.HeaderTimeout, pl.OnError = timeout, onError
	t.Cleanup(func() { pl.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := pl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*ProxyConn), client
}

// TestProxyConnLeavesTheRest checks that Handshake reads exactly the
// header off a real socket, however the client splits it, so that a server
// reading the socket underneath directly (gotwistd's engine) gets every
// byte after it.
func TestProxyConnLeavesTheRest(t *testing.T) {
	v6 := ProxyHeader{Source: tcpAddr("[2001:db8::7]:40000"), Destination: tcpAddr("[2001:db8::1]:80")}
	request := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name   string
		header []byte
		pieces []int // write the input in pieces of these lengths, then the rest
	}{
		{"v1 with the request", appendV1(nil, v6), nil},
		{"v1 a byte at a time", appendV1(nil, v6), []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"v1 split at CR LF", appendV1(nil, v6), []int{len(appendV1(nil, v6)) - 1}},
		{"v2 with TLVs", appendV2(nil, v6, tlv(0x01, "http/1.1")), nil},
		{"v2 split in the fixed part", appendV2(nil, v6, tlv(0x01, "http/1.1")), []int{3, 10, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client := proxyPair(t, 0, nil)
			in := append(append([]byte(nil), tt.header...), request...)
			go func() {
				rest := in
				for _, n := range tt.pieces {
					client.Write(rest[:n])
					rest = rest[n:]
				}
				client.Write(rest)
			}()
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if got := c.RemoteAddr().String(); got != "[2001:db8::7]:40000" {
				t.Errorf("RemoteAddr = %s", got)
			}
			if got := c.LocalAddr().String(); got != "[2001:db8::1]:80" {
				t.Errorf("LocalAddr = %s", got)
			}
			got := make([]byte, len(request))
			if _, err := io.ReadFull(c.Unwrap(), got); err != nil {
				t.Fatal(err)
			}
			if string(got) != request {
				t.Fatalf("the socket holds %q after the header, want %q", got, request)
			}
		})
	}
}

// TestProxyConnPipe: a connection that cannot be peeked at (no socket
// under it) is read without reading past the header either.
func TestProxyConnPipe(t *testing.T) {
	for _, header := range [][]byte{
		[]byte("PROXY TCP4 198.51.100.2 10.0.0.1 1000 80\r\n"),
		appendV2(nil, ProxyHeader{Source: tcpAddr("198.51.100.2:1000"), Destination: tcpAddr("10.0.0.1:80")}, tlv(0x04, "pad")),
	} {
		server, client := net.Pipe()
		c := &ProxyConn{Conn: server, l: &ProxyListener{}}
		go func() {
			client.Write(append(header, "hello"...))
			client.Close()
		}()
		if got := c.RemoteAddr().String(); got != "198.51.100.2:1000" {
			t.Errorf("RemoteAddr = %s", got)
		}
		rest, err := io.ReadAll(c.Unwrap())
		if err != nil || string(rest) != "hello" {
			t.Errorf("after the header: %q, %v; want hello", rest, err)
		}
		c.Close()
	}
}

// TestProxyConnRefuses: each way a header fails closes the connection
// for reads, and is reported once, but a connection that sent nothing at
// all (a health check) is not.
func TestProxyConnRefuses(t *testing.T) {
	tests := []struct {
		name  string
		send  string
		close bool // close the client after sending
		cause string
		quiet bool // OnError not called
	}{
		{"no header", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, ProxyNoHeader, false},
		{"garbage v2", "\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x00", false, ProxyBadV2, false},
		{"too long", "PROXY UNKNOWN " + strings.Repeat("x", 200), false, ProxyTooLong, false},
		{"timeout", "PROXY TCP4 1.2.3.4", false, ProxyTimeout, false},
		{"closed inside", "PROXY TCP4 1.2.3.4", true, ProxyClosed, false},
		{"closed at once", "", true, ProxyClosed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var reported []error
			c, client := proxyPair(t, 200*time.Millisecond, func(_ net.Conn, err error) {
				mu.Lock()
				reported = append(reported, err)
				mu.Unlock()
			})
			client.Write([]byte(tt.send))
			if tt.close {
				client.Close()
			}
			_, err := c.Read(make([]byte, 10))
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.Cause != tt.cause {
				t.Fatalf("Read: %v; want cause %q", err, tt.cause)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "read" {
				t.Errorf("Read error %T is not a *net.OpError read, which net/http closes quietly", err)
			}
			c.Read(make([]byte, 10)) // a second Read reports nothing new
			if c.RemoteAddr().String() != client.LocalAddr().String() {
				t.Errorf("RemoteAddr = %s, want the socket's peer %s", c.RemoteAddr(), client.LocalAddr())
			}
			mu.Lock()
			defer mu.Unlock()
			want := 1
			if tt.quiet {
				want = 0
			}
			if len(reported) != want {
				t.Fatalf("OnError called %d times (%v), want %d", len(reported), reported, want)
			}
		})
	}
}

// TestProxyConnDeadline: a read deadline the server sets while the header
// is awaited (as the handover's interruption does) takes effect, and the
// server's own deadline is back in force after the header.
func TestProxyConnDeadline(t *testing.T) {
	c, client := proxyPair(t, time.Hour, nil)
	done := make(chan error, 1)
	go func() { done <- c.Handshake() }()
	// Whether this lands before or during the wait, it ends it.
	c.SetReadDeadline(time.Unix(1, 0))
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Handshake: %v, want a deadline error", err)
	}
	_ = client
}

func TestProxyConnWrites(t *testing.T) {
	c, client := proxyPair(t, 0, nil)
	client.Write(appendV1(nil, ProxyHeader{Source: tcpAddr("192.0.2.1:5"), Destination: tcpAddr("192.0.2.2:6")}))
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadFrom(bytes.NewReader([]byte("!"))); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "pong!" {
		t.Fatalf("client read %q, %v", got, err)
	}
	if got := c.RemoteAddr().String(); got != "192.0.2.1:5" {
		t.Fatalf("RemoteAddr = %s", got)
	}
}
