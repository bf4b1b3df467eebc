// Package loadgen is a small, bounded HTTP/1.1 load generator that counts
// every failed request by its cause. The reliability tests run it against a
// server while systemd restarts, kills or reloads it, and assert how many
// requests failed and why.
//
// It speaks HTTP/1.1 itself over net.Conn rather than through
// net/http.Client, whose Transport silently retries an idempotent request
// when a reused keep-alive connection turns out to be closed: exactly the
// failure a restart test must see. Here every request is sent once; a
// failure is counted, never retried.
//
// Two modes:
//   - [PerRequest]: a new connection for each request, sent with
//     "Connection: close" (what wrk -H 'Connection: close' does, and what
//     most scripted clients do).
//   - [KeepAlive]: each client keeps one connection and reuses it for as
//     long as the server keeps it open (a browser, a proxy's upstream pool).
//     A clean end of a connection (the server said "Connection: close") is
//     not a failure: the client reconnects for its next request.
//
// A run is bounded: by [Config.Duration], by [Config.MaxRequests], and by
// the context; it targets loopback addresses only (127.0.0.0/8, ::1).
//
// On Linux a run can send its traffic from another network namespace
// ([Config.Netns], e.g. /proc/PID/ns/net of a test box's systemd): each
// client then runs on an OS thread of its own that joins that namespace
// before opening any socket.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Mode says how clients use connections.
type Mode int

const (
	// PerRequest opens a new connection for each request and sends
	// "Connection: close".
	PerRequest Mode = iota
	// KeepAlive reuses each client's connection for as long as the server
	// keeps it open.
	KeepAlive
)

// String returns "close" or "keepalive", as ParseMode reads them.
func (m Mode) String() string {
	if m == KeepAlive {
		return "keepalive"
	}
	return "close"
}

// ParseMode reads "close" (or "per-request") and "keepalive" (or
// "keep-alive").
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "close", "per-request":
		return PerRequest, nil
	case "keepalive", "keep-alive":
		return KeepAlive, nil
	}
	return 0, fmt.Errorf("loadgen: unknown mode %q: use close (a connection per request) or keepalive", s)
}

// Cause is why a request failed.
type Cause int

// The causes, in the order Result reports them.
const (
	// Refused: connect(2) failed with ECONNREFUSED; nothing listened.
	Refused Cause = iota
	// Reset: the connection was reset (ECONNRESET, or EPIPE on a write).
	Reset
	// EOF: the server closed the connection before sending a byte of the
	// response.
	EOF
	// Truncated: the server closed the connection in the middle of the
	// response (status line, headers or body).
	Truncated
	// Timeout: no complete response within Config.Timeout (connect
	// included).
	Timeout
	// BadStatus: a complete response with another status than
	// Config.Status.
	BadStatus
	// BadBody: a complete response whose body is not Config.Body.
	BadBody
	// Local: the client could not open a connection for a reason of its
	// own (EADDRNOTAVAIL: no ephemeral port left; EMFILE).
	Local
	// Other: anything else, e.g. a malformed response.
	Other
	numCauses
)

var causeNames = [numCauses]string{"refused", "reset", "eof", "truncated", "timeout", "status", "body", "local", "other"}

// String names the cause in one word.
func (c Cause) String() string {
	if c < 0 || c >= numCauses {
		return "cause(" + strconv.Itoa(int(c)) + ")"
	}
	return causeNames[c]
}

// Causes lists every cause, in report order.
func Causes() []Cause {
	cs := make([]Cause, numCauses)
	for i := range cs {
		cs[i] = Cause(i)
	}
	return cs
}

// Defaults of Config.
const (
	DefaultClients = 8
	DefaultTimeout = 10 * time.Second
	DefaultStatus  = http.StatusOK
)

// Config describes a run. URL and at least one of Duration and MaxRequests
// are required.
type Config struct {
	// URL is what every request fetches: http://HOST[:PORT]/PATH, with
	// HOST a loopback IP address or "localhost" (127.0.0.1).
	URL string
	// Mode: PerRequest (default) or KeepAlive.
	Mode Mode
	// Clients is how many clients send requests at once, each waiting for
	// its response before the next request. Default 8.
	Clients int
	// Duration stops the clients from starting new requests after this
	// long. Requests in flight then finish (within Timeout).
	Duration time.Duration
	// MaxRequests stops the run after this many requests in all; 0 means
	// no limit but Duration.
	MaxRequests int64
	// Pause is how long each client waits between two requests; 0 sends
	// them back to back.
	Pause time.Duration
	// Timeout bounds each request, from connect (or reuse) to the last
	// byte of the body. Default 10s.
	Timeout time.Duration
	// Status is the status every response must have. Default 200.
	Status int
	// Body, when not nil, is the body every response must have.
	Body []byte
	// Live, when not nil, counts successes and failures while the run
	// goes on, for a caller that acts on progress (e.g. restarts the
	// server once requests flow).
	Live *Live
	// Netns, when set, is the path of a network namespace
	// (/proc/PID/ns/net) to open every connection in: Linux only, needs
	// CAP_SYS_ADMIN.
	Netns string
}

