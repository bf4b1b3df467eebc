//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/net/http2"
)

// The HTTP/2 and HTTP/3 load clients run inside the box, as the HTTP/3
// client of sockets_client_test.go does: the test binary, installed as
// protoLoadPath, becomes a client when protoLoadEnv is set:
//
//	GOTWISTD_E2E_PROTOLOAD=/etc/ssl/certs/ca.pem protoload h2|h3 CLIENTS STOPFILE DIR URL...
//
// Each of CLIENTS goroutines fetches the URLs in turn until STOPFILE
// exists; every body must equal the file of the same name under DIR. It
// prints one JSON protoCounts. A request counts as failed when the client
// library gives up on it: Go's HTTP/2 client itself retries, per RFC 9113
// section 6.8, the requests a GOAWAY says were not processed, and nothing
// else; quic-go's HTTP/3 client retries nothing.
const protoLoadEnv = "GOTWISTD_E2E_PROTOLOAD"

// protoLoadPath is where the load client is installed in a box.
const protoLoadPath = "/usr/local/bin/protoload"

// protoCounts is what a load client prints.
type protoCounts struct {
	OK     int64    `json:"ok"`
	Failed int64    `json:"failed"`
	Errors []string `json:"errors,omitempty"` // the first few
}

func init() {
	if ca := os.Getenv(protoLoadEnv); ca != "" {
		c, err := protoLoad(ca, os.Args[1:])
		if err != nil {
			fmt.Fprintf(os.Stderr, "protoload: %v\n", err)
			os.Exit(2)
		}
		json.NewEncoder(os.Stdout).Encode(c)
		os.Exit(0)
	}
}

func protoLoad(ca string, args []string) (*protoCounts, error) {
	if len(args) < 5 {
		return nil, fmt.Errorf("usage: %s=CA.pem protoload h2|h3 CLIENTS STOPFILE DIR URL...", protoLoadEnv)
	}
	proto, stopFile, dir, urls := args[0], args[2], args[3], args[4:]
	clients, err := strconv.Atoi(args[1])
	if err != nil {
		return nil, err
	}
	pemData, err := os.ReadFile(ca)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("%s: no certificate", ca)
	}
	want := map[string][]byte{}
	for _, u := range urls {
		b, err := os.ReadFile(path.Join(dir, path.Base(u)))
		if err != nil {
			return nil, err
		}
		want[u] = b
	}
	var rt http.RoundTripper
	switch proto {
	case "h2":
		rt = &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	case "h3":
		tr := &http3.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			QUICConfig:      &quic.Config{HandshakeIdleTimeout: 30 * time.Second, MaxIdleTimeout: 30 * time.Second},
		}
		defer tr.Close()
		rt = tr
	default:
		return nil, fmt.Errorf("protocol %q: want h2 or h3", proto)
	}
	client := &http.Client{Transport: rt, Timeout: 30 * time.Second}
	var mu sync.Mutex
	counts := &protoCounts{}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if _, err := os.Stat(stopFile); err == nil {
					return
				}
				u := urls[i%len(urls)]
				err := protoFetch(client, u, want[u])
				mu.Lock()
				if err != nil {
					counts.Failed++
					if len(counts.Errors) < 5 {
						counts.Errors = append(counts.Errors, time.Now().Format("15:04:05.000")+" "+err.Error())
					}
				} else {
					counts.OK++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counts, nil
}

func protoFetch(c *http.Client, url string, want []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return fmt.Errorf("GET %s: %s %d, body cut after %d bytes: %w", url, resp.Proto, resp.StatusCode, len(body), err)
	case resp.StatusCode != 200 || !bytes.Equal(body, want):
		return fmt.Errorf("GET %s: %s %d with %d bytes, want 200 and the %d of the file", url, resp.Proto, resp.StatusCode, len(body), len(want))
	}
	return nil
}

