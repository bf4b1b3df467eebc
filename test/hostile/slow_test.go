package hostile

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// attackTime is how long each slowhttptest attack lasts.
func attackTime() time.Duration {
	if full {
		return 20 * time.Second
	}
	return 5 * time.Second
}

// probeBound is the longest a normal request may take during an attack.
const probeBound = 5 * time.Second

// probeStats is what a normal client saw.
type probeStats struct {
	lat      []time.Duration
	failures []string
}

func (p *probeStats) quantile(q float64) time.Duration {
	if len(p.lat) == 0 {
		return 0
	}
	s := slices.Clone(p.lat)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func (p *probeStats) String() string {
	return fmt.Sprintf("%d requests, %d failed, p50 %v, p99 %v, max %v", len(p.lat)+len(p.failures), len(p.failures),
		p.quantile(0.5).Round(10*time.Microsecond), p.quantile(0.99).Round(10*time.Microsecond), p.quantile(1).Round(10*time.Microsecond))
}

// probe fetches url over a new connection every 20 ms until stop is
// closed: the normal client of every attack. Each request must answer
// 200 with body within probeBound.
func probe(url, body string, stop <-chan struct{}) *probeStats {
	st := &probeStats{}
	client := &http.Client{Timeout: probeBound, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return st
		case <-tick.C:
		}
		t0 := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			st.failures = append(st.failures, err.Error())
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		switch {
		case err != nil:
			st.failures = append(st.failures, "reading the body: "+err.Error())
		case resp.StatusCode != 200 || string(b) != body:
			st.failures = append(st.failures, fmt.Sprintf("status %d, %d bytes", resp.StatusCode, len(b)))
		default:
			st.lat = append(st.lat, d)
		}
	}
}

// slowStats is slowhttptest's view: the most connections it held open at
// once, and its own verdict on the service's availability.
type slowStats struct {
	maxConnected int
	unavailable  int // seconds slowhttptest's probe found the service unavailable
}

// readSlowCSV reads the statistics slowhttptest -g writes: Seconds,
// Closed, Pending, Connected, Service Available (its probe's status code,
// 0 when it got none).
func readSlowCSV(name string) (slowStats, error) {
	var st slowStats
	f, err := os.Open(name)
	if err != nil {
		return st, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return st, fmt.Errorf("%s: %w", name, err)
	}
	for i, row := range rows {
		if i == 0 || len(row) < 5 {
			continue
		}
		if n, err := strconv.Atoi(row[3]); err == nil {
			st.maxConnected = max(st.maxConnected, n)
		}
		if row[4] == "0" {
			st.unavailable++
		}
	}
	return st, nil
}

// peaks are the highest figures sampled during an attack.
type peaks struct {
	fds      int   // open file descriptors of the server
	rssKiB   int64 // resident memory of the server
	tcpPages int64 // memory of every TCP socket of the machine, in 4 KiB pages
}

// sample reads the figures of process pid and the machine once.
func (p *peaks) sample(pid int) {
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		p.fds = max(p.fds, len(ents))
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				p.rssKiB = max(p.rssKiB, n)
			}
		}
	}
	b, _ = os.ReadFile("/proc/net/sockstat")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i++ {
			if f[i] == "mem" {
				n, _ := strconv.ParseInt(f[i+1], 10, 64)
				p.tcpPages = max(p.tcpPages, n)
			}
		}
	}
}

// stripANSI removes the colour escapes slowhttptest writes.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 'a' && s[i] <= 'z') {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// listenOverflows returns the kernel's count of connections dropped
// because a listen queue was full (TcpExt ListenOverflows), or -1.
func listenOverflows() int64 {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return -1
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		for j, n := range names {
			if n == "ListenOverflows" {
				v, _ := strconv.ParseInt(values[j], 10, 64)
				return v
			}
		}
	}
	return -1
}

