package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// newNetns makes a fresh network namespace with its loopback up, listens
// on 127.0.0.1:port in it, and returns a path to the namespace and the
// listener. It needs CAP_SYS_ADMIN.
func newNetns(t *testing.T, port int) (string, net.Listener) {
	t.Helper()
	type made struct {
		fd  int
		l   net.Listener
		err error
	}
	ch := make(chan made, 1)
	go func() {
		// This thread ends with the goroutine (it stays locked); the
		// namespace lives on through the fd and the listener.
		runtime.LockOSThread()
		var m made
		defer func() { ch <- m }()
		if m.err = unix.Unshare(unix.CLONE_NEWNET); m.err != nil {
			return
		}
		if m.fd, m.err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); m.err != nil {
			return
		}
		if m.err = loopbackUp(); m.err != nil {
			return
		}
		m.l, m.err = net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	}()
	m := <-ch
	if m.err != nil {
		t.Fatalf("make a network namespace: %v", m.err)
	}
	t.Cleanup(func() {
		m.l.Close()
		unix.Close(m.fd)
	})
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), m.fd), m.l
}

func loopbackUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr)
}

func serveBody(l net.Listener, body string) *http.Server {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})}
	go srv.Serve(l)
	return srv
}

// TestNetns: the same address answers differently inside and outside a
// namespace, and Config.Netns picks the inside one for every connection,
// with both modes.
func TestNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN) to make and join a network namespace")
	}
	outside, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := outside.Addr().(*net.TCPAddr).Port
	srvOut := serveBody(outside, "outside")
	defer srvOut.Close()
	ns, inside := newNetns(t, port)
	srvIn := serveBody(inside, "inside")
	defer srvIn.Close()

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for _, mode := range []Mode{PerRequest, KeepAlive} {
		t.Run(mode.String(), func(t *testing.T) {
			res, err := Run(context.Background(), Config{URL: url, Mode: mode, Clients: 3, MaxRequests: 30, Netns: ns, Body: []byte("inside")})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != 30 || res.Failures() != 0 {
				t.Errorf("in %s: %v\n%s", ns, res, strings.Join(res.Errors(), "\n"))
			}
		})
	}
	t.Run("without Netns", func(t *testing.T) {
		res, err := Run(context.Background(), Config{URL: url, Clients: 1, MaxRequests: 3, Body: []byte("inside")})
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed[BadBody] != 3 {
			t.Errorf("outside: %v, want the outside server's body", res)
		}
	})
	t.Run("not a namespace", func(t *testing.T) {
		_, err := Run(context.Background(), Config{URL: url, MaxRequests: 1, Netns: "/proc/self/status"})
		if err == nil || !strings.Contains(err.Error(), "not a namespace") {
			t.Errorf("Run = %v, want a clear error", err)
		}
	})
}
