//go:build linux

package web

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/service"
)

const acceptOnceChildEnv = "GOTWISTD_WEB_ACCEPT_ONCE_CHILD"

// TestAcceptOnce hands a child process (this test binary) one connected
// socket as systemd does for a unit with Accept=yes (fd 3, LISTEN_FDS=1,
// LISTEN_PID set to the child), and checks that the child serves the
// request and then ends on its own.
func TestAcceptOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := conn.(*net.TCPConn).File()
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `export LISTEN_PID=$$; exec "$0" "$@"`,
		os.Args[0], "-test.run=^TestAcceptOnceChild$", "-test.v")
	cmd.Env = append(os.Environ(), acceptOnceChildEnv+"=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=connection")
	cmd.ExtraFiles = []*os.File{f}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	io.WriteString(client, "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: once\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(client), nil)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("reading the response: %v\nchild output:\n%s", err, out.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "gotwistd is running") {
		t.Errorf("response %d %q", resp.StatusCode, body)
	}
	client.Close() // the connection ends: the child must exit by itself
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, want := range []string{"[-] Site starting on " + port, `"GET / HTTP/1.1" 200`, `"once"`, "Stopping factory"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("child output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestAcceptOnceChild is the child of TestAcceptOnce.
func TestAcceptOnceChild(t *testing.T) {
	if os.Getenv(acceptOnceChildEnv) != "1" {
		t.Skip("the child process of TestAcceptOnce")
	}
	rec := &logRecorder{}
	env := service.Env{Logger: slog.New(recHandler{rec: rec, system: "?"}), Version: "1.2.3"}
	svc, err := NewPlugin().New([]string{"--listen", "systemd:domain=INET:index=0"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		svc.Shutdown(context.Background())
		t.Error("Serve did not return after its one connection ended")
	}
	for _, l := range rec.all() {
		fmt.Println(l)
	}
}