// TestSlowAttacks runs slowhttptest's four attacks, each against a fresh
// gotwistd with default settings (in the full run, once per HTTP/1
// engine), while a normal client fetches the index over a new connection
// every 20 ms: every normal request must succeed, within probeBound. The
// normal client's latency is printed (-v), with what the attack held and
// what the server used.
func TestSlowAttacks(t *testing.T) {
	tool, err := exec.LookPath("slowhttptest")
	if err != nil {
		t.Skip("slowhttptest is not installed (Debian package slowhttptest): skipping the slow-client attacks")
	}
	tr := newTree(t)
	d := attackTime()
	slowReaders := 100
	if full {
		slowReaders = 300
	}
	attacks := []slowAttack{
		// Slowloris: 1000 connections sending a header line per second,
		// never the end of the headers.
		{"slowloris", []string{"-H", "-c", "1000", "-r", "500", "-i", "1"}, "/", 500},
		// R-U-Dead-Yet: POSTs announcing 64 KiB sent a few bytes a
		// second. gotwistd answers 405 at once and closes, so the attack
		// holds little.
		{"slow body", []string{"-B", "-c", "1000", "-r", "500", "-i", "1", "-s", "65536"}, "/", 0},
		// Slow read: connections with a receive window of 1-64 bytes
		// reading 32 bytes a second, asking for a 16 MiB file three times
		// per connection (pipelined). Each fills a send buffer of up to
		// 4 MiB in the kernel: 100 connections in CI, 300 in the full run.
		{"slow read", []string{"-X", "-c", strconv.Itoa(slowReaders), "-r", "300", "-n", "1", "-w", "1", "-y", "64", "-z", "32", "-k", "3"}, "/big.bin", slowReaders / 2},
		// Apache Killer: requests for the big file with hundreds of
		// overlapping ranges.
		{"range attack", []string{"-R", "-c", "300", "-r", "300", "-a", "5", "-b", "2000"}, "/big.bin", 0},
	}
	es := engines(t)
	if !full {
		es = es[:1] // the other engines in the full run only
	}
	for _, e := range es {
		for _, a := range attacks {
			t.Run(e.name+"/"+a.name, func(t *testing.T) {
				s := start(t, nil, append([]string{"--listen", "tcp:0:interface=127.0.0.1", "--path", tr.root, "--no-access-log"}, e.args...)...)
				if a.run(t, s, e.name, tool, d) {
					checkServes(t, s)
				}
			})
		}
	}
	if !full {
		return
	}
	// For comparison, Twisted's twistd under the same attacks, with the
	// tutorial's command line. Its figures are printed, not judged.
	twistd, err := exec.LookPath("twistd3")
	if err != nil {
		t.Log("twistd3 is not installed (Debian package python3-twisted): no comparison")
		return
	}
	for _, a := range attacks {
		t.Run("twistd/"+a.name, func(t *testing.T) {
			cmd := exec.Command(twistd, "--nodaemon", "--pidfile=", "web", "--listen", "tcp:0:interface=127.0.0.1", "--path", tr.root)
			cmd.Dir = t.TempDir()
			s := startProcess(t, cmd, 1)
			a.run(&lenient{T: t}, s, "twistd3", tool, d)
		})
	}
}

// lenient reports a test's errors as log lines: for twistd, whose
// failures under attack are figures, not gotwistd's bugs.
type lenient struct{ *testing.T }

func (l *lenient) Errorf(format string, args ...any) { l.Logf("twistd: "+format, args...) }

// tb is what slowAttack.run needs of a test.
type tb interface {
	Helper()
	TempDir() string
	Logf(string, ...any)
	Errorf(string, ...any)
	Fatalf(string, ...any)
}

// slowAttack is one slowhttptest attack of TestSlowAttacks.
type slowAttack struct {
	name string
	args []string
	path string
	// held: the attack must hold at least this many connections at once,
	// or it did not happen as intended.
	held int
}

// run runs the attack for d against s (named name), and reports whether
// the normal client was served throughout.
func (a slowAttack) run(t tb, s *server, name, tool string, d time.Duration) bool {
	t.Helper()
	secs := strconv.Itoa(int(d / time.Second))
	prefix := filepath.Join(t.TempDir(), "slow")
	args := append(slices.Clone(a.args), "-l", secs, "-p", "3", "-g", "-o", prefix, "-u", s.url(a.path))
	// Go raised this process's open file limit; children get the original
	// one back, which may be too small for 1000 connections.
	cmd := exec.Command("sh", append([]string{"-c", `ulimit -n 8192 2>/dev/null; exec "$0" "$@"`, tool}, args...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	stop := make(chan struct{})
	var st *probeStats
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); st = probe(s.url("/"), indexBody, stop) }()
	overflows := listenOverflows()
	if err := cmd.Start(); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("%s: %v", cmd, err)
	}
	// Sample the server every 250 ms and keep the peaks.
	var peak peaks
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			peak.sample(s.pid())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	began := time.Now()
	waitErr := waitTimeout(cmd, d+60*time.Second)
	lasted := time.Since(began).Round(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	<-sampled
	overflows = listenOverflows() - overflows
	if waitErr != nil {
		t.Fatalf("%s: %v\n%s", cmd, waitErr, testbin.Tail(out.String(), 20))
	}
	ss, err := readSlowCSV(prefix + ".csv")
	if err != nil {
		t.Fatalf("slowhttptest statistics: %v\n%s", err, testbin.Tail(out.String(), 20))
	}
	exit := "?"
	if i := strings.LastIndex(out.String(), "Exit status:"); i >= 0 {
		exit, _, _ = strings.Cut(stripANSI(out.String()[i+len("Exit status:"):]), "\n")
		exit = strings.TrimSpace(exit)
	}
	t.Logf("%s, %s: attack held up to %d connections, lasted %v of %v (%s; slowhttptest's own probe: unavailable %d s); "+
		"server peaks: %d fds, RSS %d MiB; kernel TCP memory peak (machine-wide) %d MiB; listen queue overflows (machine-wide): %d; normal client: %v",
		name, a.name, ss.maxConnected, lasted, d, exit, ss.unavailable, peak.fds, peak.rssKiB>>10, peak.tcpPages*4>>10, overflows, st)
	for i, f := range st.failures {
		if i == 5 {
			t.Errorf("... %d failures in all", len(st.failures))
			break
		}
		t.Errorf("normal request failed during the attack: %s", f)
	}
	if len(st.lat) == 0 {
		t.Errorf("the normal client made no request during the attack")
	}
	if ss.maxConnected < a.held {
		t.Errorf("the attack held at most %d connections, want at least %d: it did not happen as intended\n%s",
			ss.maxConnected, a.held, testbin.Tail(out.String(), 20))
	}
	return len(st.failures) == 0 && len(st.lat) > 0
}