// TestProtocolsAcrossRestarts: the shipped HTTPS and HTTP/3 units
// (ssl:systemd:... and quic:systemd:... on one socket unit), with HTTP/2
// and HTTP/3 clients fetching a page and a 4 MiB file without pause while
// the service is restarted and reloaded protoRestarts() times each (3 in
// CI, 10 in the full run). Beside them, curl --http2 fetches the page in
// a loop (a new process and connection a request) and h2load runs after
// runs. systemd keeps both sockets across the restarts; the stopping
// instance sends GOAWAY and lets the streams it took in finish. No
// request of Go's HTTP/2 client or of curl, which retry what a GOAWAY says
// was not processed (RFC 9113 section 6.8), may fail; the HTTP/3 client's
// and h2load's counts are reported as they are. With
// GOTWISTD_RELIABILITY_DOC, the figures go into that document.
func TestProtocolsAcrossRestarts(t *testing.T) {
	t.Parallel()
	box, page := sockBox(t)
	must(t, box.CopyFile(protoSelf(t), protoLoadPath, 0o755))
	const tlsSocket, tlsService = "www.example.com-tls.socket", "www.example.com-tls.service"
	install(t, box, repoFile("deploy/systemd/"+tlsSocket), "/etc/systemd/system/"+tlsSocket)
	install(t, box, repoFile("deploy/systemd/"+tlsService), "/etc/systemd/system/"+tlsService)
	const static = "/srv/www/www.example.com/static"
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	must(t, box.WriteFile(static+"/big.bin", big, 0o644))
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", tlsSocket)
	sockWantHTTP2(t, box, "https://localhost/index.html", 443, page)

	stop := "/run/protoload.stop"
	type result struct {
		proto string
		out   string
		err   error
	}
	results := make(chan result, 2)
	for _, proto := range []string{"h2", "h3"} {
		go func() {
			out, err := box.Run("env", protoLoadEnv+"="+sockCertFile, "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true",
				protoLoadPath, proto, "4", stop, static, "https://localhost/index.html", "https://localhost/big.bin")
			results <- result{proto, out, err}
		}()
	}
	stopOthers := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stopOthers) }) }
	t.Cleanup(halt)
	curlDone, h2loadDone := make(chan *protoCounts, 1), make(chan *h2loadCounts, 1)
	go func() { curlDone <- protoCurl(box, "https://localhost/index.html", page, stopOthers) }()
	go func() { h2loadDone <- protoH2load(box, "https://localhost/index.html", stopOthers) }()
	// Both clients are fetching before the first restart.
	waitJournal(t, box, tlsService, `"GET /big.bin HTTP/2.0" 200`, `"GET /big.bin HTTP/3.0" 200`)
	begin := time.Now()
	pids := []int{mainPID(t, box, tlsService)}
	n, gap := protoRestarts()
	for i := range n {
		// Paced in the full run: a restart every gap, a reload half
		// way between, for the clients to run between them.
		time.Sleep(time.Until(begin.Add(time.Duration(i) * gap)))
		// Restart=always keeps systemd's start limit (5 starts in
		// 10 s), which these restarts may pass: forget the count.
		systemctl(t, box, "reset-failed", tlsService)
		systemctl(t, box, "restart", tlsService)
		pids = append(pids, mainPID(t, box, tlsService))
		time.Sleep(time.Until(begin.Add(time.Duration(i)*gap + gap/2)))
		systemctl(t, box, "reload", tlsService)
		if i < n-1 {
			// Requests flow between two actions: wait for the new
			// instance's first access lines of both protocols.
			protoWaitServed(t, box, tlsService)
		}
	}
	protoWaitServed(t, box, tlsService)
	took := time.Since(begin)
	must(t, box.WriteFile(stop, nil, 0o644))
	halt()
	curl, h2l := <-curlDone, <-h2loadDone
	got := map[string]*protoCounts{}
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("%s load client: %v\n%s", r.proto, r.err, r.out)
		}
		var c protoCounts
		if err := json.Unmarshal([]byte(r.out), &c); err != nil {
			t.Fatalf("%s load client printed %q: %v", r.proto, r.out, err)
		}
		got[r.proto] = &c
		t.Logf("%s over %d restarts and %d reloads in %v (pids %v): %d ok, %d failed %q", r.proto, n, n, took.Round(time.Second), pids, c.OK, c.Failed, c.Errors)
	}
	t.Logf("curl --http2 in a loop: %d ok, %d failed %q", curl.OK, curl.Failed, curl.Errors)
	t.Logf("h2load: %v %q", h2l, h2l.errs)
	for i := 1; i < len(pids); i++ {
		if pids[i] == pids[i-1] {
			t.Errorf("restart %d kept pid %d", i, pids[i])
		}
	}
	if c := got["h2"]; c.OK == 0 || c.Failed != 0 {
		t.Errorf("HTTP/2 across restarts and reloads: %d ok, %d failed (%q); want none failed", c.OK, c.Failed, c.Errors)
	}
	if c := got["h3"]; c.OK == 0 {
		t.Errorf("HTTP/3 across restarts and reloads: no request succeeded (%q)", c.Errors)
	}
	if curl.OK == 0 || curl.Failed != 0 {
		t.Errorf("curl --http2 across restarts and reloads: %d ok, %d failed (%q); want none failed", curl.OK, curl.Failed, curl.Errors)
	}
	if h2l.err != nil {
		t.Error(h2l.err)
	}
	if h2l.succeeded == 0 {
		t.Errorf("h2load across restarts and reloads: no request succeeded (%v)", h2l)
	}
	if doc := os.Getenv("GOTWISTD_RELIABILITY_DOC"); doc != "" && !t.Failed() {
		f := &protoFigures{restarts: n, reloads: n, took: took, h2: got["h2"], h3: got["h3"], curl: curl, h2load: h2l}
		if err := protoWriteDoc(doc, f); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote the figures to %s", doc)
	}
}

// protoWaitServed waits until the running instance of unit has served
// both protocols since it started: an access line of each in its journal
// after its main pid's start.
func protoWaitServed(t *testing.T, box *Box, unit string) {
	t.Helper()
	pid := mainPID(t, box, unit)
	err := eventually(30*time.Second, func() error {
		out, err := box.Run("journalctl", "--no-pager", "-o", "cat", "_PID="+strconv.Itoa(pid))
		if err != nil {
			return err
		}
		for _, w := range []string{`HTTP/2.0" 200`, `HTTP/3.0" 200`} {
			if !strings.Contains(out, w) {
				return errors.New("no " + w)
			}
		}
		return nil
	})
	if err != nil {
		st, _ := box.Status(unit)
		t.Fatalf("instance %d of %s: %v\n%s", pid, unit, err, st)
	}
}

// protoSelf is this test binary, installed in the box as the load client.
func protoSelf(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	must(t, err)
	return self
}
