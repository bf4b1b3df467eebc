//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// protoRestarts is how many times TestProtocolsAcrossRestarts restarts
// the service, and how many times it reloads it, and the least time from
// one restart to the next: 3 each back to back in CI, 10 each, a restart
// every 2 s, in the full reliability run (GOTWISTD_RELIABILITY=full).
func protoRestarts() (int, time.Duration) {
	if restartFull() {
		return 10, 2 * time.Second
	}
	return 3, 0
}

// h2loadCounts sums h2load's "requests:" lines over its runs.
type h2loadCounts struct {
	runs                                                          int
	total, started, done, succeeded, failed, errored, timeout, ok int64
	errs                                                          []string // the first few runs' failures
	err                                                           error    // why the runs stopped early
}

var (
	h2loadRequests = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2loadStatus   = regexp.MustCompile(`status codes: (\d+) 2xx`)
)

// add adds one run's summary; an output without one is an error.
func (c *h2loadCounts) add(out string) error {
	m := h2loadRequests.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("h2load printed no request counts:\n%s", out)
	}
	c.runs++
	for i, p := range []*int64{&c.total, &c.started, &c.done, &c.succeeded, &c.failed, &c.errored, &c.timeout} {
		n, _ := strconv.ParseInt(m[i+1], 10, 64)
		*p += n
	}
	if m := h2loadStatus.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		c.ok += n
	}
	return nil
}

func (c *h2loadCounts) String() string {
	return fmt.Sprintf("%d runs: %d requests, %d succeeded (%d with 2xx), %d failed, %d errored, %d timeout",
		c.runs, c.total, c.succeeded, c.ok, c.failed, c.errored, c.timeout)
}

func TestH2loadCounts(t *testing.T) {
	out := `finished in 1.02s, 981.00 req/s, 1.2MB/s
requests: 1000 total, 1000 started, 990 done, 985 succeeded, 15 failed, 10 errored, 0 timeout
status codes: 985 2xx, 0 3xx, 0 4xx, 0 5xx
`
	var c h2loadCounts
	if err := c.add(out); err != nil {
		t.Fatal(err)
	}
	if err := c.add(out); err != nil {
		t.Fatal(err)
	}
	if c.runs != 2 || c.total != 2000 || c.succeeded != 1970 || c.failed != 30 || c.errored != 20 || c.ok != 1970 {
		t.Errorf("two runs summed = %v", &c)
	}
	if err := c.add("connect failed\n"); err == nil {
		t.Error("an output without counts: no error")
	}
}

// protoH2load runs h2load (nghttp2-client) in the box against url again
// and again until stop is closed: each run 1000 requests over 4
// connections, 4 streams at a time. h2load does not retry: a request
// that a GOAWAY says was not processed, or that a closing connection
// takes with it, counts as failed.
func protoH2load(box *Box, url string, stop <-chan struct{}) *h2loadCounts {
	c := &h2loadCounts{}
	for {
		select {
		case <-stop:
			return c
		default:
		}
		out, err := box.Run("h2load", "-n", "1000", "-c", "4", "-m", "4", url)
		if aerr := c.add(out); aerr != nil {
			c.err = fmt.Errorf("h2load %s: %v: %w", url, err, aerr)
			return c
		}
		if m := h2loadRequests.FindStringSubmatch(out); m != nil && m[4] != m[1] && len(c.errs) < 5 {
			c.errs = append(c.errs, time.Now().Format("15:04:05.000")+" "+m[0])
		}
	}
}

// protoCurl fetches url with a new curl --http2 process a request until
// stop is closed, and counts the requests that did not get the page.
func protoCurl(box *Box, url string, page []byte, stop <-chan struct{}) *protoCounts {
	c := &protoCounts{}
	want := string(page) + "\n200 2"
	for {
		select {
		case <-stop:
			return c
		default:
		}
		out, err := box.Curl(url, "--http2", "--cacert", sockCertFile, "--write-out", "\n%{http_code} %{http_version}")
		if err == nil && out == want {
			c.OK++
			continue
		}
		c.Failed++
		if len(c.Errors) < 5 {
			msg := fmt.Sprintf("%q", tail(out, 1))
			if err != nil {
				msg = err.Error()
			}
			c.Errors = append(c.Errors, time.Now().Format("15:04:05.000")+" "+msg)
		}
	}
}

// protoFigures is what TestProtocolsAcrossRestarts measured, for the doc.
type protoFigures struct {
	restarts, reloads int
	took              time.Duration
	h2, h3, curl      *protoCounts
	h2load            *h2loadCounts
}

// The markers around TestProtocolsAcrossRestarts's figures in
// docs/reliability.md.
const (
	protoDocBegin = "<!-- restarts-proto:begin (written by scripts/reliability: do not edit by hand) -->"
	protoDocEnd   = "<!-- restarts-proto:end -->"
)

// protoWriteDoc replaces the figures between the markers of the document
// at path.
func protoWriteDoc(path string, f *protoFigures) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("protocol figures: %w", err)
	}
	before, rest, ok := bytes.Cut(doc, []byte(protoDocBegin))
	_, after, ok2 := bytes.Cut(rest, []byte(protoDocEnd))
	if !ok || !ok2 {
		return fmt.Errorf("protocol figures: %s has no %q ... %q section to fill", path, protoDocBegin, protoDocEnd)
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(protoDocBegin + "\n")
	fmt.Fprintf(&b, "Measured %s on %s: %d × `systemctl restart` and %d × `systemctl reload` in %s, all clients at once, in the box.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), restartMachine(), f.restarts, f.reloads, f.took.Round(time.Second))
	b.WriteString("| client | retries per RFC 9113 6.8 | requests | failed |\n|---|---|---:|---:|\n")
	row := func(client, retries string, ok, failed int64, errs []string) {
		cell := "**0**"
		if failed > 0 {
			cell = strconv.FormatInt(failed, 10)
			if len(errs) > 0 {
				cell += " (first: `" + strings.ReplaceAll(errs[0], "|", `\|`) + "`)"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", client, retries, restartThousands(ok+failed), cell)
	}
	row("Go's HTTP/2 client (`golang.org/x/net/http2`), 4 at once, the page and a 4 MiB file", "yes", f.h2.OK, f.h2.Failed, f.h2.Errors)
	row("`curl --http2`, a new process and connection a request", "yes", f.curl.OK, f.curl.Failed, f.curl.Errors)
	row("quic-go's HTTP/3 client, 4 at once, the page and a 4 MiB file", "no", f.h3.OK, f.h3.Failed, f.h3.Errors)
	fmt.Fprintf(&b, "| `h2load -n 1000 -c 4 -m 4`, run after run (%d runs) | no | %s | %d not succeeded (failed %d, errored %d, timeout %d) |\n",
		f.h2load.runs, restartThousands(f.h2load.total), f.h2load.total-f.h2load.succeeded,
		f.h2load.failed, f.h2load.errored, f.h2load.timeout)
	b.WriteString(protoDocEnd)
	b.Write(after)
	return os.WriteFile(path, b.Bytes(), 0o644)
}
