// Package site tests what a site's visitors see of `gotwistd web`'s
// site options (cache rules, CORS, error pages, the single-page-app
// fallback, the directory listing) against the real binary, with real
// clients: curl, and headless chromium for the listing page. A client that
// is not installed makes its tests skip with a message.
package site

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
	"github.com/gotwistd/gotwistd/internal/testcert"
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

// curlEngine is one way curl reaches gotwistd: the listener, the options
// that select gotwistd's engine, and curl's own.
type curlEngine struct {
	name, listen string
	args, curl   []string
}

// curlEngines makes a certificate for 127.0.0.1 and returns the engines
// to test: gotwistd's and net/http's HTTP/1.1, and their HTTP/2 over TLS.
func curlEngines(t *testing.T) []curlEngine {
	t.Helper()
	cert, err := testcert.New(testcert.Options{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := cert.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ssl := "ssl:0:interface=127.0.0.1:privateKey=" + keyFile + ":certKey=" + certFile
	return []curlEngine{
		{"h1 gotwistd", "tcp:0:interface=127.0.0.1", nil, []string{"--http1.1"}},
		{"h1 net/http", "tcp:0:interface=127.0.0.1", []string{"--http1-engine=net/http"}, []string{"--http1.1"}},
		{"h2 gotwistd", ssl, nil, []string{"--http2", "--cacert", certFile}},
		{"h2 net/http", ssl, []string{"--http2-engine=net/http"}, []string{"--http2", "--cacert", certFile}},
	}
}

// base is the URL of s's root as e reaches it.
func (e curlEngine) base(s *server) string {
	if strings.HasPrefix(e.listen, "ssl:") {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// writeFiles creates files (path -> content; a path ending in "/" is a
// directory) under a new directory, and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	testbin.WriteFiles(t, root, files)
	return root
}
