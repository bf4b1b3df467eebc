// Command h3load is a bounded HTTP/3 load generator for the benchmark: the
// h2load of this machine has no QUIC. It opens N QUIC connections to one
// URL, keeps M requests in flight on each (M streams, each a loop of GET
// requests), stops after a duration, and prints what it measured:
//
//	h3load -c 50 -m 10 -d 5s https://127.0.0.1:8443/small.html
//
// The last line of its output is machine-readable, for ./bench/run:
//
//	H3LOAD requests=N duration_us=N bytes=N errors=N non2xx=N p50_us=N p99_us=N cpu_us=N
//
// bytes counts response bodies only (QPACK-compressed headers are not
// seen by an http.RoundTripper); cpu_us is h3load's own user+system time,
// so a report can say what the client took of the machine. It is built on
// quic-go's http3 client, the library gotwistd's HTTP/3 uses too.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// options is what the command line asks for.
type options struct {
	conns    int
	streams  int
	duration time.Duration
	timeout  time.Duration
	headers  http.Header
	url      string
}

// result is one run's totals.
type result struct {
	requests int64 // completed with any status
	elapsed  time.Duration
	bytes    int64 // response body bytes
	errors   int64 // requests that failed (dial, stream, read, timeout)
	non2xx   int64 // responses that were not 2xx or 3xx
	p50, p99 time.Duration
	cpu      time.Duration // this process's user+system time
	firstErr string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, loads the URL and prints the result; it returns the
// exit code.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err == errVersion {
		fmt.Fprintln(stdout, version())
		return 0
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "h3load: error: %v\n%s", err, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "h3load: %d connections x %d streams for %v: %s\n", o.conns, o.streams, o.duration, o.url)
	res := load(ctx, o)
	res.cpu = selfCPU()
	fmt.Fprint(stdout, formatResult(res))
	if res.requests == 0 {
		return 1
	}
	return 0
}

// errVersion is returned by parseArgs for -version.
var errVersion = errors.New("version requested")

// version names the client and the quic-go it was built with.
func version() string {
	v := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/quic-go/quic-go" {
				v = m.Version
			}
		}
	}
	return "h3load (bench/h3load, quic-go " + v + " http3 client)"
}

const usage = `usage: h3load [-c CONNECTIONS] [-m STREAMS] [-d DURATION] [-t TIMEOUT] [-H 'Name: value']... https://HOST:PORT/PATH
  -c  QUIC connections (default 10)
  -m  requests in flight per connection (default 10)
  -d  how long to load, e.g. 5s (default 5s)
  -t  timeout of one request (default 10s)
  -H  a request header, repeatable
  -version  print the version of h3load's quic-go and exit
The server's certificate is not verified (the bench's is self-signed).
`

// headerFlag collects repeated -H values.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }

func (f *headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("header %q: want 'Name: value'", s)
	}
	f.h.Add(name, strings.TrimSpace(value))
	return nil
}

// parseArgs reads the command line into options.
func parseArgs(args []string) (options, error) {
	fs := flag.NewFlagSet("h3load", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := options{headers: http.Header{}}
	fs.IntVar(&o.conns, "c", 10, "")
	fs.IntVar(&o.streams, "m", 10, "")
	fs.DurationVar(&o.duration, "d", 5*time.Second, "")
	fs.DurationVar(&o.timeout, "t", 10*time.Second, "")
	fs.Var(&headerFlag{o.headers}, "H", "")
	showVersion := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if *showVersion {
		return options{}, errVersion
	}
	if fs.NArg() != 1 {
		return options{}, fmt.Errorf("want exactly one URL, got %d arguments", fs.NArg())
	}
	o.url = fs.Arg(0)
	u, err := url.Parse(o.url)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return options{}, fmt.Errorf("URL %q: want https://HOST:PORT/PATH (HTTP/3 is always over TLS)", o.url)
	}
	if o.conns < 1 || o.streams < 1 {
		return options{}, errors.New("-c and -m must be at least 1")
	}
	if o.duration <= 0 || o.timeout <= 0 {
		return options{}, errors.New("-d and -t must be positive durations, e.g. 5s")
	}
	return o, nil
}

