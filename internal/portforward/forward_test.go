package portforward

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/internal/testbin"
	"github.com/gotwistd/gotwistd/service"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStatus string
		wantErr    string
	}{
		{name: "defaults", wantStatus: "forwarding tcp:6666 to localhost:6665"},
		{name: "twistd spelling", args: []string{"--port", "8080", "--host", "example.org", "--dest_port", "80"},
			wantStatus: "forwarding 8080 to example.org:80"},
		{name: "short options", args: []string{"-p", "systemd:domain=INET:index=0", "-h", "::1", "-d", "443"},
			wantStatus: "forwarding systemd:domain=INET:index=0 to [::1]:443"},
		{name: "dash for underscore and prefixes", args: []string{"--dest-port=81", "--conn=2s", "--po", "unix:/run/x.sock"},
			wantStatus: "forwarding unix:/run/x.sock to localhost:81"},
		{name: "port repeatable", args: []string{"-p", "1", "-p", "tcp:2"}, wantStatus: "forwarding 1, tcp:2 to localhost:6665"},
		{name: "dest port not a number", args: []string{"--dest_port", "http"}, wantErr: `--dest_port "http": give a port number from 1 to 65535`},
		{name: "dest port out of range", args: []string{"-d", "70000"}, wantErr: `--dest_port "70000": give a port number`},
		{name: "empty host", args: []string{"--host="}, wantErr: `--host "": give a host name`},
		{name: "bad timeout", args: []string{"--connect-timeout", "soon"}, wantErr: `--connect-timeout "soon"`},
		{name: "bad endpoint", args: []string{"--port", "tcp:abc"}, wantErr: `bad endpoint "tcp:abc"`},
		{name: "unknown option", args: []string{"--path", "."}, wantErr: "option --path not recognized"},
		{name: "stray argument", args: []string{"8080"}, wantErr: `unexpected argument "8080"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := NewPlugin().New(tt.args, service.Env{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, getopt.ErrUsage) {
					t.Fatalf("New(%q) error = %v, want a usage error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tt.args, err)
			}
			if got := svc.Status(); got != tt.wantStatus {
				t.Errorf("New(%q).Status() = %q, want %q", tt.args, got, tt.wantStatus)
			}
		})
	}
	var help bytes.Buffer
	if _, err := NewPlugin().New([]string{"--help"}, service.Env{Stdout: &help}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-p, --port=ENDPOINT", "-h, --host=HOST", "-d, --dest-port=PORT", "[default: 6665]", "Port Forwarder"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, help.String())
		}
	}
}

// echoServer accepts on loopback and echoes until the client half-closes,
// then closes its side too. It counts the connections it accepted.
type echoServer struct {
	ln    net.Listener
	mu    sync.Mutex
	count int
	hold  chan struct{} // when non-nil, each connection waits for it to close before echoing
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.count++
			hold := e.hold
			e.mu.Unlock()
			go func() {
				defer c.Close()
				if hold != nil {
					<-hold
				}
				io.Copy(c, c)
			}()
		}
	}()
	return e
}

func (e *echoServer) port() int { return e.ln.Addr().(*net.TCPAddr).Port }

var startingOn = regexp.MustCompile(`ProxyFactory starting on (\d+)`)

// startForwarder serves the plugin on an ephemeral loopback port towards
// destPort and returns it with the address to connect to and Serve's
// result.
func startForwarder(t *testing.T, destPort int, logs *testbin.Log) (service.Service, string, chan error) {
	t.Helper()
	if logs == nil {
		logs = &testbin.Log{}
	}
	args := []string{"--port", "tcp:0:interface=127.0.0.1", "--host", "127.0.0.1", "--dest_port", strconv.Itoa(destPort), "--connect-timeout", "2s"}
	svc, err := NewPlugin().New(args, service.Env{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := startingOn.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no \"ProxyFactory starting on PORT\" line:\n%s", logs.String())
	}
	served := make(chan error, 1)
	go func() { served <- svc.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		svc.Shutdown(ctx)
	})
	return svc, "127.0.0.1:" + m[1], served
}

func TestForwardsBothWaysWithHalfClose(t *testing.T) {
	echo := newEchoServer(t)
	_, addr, _ := startForwarder(t, echo.port(), nil)
	payload := bytes.Repeat([]byte("gotwistd portforward\n"), 20000) // 420 KB, more than one buffer
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		done := make(chan error, 1)
		go func() {
			var err error
			got, err = io.ReadAll(c)
			done <- err
		}()
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
		// The half-close must reach the echo server, which then ends its
		// side: without it ReadAll would never return.
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("connection %d: read: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("connection %d: the echo never ended: the half-close was not passed on", i)
		}
		c.Close()
		if !bytes.Equal(got, payload) {
			t.Fatalf("connection %d: got %d bytes back, want the %d sent", i, len(got), len(payload))
		}
	}
	echo.mu.Lock()
	defer echo.mu.Unlock()
	if echo.count != 3 {
		t.Errorf("destination saw %d connections, want one per client connection (3)", echo.count)
	}
}

func TestDestinationDownClosesClient(t *testing.T) {
	// A port nothing listens on: bind one, note it, close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var logs testbin.Log
	_, addr, _ := startForwarder(t, dead, &logs)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Fatalf("read from a forward to a dead port = %d, %v; want the connection closed", n, err)
	}
	want := "Unable to connect to peer 127.0.0.1:" + strconv.Itoa(dead)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", want, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestShutdownLetsOpenConnectionsFinish(t *testing.T) {
	echo := newEchoServer(t)
	f, addr, served := startForwarder(t, echo.port(), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// One round trip proves the forward is set up before Shutdown starts.
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- f.Shutdown(ctx)
	}()
	// The listener closes: new connections are refused...
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting 5 s after Shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// ...while the open one still forwards.
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("open connection during Shutdown: %q, %v", buf, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a forwarded connection was open", err)
	default:
	}
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(c)
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the last connection ended")
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestShutdownGracePeriodClosesTheRest(t *testing.T) {
	echo := newEchoServer(t)
	var logs testbin.Log
	f, addr, served := startForwarder(t, echo.port(), &logs)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := f.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown past its grace period = %v, want context.DeadlineExceeded (the runner logs the grace period's end)", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after a forced stop: %v", err)
	}
	if want := "closed 2 forwarded sockets still open after the grace period"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q (the client's and the destination's sockets):\n%s", want, logs.String())
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("client read after forced shutdown: %v, want the connection closed", err)
	}
}
