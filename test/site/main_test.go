// Package site tests what a site's visitors see of `gotwistd web`'s
// site options (cache rules, CORS, error pages, the single-page-app
// fallback, the directory listing) against the real binary, with real
// clients: curl, and headless chromium for the listing page. A client that
// is not installed makes its tests skip with a message.
package site

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the gotwistd built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gotwistd-site-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "site:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "gotwistd")
	build := exec.Command("go", "build", "-o", binary, "github.com/gotwistd/gotwistd/cmd/gotwistd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "site: go build ./cmd/gotwistd: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// logBuffer collects a server's output and wakes a waiter on each write.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	wake chan struct{}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var siteStarting = regexp.MustCompile(`Site starting on (\S+)`)

// server is a running `gotwistd --nodaemon --pidfile= web ...`.
type server struct {
	addr string // host:port of its one listener
	log  *logBuffer
}

// start runs gotwistd web with args and one --listen on 127.0.0.1 (port
// 0; listen gives the endpoint's type and options, "tcp" or an ssl
// endpoint's tail) and returns once it listens; it is stopped when the
// test ends.
func start(t *testing.T, listen string, args ...string) *server {
	t.Helper()
	all := append([]string{"--nodaemon", "--pidfile=", "web", "--listen", listen}, args...)
	cmd := exec.Command(binary, all...)
	log := &logBuffer{wake: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exit:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exit
		}
	})
	deadline := time.After(15 * time.Second)
	for {
		if m := siteStarting.FindStringSubmatch(log.String()); m != nil {
			return &server{addr: "127.0.0.1:" + m[1], log: log}
		}
		select {
		case <-log.wake:
		case <-exit:
			t.Fatalf("gotwistd exited before listening:\n%s", log)
		case <-deadline:
			t.Fatalf("gotwistd did not listen within 15 s:\n%s", log)
		}
	}
}

// writeFiles creates files (path -> content; a path ending in "/" is a
// directory) under a new directory, and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if name[len(name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
