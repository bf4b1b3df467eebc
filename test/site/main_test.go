// Package site tests what a site's visitors see of `gotwistd web`'s
// site options (cache rules, CORS, error pages, the single-page-app
// fallback, the directory listing) against the real binary, with real
// clients: curl, and headless chromium for the listing page. A client that
// is not installed makes its tests skip with a message.
package site

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// TestMain builds gotwistd once for the tests.
func TestMain(m *testing.M) {
	testbin.Main(m)
}

var siteStarting = regexp.MustCompile(`Site starting on (\S+)`)

// server is a running `gotwistd --nodaemon --pidfile= web ...`.
type server struct {
	addr string // host:port of its one listener
	log  *testbin.Log
}

// start runs gotwistd web with args and one --listen on 127.0.0.1 (port
// 0; listen gives the endpoint's type and options, "tcp" or an ssl
// endpoint's tail) and returns once it listens; it is stopped when the
// test ends.
func start(t *testing.T, listen string, args ...string) *server {
	t.Helper()
	all := append([]string{"--nodaemon", "--pidfile=", "web", "--listen", listen}, args...)
	p, err := testbin.Start(exec.Command(testbin.Gotwistd(t), all...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(20 * time.Second) })
	var m []string
	switch p.Log.Wait(15*time.Second, p.Exited, func(log string) bool { m = siteStarting.FindStringSubmatch(log); return m != nil }) {
	case testbin.ErrExited:
		t.Fatalf("gotwistd exited before listening:\n%s", p.Log)
	case testbin.ErrTimeout:
		t.Fatalf("gotwistd did not listen within 15 s:\n%s", p.Log)
	}
	return &server{addr: "127.0.0.1:" + m[1], log: p.Log}
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
