package endpoint

import (
	"io"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSystemdCloseKeepsSocket: closing the Listener of a socket systemd
// passed closes this process's descriptor only. systemd's copy keeps
// listening, and connections queued on it, before the Close and after it,
// wait there for the next instance: what a restart that loses nothing
// needs. A shutdown(2) of the socket would reset the queued connections
// and stop the socket for systemd too.
func TestSystemdCloseKeepsSocket(t *testing.T) {
	t.Parallel()
	web := tcpSocket(t, "tcp4", "127.0.0.1:0", "web")
	fd, err := unix.Dup(int(web.file.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	systemdCopy := os.NewFile(uintptr(fd), "systemd's copy")
	defer systemdCopy.Close()
	src := fakeActivation(t, web)

	l := listenFrom(t, src, "systemd:domain=INET:index=0")
	dial := func(greeting string) {
		c, err := net.Dial("tcp4", web.addr.String())
		if err != nil {
			t.Fatalf("connect %s the Close: %v", greeting, err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, greeting); err != nil {
			t.Fatal(err)
		}
	}
	dial("before")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	dial("after!")

	next, err := net.FileListener(systemdCopy)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	for _, want := range []string{"before", "after!"} {
		c, err := next.Accept()
		if err != nil {
			t.Fatalf("the next instance's accept: %v", err)
		}
		buf := make([]byte, len(want))
		_, err = io.ReadFull(c, buf)
		c.Close()
		if err != nil || string(buf) != want {
			t.Errorf("queued connection: read %q, %v; want %q", buf, err, want)
		}
	}
}
