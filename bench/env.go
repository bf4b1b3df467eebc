package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/internal/testcert"
)

// The files every server serves, from the same directory.
const (
	smallName = "small.html"
	file100k  = "100k.bin"
	file10m   = "10m.bin"
	jsName    = "app.js" // the br-js case's text asset
	smallSize = 160
	jsSize    = 30 * 1024
	size100k  = 100 * 1024
	size10m   = 10 * 1024 * 1024
)

// benchEnv is the temp directory a run works in: the document root, the
// certificate, one sub-directory per server for configs, logs and output.
type benchEnv struct {
	dir     string
	docroot string
	cert    string    // PEM certificate, self-signed for 127.0.0.1 and localhost
	key     string    // PEM PKCS#8 ECDSA P-256 key
	wrkLua  string    // the wrk script that prints a machine-readable summary
	written time.Time // when writeFiles last wrote the docroot
}

// docrootSettle is how old the docroot's files must be before anything
// is measured. gotwistd's memory cache takes a file only once it has not
// changed for 2 s (a change within one timestamp tick could go unseen),
// and serves it off its fast path from then on; a load or a hold that
// begins sooner measures its slow path for fresh files instead, and
// only for the servers started first.
const docrootSettle = 3 * time.Second

// settled waits until the docroot's files are docrootSettle old, or ctx
// ends.
func (e *benchEnv) settled(ctx context.Context) error {
	left := time.Until(e.written.Add(docrootSettle))
	if left <= 0 {
		return nil
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newBenchEnv() (*benchEnv, error) {
	dir, err := os.MkdirTemp("", "gotwistd-bench-")
	if err != nil {
		return nil, fmt.Errorf("make temp dir: %w", err)
	}
	// Servers that drop to another user (h2o's and nginx's workers would) must
	// still read the files: the tree is world-readable.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	e := &benchEnv{dir: dir, docroot: filepath.Join(dir, "www")}
	if err := os.Mkdir(e.docroot, 0o755); err != nil {
		return nil, err
	}
	if err := e.writeFiles(); err != nil {
		return nil, err
	}
	if err := e.writeCert(); err != nil {
		return nil, err
	}
	e.wrkLua = filepath.Join(dir, "summary.lua")
	if err := os.WriteFile(e.wrkLua, []byte(wrkSummaryLua), 0o644); err != nil {
		return nil, err
	}
	return e, nil
}

// smallPage is exactly 160 bytes of HTML.
func smallPage() []byte {
	head := "<!DOCTYPE html>\n<html><head><title>bench</title></head><body><p>"
	tail := "</p></body></html>\n"
	fill := smallSize - len(head) - len(tail)
	return []byte(head + strings.Repeat("x", fill) + tail)
}

// jsAsset is exactly jsSize bytes of JavaScript that compresses about as
// an application's bundle does (to a fifth or so): functions of the same
// shape whose names, strings and numbers vary, from a fixed seed so that
// every run serves the same bytes.
func jsAsset() []byte {
	words := []string{"user", "item", "cart", "price", "render", "list", "fetch", "state", "node", "value",
		"event", "query", "cache", "route", "token", "style", "frame", "count", "index", "label"}
	seed := uint32(2463534242)
	next := func(n int) int { // xorshift32
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		return int(seed % uint32(n))
	}
	var b strings.Builder
	b.WriteString("\"use strict\";\n")
	for i := 0; b.Len() < jsSize; i++ {
		a, c, d := words[next(len(words))], words[next(len(words))], words[next(len(words))]
		fmt.Fprintf(&b, "export function %s%s%d(%s, opts = {}) {\n", a, strings.ToUpper(c[:1])+c[1:], i, d)
		fmt.Fprintf(&b, "  const %s = opts.%s ?? %d;\n", c, a, next(100000))
		fmt.Fprintf(&b, "  if (!%s || %s.length > %d) { return null; }\n", d, d, next(512))
		fmt.Fprintf(&b, "  return %s.map((x) => ({ ...x, %s: x.%s * %s, tag: \"%s-%x\" }));\n}\n", d, c, a, c, d, next(1<<24))
	}
	return []byte(b.String()[:jsSize])
}

func (e *benchEnv) writeFiles() error {
	if err := os.WriteFile(filepath.Join(e.docroot, smallName), smallPage(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.docroot, jsName), jsAsset(), 0o644); err != nil {
		return err
	}
	for name, size := range map[string]int{file100k: size100k, file10m: size10m} {
		b := make([]byte, size)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(e.docroot, name), b, 0o644); err != nil {
			return err
		}
	}
	e.written = time.Now()
	return nil
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost
// and its key to cert.pem and key.pem in the run's directory.
func (e *benchEnv) writeCert() error {
	c, err := testcert.New(testcert.Options{Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		return err
	}
	if e.cert, e.key, err = c.Write(e.dir); err != nil {
		return err
	}
	// World-readable on purpose: a throwaway key for loopback, read by
	// servers whose workers may run as nobody.
	return os.Chmod(e.key, 0o644)
}

// serverDir makes (or empties) the working directory of one server.
func (e *benchEnv) serverDir(name string) (string, error) {
	d := filepath.Join(e.dir, name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	return d, nil
}

// freePorts returns n distinct TCP ports free on 127.0.0.1 right now.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// wrkSummaryLua makes wrk print one line of key=value pairs at the end, so
// the numbers need no scraping of its human-readable table.
const wrkSummaryLua = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`