// Live counts the outcomes of a run as they happen.
type Live struct {
	OK     atomic.Int64
	Failed atomic.Int64
}

// Result counts what happened in a run. Its zero value is an empty run.
type Result struct {
	Mode     Mode
	Requests int64 // requests started (every one ends in OK or a failure)
	OK       int64
	Conns    int64 // connections opened
	Failed   [numCauses]int64
	// First holds the first error seen for each cause, and FirstAt when
	// it happened, for diagnosis.
	First   [numCauses]string
	FirstAt [numCauses]time.Time
	// MaxLatency is the slowest successful request.
	MaxLatency time.Duration
	Elapsed    time.Duration
}

// Failures is the number of failed requests, every cause together.
func (r *Result) Failures() int64 {
	var n int64
	for _, f := range r.Failed {
		n += f
	}
	return n
}

// String summarizes the run on one line, e.g.
// "keepalive: 1200 requests, 1198 ok, 2 failed (reset 2), 9 connections, max latency 210ms in 10s".
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d requests, %d ok, %d failed", r.Mode, r.Requests, r.OK, r.Failures())
	if r.Failures() > 0 {
		var parts []string
		for c, n := range r.Failed {
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", Cause(c), n))
			}
		}
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	fmt.Fprintf(&b, ", %d connections, max latency %v in %v", r.Conns,
		r.MaxLatency.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond))
	return b.String()
}

// Errors lists the first error of each cause seen, one per line, sorted.
func (r *Result) Errors() []string {
	var out []string
	for c, e := range r.First {
		if e != "" {
			out = append(out, fmt.Sprintf("%s (%d): %s", Cause(c), r.Failed[c], e))
		}
	}
	sort.Strings(out)
	return out
}

func (r *Result) add(o *Result) {
	r.Requests += o.Requests
	r.OK += o.OK
	r.Conns += o.Conns
	for c := range r.Failed {
		r.Failed[c] += o.Failed[c]
		if r.FirstAt[c].IsZero() || (!o.FirstAt[c].IsZero() && o.FirstAt[c].Before(r.FirstAt[c])) {
			r.First[c], r.FirstAt[c] = o.First[c], o.FirstAt[c]
		}
	}
	r.MaxLatency = max(r.MaxLatency, o.MaxLatency)
}

func (r *Result) fail(c Cause, err error) {
	r.Failed[c]++
	if r.FirstAt[c].IsZero() {
		r.FirstAt[c] = time.Now()
		if err != nil {
			r.First[c] = err.Error()
		}
	}
}

// target is a checked Config.URL.
type target struct {
	addr    string // ip:port
	request []byte // the request bytes
}

func (cfg *Config) check() (*target, error) {
	if cfg.Duration <= 0 && cfg.MaxRequests <= 0 {
		return nil, errors.New("loadgen: unbounded run: set a duration or a request count")
	}
	if cfg.Duration < 0 || cfg.MaxRequests < 0 || cfg.Clients < 0 || cfg.Pause < 0 || cfg.Timeout < 0 {
		return nil, errors.New("loadgen: negative duration, request count, clients, pause or timeout")
	}
	if cfg.Mode != PerRequest && cfg.Mode != KeepAlive {
		return nil, fmt.Errorf("loadgen: unknown mode %d", cfg.Mode)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("loadgen: URL: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("loadgen: URL %q: only http:// is supported", cfg.URL)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("loadgen: URL %q: the host must be a loopback address (127.0.0.1, ::1 or localhost): load goes to this machine only", cfg.URL)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	path := u.RequestURI()
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gotwistd-loadgen\r\n", path, u.Host)
	if cfg.Mode == PerRequest {
		req.WriteString("Connection: close\r\n")
	}
	req.WriteString("\r\n")
	return &target{addr: net.JoinHostPort(ip.String(), port), request: req.Bytes()}, nil
}

// Run sends requests until Duration has passed, MaxRequests were sent, or
// ctx is done, whichever comes first, then waits for the requests in flight
// and returns the counts. Requests cut short by ctx are not started: ctx
// ends a run cleanly, it does not fail requests. The error is about the
// configuration (or joining Netns), never about a request.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	tg, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if cfg.Clients == 0 {
		cfg.Clients = DefaultClients
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Status == 0 {
		cfg.Status = DefaultStatus
	}
	if cfg.Netns != "" {
		if err := checkNetns(cfg.Netns); err != nil {
			return nil, err
		}
	}
	begin := time.Now()
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, begin.Add(cfg.Duration))
		defer cancel()
	}
	budget := &budget{left: cfg.MaxRequests, limited: cfg.MaxRequests > 0}
	results := make([]*Result, cfg.Clients)
	errs := make([]error, cfg.Clients)
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{cfg: &cfg, tg: tg, res: &Result{}}
			results[i] = c.res
			if cfg.Netns != "" {
				// The thread stays in the namespace: the goroutine
				// exits locked, and the runtime then ends the thread.
				if err := enterNetns(cfg.Netns); err != nil {
					errs[i] = err
					return
				}
			}
			c.run(ctx, budget)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	total := &Result{Mode: cfg.Mode}
	for _, r := range results {
		total.add(r)
	}
	total.Elapsed = time.Since(begin)
	return total, nil
}

