package endpoint

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHelperEndpointChild is the child process of the inherited-socket
// tests: it listens on every endpoint in GOTWISTD_TEST_ENDPOINTS (one per
// line) through the real systemd.Sockets, prints one line per endpoint,
// "LISTEN i description" or "ERROR i message", serves HTTP on the stream
// ones, prints READY, and exits when its stdin closes.
func TestHelperEndpointChild(t *testing.T) {
	if os.Getenv("GOTWISTD_TEST_ENDPOINT_CHILD") != "1" {
		t.Skip("helper process for the inherited-socket tests")
	}
	var listeners []*Listener
	for i, s := range strings.Split(os.Getenv("GOTWISTD_TEST_ENDPOINTS"), "\n") {
		e, err := Parse(s)
		if err != nil {
			fmt.Printf("ERROR %d %v\n", i, err)
			continue
		}
		l, err := e.Listen(context.Background())
		if err != nil {
			fmt.Printf("ERROR %d %v\n", i, err)
			continue
		}
		listeners = append(listeners, l)
		kind := "stream"
		if l.Packet != nil {
			kind = "packet"
		}
		fmt.Printf("LISTEN %d %s %s once=%v\n", i, kind, l.Description(), l.AcceptOnce)
		if l.Stream != nil {
			body := "child " + strconv.Itoa(i)
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, body+" "+r.Proto)
				}),
				TLSConfig: l.TLS,
			}
			if l.TLS != nil {
				go srv.ServeTLS(l.Stream, "", "")
			} else {
				go srv.Serve(l.Stream)
			}
		}
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(k); ok {
			fmt.Printf("ENV %s=%s\n", k, v)
		}
	}
	fmt.Println("READY")
	io.Copy(io.Discard, os.Stdin)
	for _, l := range listeners {
		l.Close()
	}
}

// endpointChild is a running child process.
type endpointChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  map[int]string // endpoint index -> LISTEN or ERROR line
	env    []string       // ENV lines
	stdout *bufio.Scanner
	// listening is closed when a line of stderr says "Listening on", as
	// systemd-socket-activate's does once its socket is bound.
	listening chan struct{}
}

// startEndpointChild starts argv (which ends in the test binary's helper
// command line) with files as fds 3, 4, ... and waits for READY.
func startEndpointChild(t *testing.T, argv []string, files []*os.File, env []string, endpoints []string) *endpointChild {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "GOTWISTD_TEST_ENDPOINT_CHILD=1", "GOTWISTD_TEST_ENDPOINTS="+strings.Join(endpoints, "\n"))
	cmd.ExtraFiles = files
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &endpointChild{cmd: cmd, stdin: stdin, lines: map[int]string{}, stdout: bufio.NewScanner(stdout),
		listening: make(chan struct{})}
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.HasPrefix(sc.Text(), "Listening on ") {
				signalled = true
				close(c.listening)
				continue
			}
			if line := sc.Text(); !strings.HasPrefix(line, "Communication attempt") && !strings.HasPrefix(line, "Execing ") {
				fmt.Fprintln(os.Stderr, "child:", line)
			}
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		for c.stdout.Scan() {
		}
		<-stderrDone
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	})
	return c
}

// waitReady reads the child's report up to READY.
func (c *endpointChild) waitReady(t *testing.T) {
	t.Helper()
	for c.stdout.Scan() {
		line := c.stdout.Text()
		if line == "READY" {
			return
		}
		f := strings.SplitN(line, " ", 3)
		switch {
		case len(f) == 3 && (f[0] == "LISTEN" || f[0] == "ERROR"):
			i, _ := strconv.Atoi(f[1])
			c.lines[i] = f[0] + " " + f[2]
		case f[0] == "ENV":
			c.env = append(c.env, line)
		}
	}
	t.Fatalf("child ended before READY: %v", c.stdout.Err())
}

func helperArgs() []string {
	return []string{os.Args[0], "-test.run=^TestHelperEndpointChild$", "-test.count=1"}
}

