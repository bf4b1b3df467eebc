// Command fairness loads one URL path over many keep-alive HTTP/1.1
// connections and reports how evenly the server shared itself among them:
// requests per connection, and the latency percentiles and maximum.
//
//	fairness -addr 127.0.0.1:8080 -path /10m.bin -c 50 -d 5s
//
// It exists because wrk cannot tell a server that starves connections from
// a client that does: wrk reads each readable socket until it is empty, so
// on loopback a connection whose receive buffer the kernel has grown large
// gets most of wrk's time, and one whose buffer stayed small waits seconds.
// Here every connection has its own goroutine reading at most -read bytes
// at a time, so a connection that waits long was kept waiting by the
// server. It is a diagnostic for ./bench/run's 10 MB case, not a load
// generator of record.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server `host:port`")
	path := flag.String("path", "/", "request `path`")
	conns := flag.Int("c", 50, "connections")
	dur := flag.Duration("d", 5*time.Second, "how long to send requests")
	readSize := flag.Int("read", 8192, "bytes asked of each read(2)")
	flag.Parse()
	if *conns < 1 || *dur <= 0 || *readSize < 512 || !strings.HasPrefix(*path, "/") {
		fmt.Fprintln(os.Stderr, "fairness: -c must be ≥ 1, -d > 0, -read ≥ 512 and -path start with /")
		os.Exit(2)
	}
	res, err := run(*addr, *path, *conns, *dur, *readSize)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fairness:", err)
		os.Exit(1)
	}
	res.print(os.Stdout)
}

// result is what one run saw.
type result struct {
	perConn   []int           // completed requests of each connection, sorted
	latencies []time.Duration // of every completed request, sorted
	bytes     int64
	elapsed   time.Duration
}

// run opens conns connections to addr and has each GET path in turn until
// d has passed, then waits for the responses under way.
func run(addr, path string, conns int, d time.Duration, readSize int) (*result, error) {
	var (
		mu    sync.Mutex
		res   = &result{perConn: make([]int, conns)}
		first error
		nerr  int
		wg    sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for i := range conns {
		wg.Go(func() {
			lats, n, err := client(addr, path, end, readSize)
			mu.Lock()
			defer mu.Unlock()
			res.perConn[i] = len(lats)
			res.latencies = append(res.latencies, lats...)
			res.bytes += n
			if err != nil {
				if nerr++; first == nil {
					first = fmt.Errorf("connection %d: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if nerr > 1 {
		return nil, fmt.Errorf("%w (and %d other connections failed)", first, nerr-1)
	}
	if first != nil {
		return nil, first
	}
	slices.Sort(res.perConn)
	slices.Sort(res.latencies)
	return res, nil
}

// client is one connection: requests until end, each response read to its
// last byte, readSize bytes at most per read, before the next request goes
// out.
func client(addr, path string, end time.Time, readSize int) ([]time.Duration, int64, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	defer nc.Close()
	br := bufio.NewReaderSize(nc, readSize)
	buf := make([]byte, readSize)
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	var lats []time.Duration
	var total int64
	for time.Now().Before(end) {
		t := time.Now()
		if _, err := io.WriteString(nc, req); err != nil {
			return lats, total, err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return lats, total, fmt.Errorf("response: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return lats, total, fmt.Errorf("response %q: want 200", resp.Status)
		}
		n, err := drain(resp.Body, buf)
		resp.Body.Close()
		total += n
		if err != nil {
			return lats, total, fmt.Errorf("body: %w", err)
		}
		if resp.Close {
			return lats, total, errors.New("the server closed the connection after a response")
		}
		lats = append(lats, time.Since(t))
	}
	return lats, total, nil
}

// drain reads r to its end through buf, so each read asks for len(buf)
// bytes (io.Copy to io.Discard would pick its own size), and returns the
// bytes read.
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// print writes the summary.
func (r *result) print(w io.Writer) {
	n := len(r.latencies)
	if n == 0 {
		fmt.Fprintln(w, "no request completed")
		return
	}
	pct := func(p float64) time.Duration { return r.latencies[min(n-1, int(p*float64(n)))] }
	ms := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', 1, 64) }
	fmt.Fprintf(w, "requests %d in %s, %.2f GB/s\n", n, r.elapsed.Round(time.Millisecond),
		float64(r.bytes)/r.elapsed.Seconds()/1e9)
	fmt.Fprintf(w, "latency ms: p50 %s  p90 %s  p99 %s  max %s\n", ms(pct(0.50)), ms(pct(0.90)), ms(pct(0.99)), ms(r.latencies[n-1]))
	fmt.Fprintf(w, "requests per connection: min %d  median %d  max %d\n",
		r.perConn[0], r.perConn[len(r.perConn)/2], r.perConn[len(r.perConn)-1])
}
