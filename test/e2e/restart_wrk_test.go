//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wrkRun is what wrk (Debian's wrk 4.1) reported of one run.
type wrkRun struct {
	requests int64
	// Socket errors and non-2xx/3xx answers: every one a failed request
	// (wrk's read errors are connections closed or reset under a request
	// sent).
	connect, read, write, timeout, status int64
	out                                   string
}

func (r wrkRun) failed() int64 { return r.connect + r.read + r.write + r.timeout + r.status }

func (r wrkRun) String() string {
	return fmt.Sprintf("%d requests, %d failed (connect %d, read %d, write %d, timeout %d, status %d)",
		r.requests, r.failed(), r.connect, r.read, r.write, r.timeout, r.status)
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in `)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkStatus   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk's summary.
func parseWrk(out string) (wrkRun, error) {
	r := wrkRun{out: out}
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk printed no request count:\n%s", out)
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		for i, p := range []*int64{&r.connect, &r.read, &r.write, &r.timeout} {
			*p, _ = strconv.ParseInt(m[i+1], 10, 64)
		}
	}
	if m := wrkStatus.FindStringSubmatch(out); m != nil {
		r.status, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

func TestParseWrk(t *testing.T) {
	out := `Running 20s test @ http://127.0.0.1/
  2 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.01ms    6.43ms 213.87ms   98.65%
    Req/Sec     5.62k     1.42k    8.26k    71.50%
  223791 requests in 20.00s, 71.24MB read
  Socket errors: connect 0, read 12, write 1, timeout 3
  Non-2xx or 3xx responses: 2
Requests/sec:  11187.83
`
	r, err := parseWrk(out)
	if err != nil || r.requests != 223791 || r.read != 12 || r.write != 1 || r.timeout != 3 || r.status != 2 || r.failed() != 18 {
		t.Errorf("parseWrk = %v, %v", r, err)
	}
	r, err = parseWrk("  10 requests in 1.00s, 1KB read\n")
	if err != nil || r.requests != 10 || r.failed() != 0 {
		t.Errorf("parseWrk without errors = %v, %v", r, err)
	}
	if _, err := parseWrk("unable to connect"); err == nil {
		t.Error("parseWrk of no summary: no error")
	}
}

// TestRestartsWrk is the issue's own measurement, run by
// scripts/reliability (GOTWISTD_RELIABILITY=full): wrk -t2 -c20 against the
// tutorial's unit verbatim and with FileDescriptorStoreMax= alone, a
// connection per request (-H 'Connection: close') and keep-alive, while
// the service is restarted 10 times in 18 s. It fails on any failed
// request where gotwistd promises none (a connection per request always;
// keep-alive with a store).
func TestRestartsWrk(t *testing.T) {
	if !restartFull() {
		t.Skip("GOTWISTD_RELIABILITY=full only (scripts/reliability): 20 s of wrk per run")
	}
	SkipUnlessRoot(t)
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("no wrk (Debian package wrk)")
	}
	units := []seedUnit{
		{name: "verbatim"},
		{name: "FileDescriptorStoreMax", dropIn: "testdata/seed/fdstoremax.conf", store: true},
	}
	var rows []wrkRow
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) {
			box, page := tutorialBox(t)
			install(t, box, repoFile("deploy/systemd/www.example.com.socket"), socketFile)
			install(t, box, "testdata/seed/www.example.com.socketactivated.service", serviceFile)
			if u.dropIn != "" {
				install(t, box, u.dropIn, "/etc/systemd/system/www.example.com.service.d/store.conf")
			}
			systemctl(t, box, "daemon-reload")
			systemctl(t, box, "start", socket)
			if body := eventuallyCurl(t, box, "http://127.0.0.1/"); body != string(page) {
				t.Fatalf("curl http://127.0.0.1/ = %q, want the page", body)
			}
			for _, mode := range []string{"close", "keepalive"} {
				t.Run(mode, func(t *testing.T) {
					r := wrkRestarts(t, box, mode == "close", 10, 18*time.Second)
					t.Logf("wrk -t2 -c20, 10 × systemctl restart in 18 s, %s, unit %s: %v", mode, u.name, r)
					rows = append(rows, wrkRow{"gotwistd", u, mode, r})
					if (mode == "close" || u.store) && r.failed() != 0 {
						t.Errorf("%d failed requests, want none\n%s", r.failed(), r.out)
					}
				})
			}
		})
	}
	// The peers, under the same restarts, each with its own graceful
	// stop; nginx, h2o and caddy own their socket (none takes systemd's),
	// so while one is down its port refuses connections. Reported, not
	// judged.
	// twistd3 runs the tutorial's socket-activated pair itself, as the
	// seed writes it.
	for _, peer := range []struct{ name, conf string }{
		{"nginx", "nginx.conf"}, {"h2o", "h2o.conf"}, {"caddy", "Caddyfile"}, {"twistd3", ""},
	} {
		t.Run(peer.name, func(t *testing.T) {
			box, page := tutorialBox(t)
			if peer.conf != "" {
				install(t, box, "testdata/peers/"+peer.conf, "/etc/peer/"+peer.conf)
			}
			install(t, box, "testdata/peers/"+peer.name+".service", serviceFile)
			systemctl(t, box, "daemon-reload")
			if peer.conf == "" {
				install(t, box, repoFile("deploy/systemd/www.example.com.socket"), socketFile)
				systemctl(t, box, "daemon-reload")
				systemctl(t, box, "start", socket)
			} else {
				systemctl(t, box, "start", service)
			}
			var body string
			err := eventually(10*time.Second, func() error {
				var err error
				body, err = box.Curl("http://127.0.0.1/")
				return err
			})
			if err != nil || body != string(page) {
				st, _ := box.Status(service)
				j, _ := box.Journal(service)
				t.Fatalf("curl http://127.0.0.1/ = %q, %v; want the page\n%s\n%s", body, err, st, tail(j, 20))
			}
			for _, mode := range []string{"close", "keepalive"} {
				t.Run(mode, func(t *testing.T) {
					r := wrkRestarts(t, box, mode == "close", 10, 18*time.Second)
					t.Logf("wrk -t2 -c20, 10 × systemctl restart in 18 s, %s, %s: %v", mode, peer.name, r)
					rows = append(rows, wrkRow{peer.name, seedUnit{}, mode, r})
				})
			}
		})
	}
	if doc := os.Getenv("GOTWISTD_RELIABILITY_DOC"); doc != "" && !t.Failed() {
		if err := wrkWriteDoc(doc, rows); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote the figures to %s", doc)
	}
}

// wrkRow is one run's figures.
type wrkRow struct {
	server string
	unit   seedUnit
	mode   string
	run    wrkRun
}

// The markers around TestRestartsWrk's figures in docs/reliability.md.
const (
	wrkDocBegin = "<!-- restarts-wrk:begin (written by scripts/reliability: do not edit by hand) -->"
	wrkDocEnd   = "<!-- restarts-wrk:end -->"
)

// wrkWriteDoc replaces the figures between the markers of the document
// at path.
func wrkWriteDoc(path string, rows []wrkRow) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("wrk figures: %w", err)
	}
	before, rest, ok := bytes.Cut(doc, []byte(wrkDocBegin))
	_, after, ok2 := bytes.Cut(rest, []byte(wrkDocEnd))
	if !ok || !ok2 {
		return fmt.Errorf("wrk figures: %s has no %q ... %q section to fill", path, wrkDocBegin, wrkDocEnd)
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(wrkDocBegin + "\n")
	fmt.Fprintf(&b, "Measured %s on %s: `wrk -t2 -c20`, 10 × `systemctl restart` in 18 s, in the box's network namespace.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), restartMachine())
	b.WriteString("| server | unit | clients | requests | failed |\n|---|---|---|---:|---:|\n")
	for _, r := range rows {
		unit := "the tutorial's, verbatim"
		switch {
		case r.server == "twistd3":
			unit = "the tutorial's, verbatim (`testdata/peers/twistd3.service`)"
		case r.server != "gotwistd":
			unit = "its own socket, `testdata/peers/" + r.server + ".service`"
		case r.unit.store:
			unit = "+ `FileDescriptorStoreMax=4096` alone"
		}
		clients := "keep-alive"
		if r.mode == "close" {
			clients = "`-H 'Connection: close'`"
		}
		failed := "**0**"
		if n := r.run.failed(); n > 0 {
			failed = fmt.Sprintf("%d (connect %d, read %d, write %d, timeout %d, status %d)", n, r.run.connect, r.run.read, r.run.write, r.run.timeout, r.run.status)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.server, unit, clients, restartThousands(r.run.requests), failed)
	}
	b.WriteString(wrkDocEnd)
	b.Write(after)
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// wrkRestarts runs wrk in the box's network namespace for over+2 s and
// restarts the service count times, evenly, from 1 s in.
func wrkRestarts(t *testing.T, box *Box, close bool, count int, over time.Duration) wrkRun {
	t.Helper()
	args := []string{fmt.Sprintf("--net=/proc/%d/ns/net", box.PID()), "wrk", "-t2", "-c20",
		"-d" + strconv.Itoa(int((over+2*time.Second)/time.Second)) + "s", "--timeout", "10s"}
	if close {
		args = append(args, "-H", "Connection: close")
	}
	args = append(args, "http://127.0.0.1/")
	ctx, cancel := context.WithTimeout(context.Background(), over+60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("nsenter wrk: %v", err)
	}
	begin := time.Now().Add(time.Second)
	for i := range count {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * over / time.Duration(count))))
		// The unit keeps systemd's start limit (5 starts in 10 s),
		// which these restarts would pass: forget the count first.
		systemctl(t, box, "reset-failed", service)
		restartAct(t, box, restartRestart)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s", err, out.String())
	}
	r, err := parseWrk(out.String())
	if err != nil {
		t.Fatal(err)
	}
	return r
}
