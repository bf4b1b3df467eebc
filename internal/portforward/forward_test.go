package portforward

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/internal/service"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Config
		wantErr string
	}{
		{name: "defaults", want: Config{Listen: []string{"tcp:6666"}, Host: "localhost", DestPort: 6665, ConnectTimeout: 10 * time.Second}},
		{name: "twistd spelling", args: []string{"--port", "8080", "--host", "example.org", "--dest_port", "80"},
			want: Config{Listen: []string{"tcp:8080"}, Host: "example.org", DestPort: 80, ConnectTimeout: 10 * time.Second}},
		{name: "short options", args: []string{"-p", "systemd:domain=INET:index=0", "-h", "::1", "-d", "443"},
			want: Config{Listen: []string{"systemd:domain=INET:index=0"}, Host: "::1", DestPort: 443, ConnectTimeout: 10 * time.Second}},
		{name: "dash for underscore and prefix", args: []string{"--dest-port=81", "--conn=2s", "--po", "unix:/run/x.sock"},
			want: Config{Listen: []string{"unix:/run/x.sock"}, Host: "localhost", DestPort: 81, ConnectTimeout: 2 * time.Second}},
		{name: "port repeatable", args: []string{"-p", "1", "-p", "2"},
			want: Config{Listen: []string{"tcp:1", "tcp:2"}, Host: "localhost", DestPort: 6665, ConnectTimeout: 10 * time.Second}},
		{name: "dest port not a number", args: []string{"--dest_port", "http"}, wantErr: `--dest_port "http": give a port number from 1 to 65535`},
		{name: "dest port out of range", args: []string{"-d", "70000"}, wantErr: `--dest_port "70000": give a port number`},
		{name: "empty host", args: []string{"--host="}, wantErr: `--host "": give a host name`},
		{name: "bad timeout", args: []string{"--connect-timeout", "soon"}, wantErr: `--connect-timeout "soon"`},
		{name: "unknown option", args: []string{"--path", "."}, wantErr: "option --path not recognized"},
		{name: "stray argument", args: []string{"8080"}, wantErr: `unexpected argument "8080"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, getopt.ErrUsage) {
					t.Fatalf("ParseArgs(%q) error = %v, want a usage error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseArgs(%q): %v", tt.args, err)
			}
			if strings.Join(got.Listen, " ") != strings.Join(tt.want.Listen, " ") || got.Host != tt.want.Host ||
				got.DestPort != tt.want.DestPort || got.ConnectTimeout != tt.want.ConnectTimeout {
				t.Errorf("ParseArgs(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
	if _, err := ParseArgs([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
}

func TestNewRefusesBadEndpoints(t *testing.T) {
	for _, tc := range []struct{ name, ep, want string }{
		{"syntax", "tcp:abc", `bad endpoint "tcp:abc"`},
		{"datagram", "quic:8443:privateKey=k.pem:certKey=c.pem", "portforward forwards stream connections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Listen = []string{tc.ep}
			_, err := New(cfg, service.Env{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, getopt.ErrUsage) {
				t.Fatalf("New(%q) = %v, want a usage error containing %q", tc.ep, err, tc.want)
			}
		})
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

// logBuffer collects log records as text, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startForwarder serves a Forwarder on an ephemeral loopback port towards
// destPort and returns it with the address to connect to.
func startForwarder(t *testing.T, destPort int, logs io.Writer) (*Forwarder, string, chan error) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = []string{"tcp:0:interface=127.0.0.1"}
	cfg.Host = "127.0.0.1"
	cfg.DestPort = destPort
	cfg.ConnectTimeout = 2 * time.Second
	if logs == nil {
		logs = io.Discard
	}
	f, err := New(cfg, service.Env{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- f.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.Shutdown(ctx)
	})
	return f, f.listeners[0].Stream.Addr().String(), served
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
	var logs logBuffer
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
	f, addr, _ := startForwarder(t, echo.port(), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = f.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "closed 2 forwarded connections") {
		t.Fatalf("Shutdown past its grace period = %v, want it to say it closed the client's and the destination's sockets", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("client read after forced shutdown: %v, want the connection closed", err)
	}
}
