package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// serverSocket returns the descriptor, in this process, of the server's
// side of the TCP connection whose client end is at client.
func serverSocket(t *testing.T, client net.Addr) int {
	t.Helper()
	want := client.(*net.TCPAddr)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || !strings.HasPrefix(l, "socket:") {
				continue
			}
			sa, err := unix.Getpeername(fd)
			if sa4, ok := sa.(*unix.SockaddrInet4); err == nil && ok &&
				sa4.Port == want.Port && net.IP(sa4.Addr[:]).Equal(want.IP) {
				return fd
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no server socket for the client at %s", client)
	return -1
}

// unsentBytes is how much of what fd's socket took the kernel has not
// sent yet (SIOCOUTQNSD).
func unsentBytes(t *testing.T, fd int) int {
	t.Helper()
	var n int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCOUTQNSD, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("SIOCOUTQNSD: %v", e)
	}
	return int(n)
}

// TestUnsentLowat: every TCP connection gotwistd keeps, over each way its
// engines take one (answered at accept and then kept alive, given to its
// goroutine before its request came, through TLS for HTTP/1.1 and
// HTTP/2), has TCP_NOTSENT_LOWAT set, so a client that stops reading a
// large file leaves a few hundred KB waiting in the kernel, not the
// megabytes a send buffer grows to.
func TestUnsentLowat(t *testing.T) {
	dir := t.TempDir()
	roots := writeCert(t, dir, 1)
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "big.bin"), make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--listen", sslEndpoint("ssl", dir),
		"--path", www, "--no-access-log"})
	const get = "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"
	tlsConf := &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	for _, tc := range []struct {
		name string
		dial func() (net.Conn, error)
		wait time.Duration // between connecting and sending the request
	}{
		{"HTTP/1.1", func() (net.Conn, error) { return net.Dial("tcp", ts.addr(0)) }, 0},
		{"HTTP/1.1, request after accept", func() (net.Conn, error) { return net.Dial("tcp", ts.addr(0)) }, 1500 * time.Millisecond},
		{"HTTPS HTTP/1.1", func() (net.Conn, error) { return tls.Dial("tcp", ts.addr(1), tlsConf) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			time.Sleep(tc.wait) // TCP_DEFER_ACCEPT gives it up after a second
			if _, err := c.Write([]byte(get)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("response: %v %v", resp, err)
			}
			// Read no more: the server writes until the kernel refuses.
			fd := serverSocket(t, c.LocalAddr())
			if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT); err != nil || v != unsentLowat {
				t.Errorf("TCP_NOTSENT_LOWAT = %d (%v), want %d", v, err, unsentLowat)
			}
			time.Sleep(300 * time.Millisecond)
			// The mark, plus what one write may add past it (the kernel
			// checks it once per segment of up to 64 KB).
			if n := unsentBytes(t, fd); n > unsentLowat+256<<10 {
				t.Errorf("%d bytes unsent in the server's socket, want at most %d", n, unsentLowat+256<<10)
			}
		})
	}
	t.Run("HTTPS HTTP/2", func(t *testing.T) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		var local net.Addr
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				local = c.LocalAddr()
			}
			return c, err
		}
		resp, err := (&http.Client{Transport: tr}).Head("https://" + ts.addr(1) + "/big.bin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s, want HTTP/2", resp.Proto)
		}
		fd := serverSocket(t, local)
		if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT); err != nil || v != unsentLowat {
			t.Errorf("TCP_NOTSENT_LOWAT = %d (%v), want %d", v, err, unsentLowat)
		}
	})
}