// load runs the load until o.duration has passed or ctx is done. Requests
// cut off by the end of the run are neither counted nor errors.
func load(ctx context.Context, o options) result {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	type worker struct {
		n, bytes, errs, non2xx int64
		lat                    []time.Duration
		firstErr               error
	}
	workers := make([]*worker, o.conns*o.streams)
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < o.conns; c++ {
		// One Transport per connection: it keeps one QUIC connection per host.
		tr := &http3.Transport{
			TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
			QUICConfig:         &quic.Config{MaxIdleTimeout: 30 * time.Second},
			DisableCompression: true, // send only the headers asked for
		}
		defer tr.Close()
		client := &http.Client{Transport: tr, Timeout: o.timeout}
		for s := 0; s < o.streams; s++ {
			w := &worker{}
			workers[c*o.streams+s] = w
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.url, nil)
					if err != nil {
						w.errs++
						w.firstErr = err
						return
					}
					for k, v := range o.headers {
						req.Header[k] = v
					}
					t0 := time.Now()
					resp, err := client.Do(req)
					var n int64
					if err == nil {
						n, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					if ctx.Err() != nil {
						return // cut off by the end of the run
					}
					if err != nil {
						w.errs++
						if w.firstErr == nil {
							w.firstErr = err
						}
						continue
					}
					w.lat = append(w.lat, time.Since(t0))
					w.n++
					w.bytes += n
					if resp.StatusCode >= 400 {
						w.non2xx++
					}
				}
			}()
		}
	}
	wg.Wait()
	res := result{elapsed: time.Since(start)}
	if res.elapsed > o.duration {
		// The workers stop at the deadline; what comes after is teardown.
		res.elapsed = o.duration
	}
	var lat []time.Duration
	for _, w := range workers {
		res.requests += w.n
		res.bytes += w.bytes
		res.errors += w.errs
		res.non2xx += w.non2xx
		lat = append(lat, w.lat...)
		if w.firstErr != nil && res.firstErr == "" {
			res.firstErr = w.firstErr.Error()
		}
	}
	res.p50, res.p99 = percentiles(lat)
	return res
}

// percentiles returns the 50th and 99th percentile of lat (nearest rank).
func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(lat))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return lat[i]
	}
	return rank(0.50), rank(0.99)
}

// formatResult renders the human summary and the machine-readable last line.
func formatResult(r result) string {
	var b strings.Builder
	secs := r.elapsed.Seconds()
	rps := 0.0
	if secs > 0 {
		rps = float64(r.requests) / secs
	}
	fmt.Fprintf(&b, "finished in %.2fs, %.2f req/s, %d body bytes\n", secs, rps, r.bytes)
	fmt.Fprintf(&b, "requests: %d done, %d errors, %d non-2xx/3xx\n", r.requests, r.errors, r.non2xx)
	fmt.Fprintf(&b, "latency: p50 %.3f ms, p99 %.3f ms\n", ms(r.p50), ms(r.p99))
	if secs > 0 {
		fmt.Fprintf(&b, "client CPU: %.2f s (%.0f%% of one core)\n", r.cpu.Seconds(), r.cpu.Seconds()/secs*100)
	}
	if r.firstErr != "" {
		fmt.Fprintf(&b, "first error: %s\n", strings.ReplaceAll(r.firstErr, "\n", " "))
	}
	fmt.Fprintf(&b, "H3LOAD requests=%d duration_us=%d bytes=%d errors=%d non2xx=%d p50_us=%d p99_us=%d cpu_us=%d\n",
		r.requests, r.elapsed.Microseconds(), r.bytes, r.errors, r.non2xx,
		r.p50.Microseconds(), r.p99.Microseconds(), r.cpu.Microseconds())
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// selfCPU returns this process's user+system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