// TestSystemdInherited gives a child process real sockets as systemd does
// (fds from 3, LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID set by a shell that
// execs the child) and checks that each endpoint serves, or fails with
// the error a user can act on.
func TestSystemdInherited(t *testing.T) {
	dir := t.TempDir()
	c := makeCert(t, dir, "srv", 1, false, nil)
	sockPath := filepath.Join(dir, "www.sock")
	socks := []inherited{
		tcpSocket(t, "tcp4", "127.0.0.1:0", "my-web-port"),
		unixSocket(t, sockPath, "local"),
		tcpSocket(t, "tcp4", "127.0.0.1:0", "https"),
		udpSocket(t, "https"),
		connectedSocket(t, "connection"),
	}
	ipv6 := true
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		ipv6 = false
	} else {
		ln.Close()
		socks = append(socks, tcpSocket(t, "tcp6", "[::1]:0", "web6"))
		// What systemd's plain ListenStream=80 makes: one IPv6 socket
		// that takes IPv4 too, which domain=INET accepts as Twisted does.
		socks = append(socks, tcpSocket(t, "tcp", "[::]:0", "dual"))
	}
	var files []*os.File
	var names []string
	for _, s := range socks {
		files = append(files, s.file)
		names = append(names, s.name)
	}
	key := escape(c.both)
	endpoints := []string{
		0:  "systemd:domain=INET:name=my-web-port",
		1:  "systemd:domain=UNIX:name=local",
		2:  "ssl:systemd:domain=INET:name=https:privateKey=" + key,
		3:  "quic:systemd:domain=INET:name=https:privateKey=" + key,
		4:  "systemd:domain=INET:name=connection",
		5:  "systemd:domain=INET:index=3",
		6:  "systemd:domain=INET:index=42",
		7:  "systemd:domain=INET6:name=my-web-port",
		8:  "systemd:domain=INET:name=nope",
		9:  "systemd:domain=INET6:name=web6",
		10: "systemd:domain=INET:name=dual",
	}
	argv := append([]string{"/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`}, helperArgs()...)
	child := startEndpointChild(t, argv, files,
		[]string{"LISTEN_FDS=" + strconv.Itoa(len(files)), "LISTEN_FDNAMES=" + strings.Join(names, ":")}, endpoints)
	child.waitReady(t)
	if len(child.env) != 0 {
		t.Errorf("the child still has %v", child.env)
	}

	port := func(i int) string { return strconv.Itoa(socks[i].addr.(*net.TCPAddr).Port) }
	quicPort := strconv.Itoa(socks[3].addr.(*net.UDPAddr).Port)
	fds := strconv.Itoa(len(files))
	want := map[int]string{
		0: "LISTEN stream " + port(0) + " once=false",
		1: "LISTEN stream '" + sockPath + "' once=false",
		2: "LISTEN stream " + port(2) + " once=false",
		3: "LISTEN packet " + quicPort + " once=false",
		4: "LISTEN stream " + strconv.Itoa(socks[4].peer.RemoteAddr().(*net.TCPAddr).Port) + " once=true",
		5: `ERROR endpoint systemd:domain=INET:index=3: systemd socket "https" (fd 6) is a UDP socket, but the endpoint needs a stream socket: use ListenStream= in the .socket unit`,
		6: "ERROR endpoint systemd:domain=INET:index=42: no socket from systemd at index 42: systemd passed " + fds + " (index 0 to " + strconv.Itoa(len(files)-1) + "); add a ListenStream= to the .socket unit or lower index=",
		7: `ERROR endpoint systemd:domain=INET6:name=my-web-port: systemd socket "my-web-port" (fd 3) is an INET socket, but the endpoint says domain=INET6: use domain=INET, or an IPv6 address in the .socket unit (ListenStream=[::]:80)`,
		8: `ERROR endpoint systemd:domain=INET:name=nope: no socket named "nope" from systemd: the names passed are "` + strings.Join(names, `", "`) + `"; set FileDescriptorName=nope in the .socket unit or use one of those`,
	}
	if ipv6 {
		want[9] = "LISTEN stream " + strconv.Itoa(socks[5].addr.(*net.TCPAddr).Port) + " once=false"
		want[10] = "LISTEN stream " + strconv.Itoa(socks[6].addr.(*net.TCPAddr).Port) + " once=false"
	}
	for i, w := range want {
		if got := child.lines[i]; got != w {
			t.Errorf("endpoint %d %s:\n got %s\nwant %s", i, endpoints[i], got, w)
		}
	}

	t.Run("tcp", func(t *testing.T) {
		if got := get(t, plainClient(), "http://127.0.0.1:"+port(0)+"/"); got != "child 0 HTTP/1.1" {
			t.Errorf("GET = %q", got)
		}
	})
	t.Run("unix", func(t *testing.T) {
		if got := get(t, unixClient(sockPath), "http://x/"); got != "child 1 HTTP/1.1" {
			t.Errorf("GET = %q", got)
		}
	})
	t.Run("tls on the inherited socket", func(t *testing.T) {
		if got := get(t, tlsClient(c.x509), "https://127.0.0.1:"+port(2)+"/"); got != "child 2 HTTP/2.0" {
			t.Errorf("GET = %q", got)
		}
	})
	t.Run("accept=yes connection", func(t *testing.T) {
		peer := socks[4].peer
		if _, err := io.WriteString(peer, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(peer), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, int64(len("child 4 HTTP/1.1"))))
		resp.Body.Close()
		if string(b) != "child 4 HTTP/1.1" {
			t.Errorf("body %q", b)
		}
	})
	if ipv6 {
		t.Run("tcp6", func(t *testing.T) {
			p := strconv.Itoa(socks[5].addr.(*net.TCPAddr).Port)
			if got := get(t, plainClient(), "http://[::1]:"+p+"/"); got != "child 9 HTTP/1.1" {
				t.Errorf("GET = %q", got)
			}
		})
	}
}

// TestSystemdSocketActivate runs the child under systemd-socket-activate,
// which binds the socket, waits for the first connection, then execs the
// child with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES as systemd does.
func TestSystemdSocketActivate(t *testing.T) {
	ssa, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate is not installed")
	}
	path := filepath.Join(t.TempDir(), "act.sock")
	// It passes on only the environment variables named with -E.
	argv := append([]string{ssa, "-l", path, "--fdname=www",
		"-E", "GOTWISTD_TEST_ENDPOINT_CHILD", "-E", "GOTWISTD_TEST_ENDPOINTS"}, helperArgs()...)
	child := startEndpointChild(t, argv, nil, nil, []string{"systemd:domain=UNIX:name=www", "systemd:domain=UNIX:index=0"})
	<-child.listening
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		child.waitReady(t)
		t.Fatalf("%v; child said %v", err, child.lines)
	}
	b, _ := io.ReadAll(resp.Body)
	conn.Close()
	// Both endpoints share the socket: either may accept the connection.
	if string(b) != "child 0 HTTP/1.1" && string(b) != "child 1 HTTP/1.1" {
		t.Errorf("body %q", b)
	}
	child.waitReady(t)
	if got, want := child.lines[0], "LISTEN stream '"+path+"' once=false"; got != want {
		t.Errorf("endpoint 0: %q, want %q", got, want)
	}
	if got := child.lines[1]; !strings.HasPrefix(got, "LISTEN stream") {
		t.Errorf("endpoint 1 (index=0): %q", got)
	}
}