// waitTimeout waits for cmd, killing it after d.
func waitTimeout(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("still running after %v: killed", d)
	}
}

// serverSocketOpen reports whether the kernel still has the server's end
// of the loopback connection from client port cport to server port sport
// (/proc/net/tcp lists it until it is closed or reset).
func serverSocketOpen(t *testing.T, sport, cport int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf("0100007F:%04X", sport)
	remote := fmt.Sprintf("0100007F:%04X", cport)
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// st 07 is CLOSE: the socket is gone as a connection.
		if len(f) > 3 && f[1] == local && f[2] == remote && f[3] != "07" {
			return true
		}
	}
	return false
}

// dialSmallWindow connects to addr with a receive buffer of rcvbuf bytes,
// so the server's writes stall as soon as the client stops reading.
//
// A buffer smaller than what a loopback segment takes in kernel memory
// (4 KiB) makes the client's kernel drop data it has no room for, and the
// server retransmit it (a tail loss probe at each stall): that is a lossy
// client, and Linux's TCP_USER_TIMEOUT, which --send-timeout sets, may
// then end the connection even while the client reads. A reader that
// must be seen as steady gets 64 KiB (smallWindow), which stalls the
// server as often without the losses.
func dialSmallWindow(t *testing.T, addr string, rcvbuf int) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// smallWindow is the receive buffer of a slow client that is not lossy;
// see dialSmallWindow.
const smallWindow = 64 << 10

// ports returns the port numbers of c's two ends.
func ports(c net.Conn) (local, remote int) {
	return c.LocalAddr().(*net.TCPAddr).Port, c.RemoteAddr().(*net.TCPAddr).Port
}

// TestTimeouts checks the three timeouts that bound what a slow client
// can hold, each on the real binary with the timeout set to one second,
// and the defaults --help announces.
func TestTimeouts(t *testing.T) {
	tr := newTree(t)
	t.Run("defaults", func(t *testing.T) {
		out, err := exec.Command(testbin.Gotwistd(t), "web", "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("web --help: %v\n%s", err, out)
		}
		help := strings.Join(strings.Fields(string(out)), " ")
		for _, want := range []string{
			"--read-header-timeout=DURATION",
			"[default: 10s]",
			"--idle-timeout=DURATION",
			"[default: 2m0s]",
			"--send-timeout=DURATION",
			"[default: 1m0s]",
		} {
			if !strings.Contains(help, want) {
				t.Errorf("web --help does not say %q", want)
			}
		}
	})
	s := start(t, nil, "--listen", "tcp:0:interface=127.0.0.1", "--path", tr.root,
		"--read-header-timeout=1", "--idle-timeout=1", "--send-timeout=1")
	// closedByServer waits (up to 20 s) for the server to end c.
	closedByServer := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := io.Copy(io.Discard, c)
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
	t.Run("headers never finished", func(t *testing.T) {
		c, err := net.Dial("tcp", s.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
		if !closedByServer(c) {
			t.Error("a connection stuck in its headers was not closed")
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", s.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !closedByServer(c) {
			t.Error("an idle keep-alive connection was not closed")
		}
	})
	t.Run("reader that stopped reading", func(t *testing.T) {
		c := dialSmallWindow(t, s.addr(), 4096)
		io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		cport, sport := ports(c)
		deadline := time.Now().Add(30 * time.Second)
		for serverSocketOpen(t, sport, cport) {
			if time.Now().After(deadline) {
				t.Fatal("the server still holds a connection whose client has read nothing for 30 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// What the client gets now is what the kernels had buffered, then
		// an error: the response is cut short.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err == nil || n >= bigSize {
			t.Errorf("after the send timeout the client read %d bytes (error %v), want less than the %d of the file and an error", n, err, bigSize)
		}
		checkServes(t, s)
	})
	t.Run("slow reader that keeps reading", func(t *testing.T) {
		// Reads 64 KiB every 200 ms for 3 s (five times the send
		// timeout), then the rest at once: never cut off.
		c := dialSmallWindow(t, s.addr(), smallWindow)
		io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var n int64
		for range 15 {
			m, err := io.CopyN(io.Discard, resp.Body, 64<<10)
			n += m
			if err != nil {
				t.Fatalf("after %d bytes: %v", n, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		m, err := io.Copy(io.Discard, resp.Body)
		n += m
		if err != nil || n != bigSize {
			t.Errorf("a slow but steady reader got %d of %d bytes: %v", n, bigSize, err)
		}
	})
}
