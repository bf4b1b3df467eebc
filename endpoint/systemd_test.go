package endpoint

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gotwistd/gotwistd/systemd"
	"golang.org/x/sys/unix"
)

// inherited is a real socket standing in for one systemd passed.
type inherited struct {
	name string
	addr net.Addr // what a client connects to
	peer net.Conn // for a connected socket: the client's end
	file *os.File
}

// socketFile returns a duplicate of c's descriptor.
func socketFile(t *testing.T, c interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func tcpSocket(t *testing.T, network, addr, name string) inherited {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return inherited{name: name, addr: ln.Addr(), file: socketFile(t, ln.(*net.TCPListener))}
}

func udpSocket(t *testing.T, name string) inherited {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return inherited{name: name, addr: pc.LocalAddr(), file: socketFile(t, pc.(*net.UDPConn))}
}

func unixSocket(t *testing.T, path, name string) inherited {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return inherited{name: name, addr: ln.Addr(), file: socketFile(t, ln.(*net.UnixListener))}
}

// connectedSocket is the server end of an accepted TCP connection, as
// systemd passes it to an Accept=yes service.
func connectedSocket(t *testing.T, name string) inherited {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f := socketFile(t, server.(*net.TCPConn))
	server.Close()
	return inherited{name: name, addr: client.LocalAddr(), peer: client, file: f}
}

// probe builds the systemd.Socket for s at fd number fd, reading the
// family and type from the kernel as systemd.Sockets does.
func probe(t *testing.T, fd int, s inherited) systemd.Socket {
	t.Helper()
	sock := systemd.Socket{FD: fd, Name: s.name, File: s.file}
	rc, err := s.file.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(raw uintptr) {
		sock.Type, _ = unix.GetsockoptInt(int(raw), unix.SOL_SOCKET, unix.SO_TYPE)
		sock.Family, _ = unix.GetsockoptInt(int(raw), unix.SOL_SOCKET, unix.SO_DOMAIN)
		acc, _ := unix.GetsockoptInt(int(raw), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		sock.Listening = acc != 0
	})
	return sock
}

// fakeActivation returns a socket source that gives socks as the sockets
// systemd passed, numbered from fd 3.
func fakeActivation(t *testing.T, socks ...inherited) socketSource {
	t.Helper()
	var list []systemd.Socket
	for i, s := range socks {
		list = append(list, probe(t, 3+i, s))
	}
	return func() ([]systemd.Socket, error) { return list, nil }
}

// TestSystemdTwistedVector is Twisted's own test: fds 3..7 named
// a.socket:b.socket:foo:d.socket:e.socket.
func TestSystemdTwistedVector(t *testing.T) {
	t.Parallel()
	var socks []inherited
	for _, name := range strings.Split("a.socket:b.socket:foo:d.socket:e.socket", ":") {
		socks = append(socks, tcpSocket(t, "tcp4", "127.0.0.1:0", name))
	}
	src := fakeActivation(t, socks...)
	tests := []struct {
		endpoint string
		want     int // index into socks: fd want+3
	}{
		{"systemd:domain=INET:index=3", 3},  // fd 6
		{"systemd:domain=INET:name=foo", 2}, // fd 5
		{"systemd:domain=INET:index=0", 0},
		{"systemd:domain=INET:name=e.socket", 4},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			l := listenFrom(t, src, tt.endpoint)
			if got, want := l.Stream.Addr().String(), socks[tt.want].addr.String(); got != want {
				t.Errorf("listener on %s, want fd %d at %s", got, tt.want+3, want)
			}
			serve(t, l.Stream, nil, "fd"+strconv.Itoa(tt.want+3))
			if got := get(t, plainClient(), "http://"+socks[tt.want].addr.String()+"/"); got != "fd"+strconv.Itoa(tt.want+3)+" HTTP/1.1" {
				t.Errorf("GET = %q", got)
			}
			if got := l.Description(); got != strconv.Itoa(socks[tt.want].addr.(*net.TCPAddr).Port) {
				t.Errorf("Description() = %q", got)
			}
		})
	}
	if _, err := Parse("systemd:domain=INET:index=0:name=foo"); err == nil {
		t.Error("index=0:name=foo parsed")
	}
}

func TestSystemdServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := makeCert(t, dir, "srv", 1, false, nil)
	sockPath := filepath.Join(dir, "www.sock")
	web := tcpSocket(t, "tcp4", "127.0.0.1:0", "web")
	httpsTCP := tcpSocket(t, "tcp4", "127.0.0.1:0", "https")
	httpsUDP := udpSocket(t, "https")
	unixWeb := unixSocket(t, sockPath, "local")
	src := fakeActivation(t, web, httpsUDP, httpsTCP, unixWeb)

	t.Run("tcp by index", func(t *testing.T) {
		l := listenFrom(t, src, "systemd:domain=INET:index=0")
		serve(t, l.Stream, nil, "web")
		if got := get(t, plainClient(), "http://"+web.addr.String()+"/"); got != "web HTTP/1.1" {
			t.Errorf("GET = %q", got)
		}
	})
	t.Run("unix by name", func(t *testing.T) {
		l := listenFrom(t, src, "systemd:domain=UNIX:name=local")
		if got := l.Description(); got != "'"+sockPath+"'" {
			t.Errorf("Description() = %q", got)
		}
		serve(t, l.Stream, nil, "local")
		if got := get(t, unixClient(sockPath), "http://x/"); got != "local HTTP/1.1" {
			t.Errorf("GET = %q", got)
		}
		l.Close()
		if _, err := os.Lstat(sockPath); err != nil {
			t.Errorf("closing the listener removed systemd's socket file: %v", err)
		}
	})
	t.Run("ssl picks the stream socket of a shared name", func(t *testing.T) {
		l := listenFrom(t, src, "ssl:systemd:domain=INET:name=https:privateKey="+escape(c.both))
		if l.TLS == nil {
			t.Fatal("no TLS config")
		}
		serve(t, l.Stream, l.TLS, "tls")
		if got := get(t, tlsClient(c.x509), "https://"+httpsTCP.addr.String()+"/"); got != "tls HTTP/2.0" {
			t.Errorf("GET = %q", got)
		}
	})
	t.Run("quic picks the datagram socket of a shared name", func(t *testing.T) {
		l := listenFrom(t, src, "quic:systemd:domain=INET:name=https:privateKey="+escape(c.both))
		if l.Packet == nil || l.Stream != nil {
			t.Fatalf("Packet %v Stream %v", l.Packet, l.Stream)
		}
		if got, want := l.Packet.LocalAddr().String(), httpsUDP.addr.String(); got != want {
			t.Errorf("Packet on %s, want %s", got, want)
		}
		if _, ok := l.Packet.(*net.UDPConn); !ok {
			t.Errorf("Packet is %T, want *net.UDPConn", l.Packet)
		}
		if strings.Join(l.TLS.NextProtos, ",") != "h3" {
			t.Errorf("NextProtos %v", l.TLS.NextProtos)
		}
	})
}

func TestSystemdErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := makeCert(t, dir, "srv", 1, false, nil)
	web := tcpSocket(t, "tcp4", "127.0.0.1:0", "my-web-port")
	dns := udpSocket(t, "dns")
	local := unixSocket(t, filepath.Join(dir, "s.sock"), "local")
	conn := connectedSocket(t, "connection")
	src := fakeActivation(t, web, dns, local, conn)
	tests := []struct {
		name, endpoint, want string
	}{
		{"udp for a stream endpoint", "systemd:domain=INET:name=dns",
			`endpoint systemd:domain=INET:name=dns: systemd socket "dns" (fd 4) is a UDP socket, but the endpoint needs a stream socket: use ListenStream= in the .socket unit`},
		{"udp by index", "systemd:domain=INET:index=1",
			`systemd socket "dns" (fd 4) is a UDP socket, but the endpoint needs a stream socket: use ListenStream= in the .socket unit`},
		{"tcp for quic", "quic:systemd:domain=INET:name=my-web-port:privateKey=" + escape(c.both),
			`systemd socket "my-web-port" (fd 3) is a TCP socket, but the endpoint needs a datagram socket: use ListenDatagram= in the .socket unit`},
		{"wrong family", "systemd:domain=INET6:name=my-web-port",
			`systemd socket "my-web-port" (fd 3) is an INET socket, but the endpoint says domain=INET6: use domain=INET, or an IPv6 address in the .socket unit (ListenStream=[::]:80)`},
		{"unix for inet", "systemd:domain=INET:name=local",
			`systemd socket "local" (fd 5) is a UNIX socket, but the endpoint says domain=INET: use domain=UNIX, or an IPv4 address in the .socket unit (ListenStream=0.0.0.0:80)`},
		{"index out of range", "systemd:domain=INET:index=4",
			`no socket from systemd at index 4: systemd passed 4 (index 0 to 3); add a ListenStream= to the .socket unit or lower index=`},
		{"unknown name", "systemd:domain=INET:name=https",
			`no socket named "https" from systemd: the names passed are "my-web-port", "dns", "local", "connection"; set FileDescriptorName=https in the .socket unit or use one of those`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := listenErrFrom(t, src, tt.endpoint)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestSystemdNotActivated(t *testing.T) {
	t.Parallel()
	src := socketSource(func() ([]systemd.Socket, error) { return nil, nil })
	for _, s := range []string{"systemd:domain=INET:index=0", "systemd:domain=INET:name=web"} {
		err := listenErrFrom(t, src, s)
		if !strings.Contains(err.Error(), "this process was not socket-activated") {
			t.Errorf("%s: %v", s, err)
		}
	}
	boom := errors.New("LISTEN_FDS is bad")
	src = func() ([]systemd.Socket, error) { return nil, boom }
	if err := listenErrFrom(t, src, "systemd:domain=INET:index=0"); !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the activation error", err)
	}
}

func TestSystemdUnnamed(t *testing.T) {
	t.Parallel()
	src := fakeActivation(t, tcpSocket(t, "tcp4", "127.0.0.1:0", ""))
	listenFrom(t, src, "systemd:domain=INET:index=0")
	err := listenErrFrom(t, src, "systemd:domain=INET:name=web")
	if !strings.Contains(err.Error(), "systemd passed 1 socket(s) without names (LISTEN_FDNAMES unset or incomplete); use index= instead") {
		t.Errorf("error %v", err)
	}
	if !strings.Contains(listenErrFrom(t, src, "systemd:domain=INET6:index=0").Error(), "systemd socket at index 0 (fd 3) is an INET socket") {
		t.Error("unnamed socket not described by index")
	}
}

// TestSystemdAcceptOnce: an Accept=yes connection is served once, then
// Accept blocks until Close.
func TestSystemdAcceptOnce(t *testing.T) {
	t.Parallel()
	conn := connectedSocket(t, "connection")
	src := fakeActivation(t, conn)
	l := listenFrom(t, src, "systemd:domain=INET:name=connection")
	if !l.AcceptOnce {
		t.Fatal("AcceptOnce is false for a connected socket")
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "once")
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l.Stream) }()
	if _, err := io.WriteString(conn.peer, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn.peer), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "once" {
		t.Errorf("body %q", body)
	}
	// Serve is now blocked in the second Accept; Close ends it.
	srv.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	if _, err := l.Stream.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
}

func TestOnceListenerCloseBeforeAccept(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	o := newOnceListener(a)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v", err)
	}
	// The unaccepted connection was closed.
	if _, err := b.Write([]byte("x")); err == nil {
		t.Error("connection still open after Close")
	}
}