// budget hands out MaxRequests.
type budget struct {
	mu      sync.Mutex
	left    int64
	limited bool
}

func (b *budget) take() bool {
	if !b.limited {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 {
		return false
	}
	b.left--
	return true
}

// client sends one request at a time.
type client struct {
	cfg  *Config
	tg   *target
	res  *Result
	conn net.Conn // the kept-alive connection, or nil
	br   *bufio.Reader
	cr   *countingReader
}

func (c *client) run(ctx context.Context, b *budget) {
	defer c.drop()
	var pause *time.Timer
	for ctx.Err() == nil && b.take() {
		c.once()
		if c.cfg.Pause > 0 {
			if pause == nil {
				pause = time.NewTimer(c.cfg.Pause)
			} else {
				pause.Reset(c.cfg.Pause)
			}
			select {
			case <-ctx.Done():
				pause.Stop()
				return
			case <-pause.C:
			}
		}
	}
}

func (c *client) drop() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br, c.cr = nil, nil, nil
	}
}

// once sends one request and reads its response, counting the outcome.
func (c *client) once() {
	c.res.Requests++
	begin := time.Now()
	deadline := begin.Add(c.cfg.Timeout)
	if c.conn == nil {
		d := net.Dialer{Deadline: deadline}
		conn, err := d.Dial("tcp", c.tg.addr)
		if err != nil {
			c.fail(classify(err, false), err)
			return
		}
		c.res.Conns++
		c.conn = conn
		c.cr = &countingReader{r: conn}
		c.br = bufio.NewReader(c.cr)
	}
	keep, cause, err := c.exchange(deadline)
	if err != nil {
		c.drop()
		c.fail(cause, err)
		return
	}
	c.res.OK++
	if c.cfg.Live != nil {
		c.cfg.Live.OK.Add(1)
	}
	c.res.MaxLatency = max(c.res.MaxLatency, time.Since(begin))
	if !keep || c.cfg.Mode == PerRequest {
		c.drop()
	}
}

func (c *client) fail(cause Cause, err error) {
	c.res.fail(cause, err)
	if c.cfg.Live != nil {
		c.cfg.Live.Failed.Add(1)
	}
}

// exchange writes the request on c.conn and reads the whole response. keep
// says whether the server left the connection open for another request.
func (c *client) exchange(deadline time.Time) (keep bool, cause Cause, err error) {
	if err := c.conn.SetDeadline(deadline); err != nil {
		return false, Other, fmt.Errorf("set deadline: %w", err)
	}
	if _, err := c.conn.Write(c.tg.request); err != nil {
		return false, classify(err, false), fmt.Errorf("write request: %w", err)
	}
	c.cr.n, c.cr.eof = int64(c.br.Buffered()), false
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		cause := classify(err, c.cr.n > 0)
		if cause == Other && c.cr.eof {
			// The parser choked on what the end of the connection
			// cut short ("Content-" is a malformed header line).
			cause = Truncated
		}
		if cause == EOF {
			return false, cause, fmt.Errorf("read response: the server closed the connection before answering (%w)", err)
		}
		return false, cause, fmt.Errorf("read response: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, classify(err, true), fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != c.cfg.Status {
		return false, BadStatus, fmt.Errorf("status %q, want %d", resp.Status, c.cfg.Status)
	}
	if c.cfg.Body != nil && !bytes.Equal(body, c.cfg.Body) {
		return false, BadBody, fmt.Errorf("body of %d bytes is not the %d expected", len(body), len(c.cfg.Body))
	}
	return !resp.Close, 0, nil
}

// classify maps an error to its cause. started says whether any byte of
// the response had arrived.
func classify(err error, started bool) Cause {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return Reset
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT),
		errors.As(err, &ne) && ne.Timeout():
		return Timeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if started {
			return Truncated
		}
		return EOF
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EMFILE),
		errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.ENOBUFS):
		return Local
	}
	return Other
}

// countingReader counts the bytes read since n was last set, so that a
// closed connection can be told apart before and during a response.
type countingReader struct {
	r   io.Reader
	n   int64
	eof bool // the connection's end was read
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}
