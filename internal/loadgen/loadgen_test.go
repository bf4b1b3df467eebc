package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const page = "<html>hello</html>\n"

// serveHTTP serves page on a real loopback listener with net/http.
func serveHTTP(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/index.html"
}

func pageHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/index.html" {
		http.NotFound(w, r)
		return
	}
	io.WriteString(w, page)
}

// serveRaw accepts connections on a loopback listener and hands each to
// handle, which owns it.
func serveRaw(t *testing.T, handle func(c *net.TCPConn, br *bufio.Reader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c.(*net.TCPConn), bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + l.Addr().String() + "/"
}

// readRequest reads one request's head; false when the client went away.
func readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	req.Body.Close()
	return true
}

func TestRunCountsSuccesses(t *testing.T) {
	url := serveHTTP(t, pageHandler)
	tests := []struct {
		name     string
		mode     Mode
		minConns int64 // connections opened for the 200 requests
		maxConns int64
	}{
		{"per request", PerRequest, 200, 200},
		// Each client keeps its connection, but how the 200 requests
		// spread over the 4 clients is the scheduler's: a client that
		// starts late may find the budget spent and open none.
		{"keep-alive", KeepAlive, 1, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := &Live{}
			res, err := Run(context.Background(), Config{
				URL: url, Mode: tt.mode, Clients: 4, MaxRequests: 200, Body: []byte(page), Live: live,
			})
			if err != nil {
				t.Fatal(err)
			}
			if live.OK.Load() != 200 || live.Failed.Load() != 0 {
				t.Errorf("Live: %d ok, %d failed, want 200, 0", live.OK.Load(), live.Failed.Load())
			}
			if res.Requests != 200 || res.OK != 200 || res.Failures() != 0 {
				t.Errorf("%v\n%s", res, strings.Join(res.Errors(), "\n"))
			}
			if res.Conns < tt.minConns || res.Conns > tt.maxConns {
				t.Errorf("%d connections, want %d to %d", res.Conns, tt.minConns, tt.maxConns)
			}
			if res.Mode != tt.mode {
				t.Errorf("Mode = %v, want %v", res.Mode, tt.mode)
			}
		})
	}
}

// TestRunSendsOneWellFormedRequest checks the bytes a server sees.
func TestRunSendsOneWellFormedRequest(t *testing.T) {
	tests := []struct {
		mode      Mode
		wantClose bool
	}{
		{PerRequest, true},
		{KeepAlive, false},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			got := make(chan *http.Request, 1)
			url := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
				got <- r
				io.WriteString(w, page)
			})
			res, err := Run(context.Background(), Config{URL: url, Mode: tt.mode, Clients: 1, MaxRequests: 1})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != 1 {
				t.Fatalf("%v: %v", res, res.Errors())
			}
			r := <-got
			if r.Method != "GET" || r.URL.Path != "/index.html" || r.Proto != "HTTP/1.1" || r.Close != tt.wantClose {
				t.Errorf("server got %s %s %s close=%v, want GET /index.html HTTP/1.1 close=%v", r.Method, r.URL, r.Proto, r.Close, tt.wantClose)
			}
			if !strings.HasPrefix(r.Host, "127.0.0.1:") {
				t.Errorf("Host: %q", r.Host)
			}
		})
	}
}

// TestRunClassifiesFailures drives every cause with a real misbehaving
// server and checks each request is counted under it, and nowhere else.
func TestRunClassifiesFailures(t *testing.T) {
	refusedURL := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/"
	}
	respond := func(raw string) func(*testing.T) string {
		return func(t *testing.T) string {
			return serveRaw(t, func(c *net.TCPConn, br *bufio.Reader) {
				if readRequest(br) {
					io.WriteString(c, raw)
				}
			})
		}
	}
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		timeout time.Duration
		want    []Cause // any of these
	}{
		{"nothing listens", refusedURL, 0, []Cause{Refused}},
		{"reset after the request", func(t *testing.T) string {
			return serveRaw(t, func(c *net.TCPConn, br *bufio.Reader) {
				if readRequest(br) {
					c.SetLinger(0)
				}
			})
		}, 0, []Cause{Reset}},
		{"closed before the response", func(t *testing.T) string {
			return serveRaw(t, func(c *net.TCPConn, br *bufio.Reader) { readRequest(br) })
		}, 0, []Cause{EOF}},
		{"closed in the status line", respond("HTTP/1.1 2"), 0, []Cause{Truncated}},
		{"closed in the headers", respond("HTTP/1.1 200 OK\r\nContent-"), 0, []Cause{Truncated}},
		{"closed in the body", respond("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<html>"), 0, []Cause{Truncated}},
		{"no answer", func(t *testing.T) string {
			return serveRaw(t, func(c *net.TCPConn, br *bufio.Reader) {
				readRequest(br)
				io.Copy(io.Discard, br) // until the client gives up
			})
		}, 100 * time.Millisecond, []Cause{Timeout}},
		{"not found", respond("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), 0, []Cause{BadStatus}},
		{"another body", respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), 0, []Cause{BadBody}},
		{"not HTTP", respond("SSH-2.0-OpenSSH\r\n\r\n"), 0, []Cause{Other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Config{
				URL: tt.url(t), Clients: 2, MaxRequests: 6, Timeout: tt.timeout, Body: []byte(page),
			})
			if err != nil {
				t.Fatal(err)
			}
			var in int64
			for _, c := range tt.want {
				in += res.Failed[c]
			}
			if res.Requests != 6 || res.OK != 0 || in != 6 {
				t.Errorf("%v, want all 6 failed as %v\n%s", res, tt.want, strings.Join(res.Errors(), "\n"))
			}
			for _, c := range tt.want {
				if res.Failed[c] > 0 && res.First[c] == "" {
					t.Errorf("no first error recorded for %v", c)
				}
			}
		})
	}
}

// TestKeepAliveReuseFailures is the restart case without a handover: the
// server closes a kept-alive connection between two requests without
// saying so. The client does not retry: the second request on each
// connection fails, as EOF or reset, and the next one reconnects.
func TestKeepAliveReuseFailures(t *testing.T) {
	url := serveRaw(t, func(c *net.TCPConn, br *bufio.Reader) {
		if readRequest(br) {
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(page), page)
		}
	})
	res, err := Run(context.Background(), Config{URL: url, Mode: KeepAlive, Clients: 1, MaxRequests: 10, Body: []byte(page)})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 5 || res.Failed[EOF]+res.Failed[Reset] != 5 || res.Failures() != 5 || res.Conns != 5 {
		t.Errorf("%v, want 5 ok and 5 failed (eof or reset) on 5 connections\n%s", res, strings.Join(res.Errors(), "\n"))
	}
}

// TestKeepAliveServerClose: a server that says "Connection: close" ends a
// connection cleanly; nothing fails, every request gets a connection.
func TestKeepAliveServerClose(t *testing.T) {
	url := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, page)
	})
	res, err := Run(context.Background(), Config{URL: url + "?x=1", Mode: KeepAlive, Clients: 2, MaxRequests: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 20 || res.Failures() != 0 || res.Conns != 20 {
		t.Errorf("%v\n%s", res, strings.Join(res.Errors(), "\n"))
	}
}

// TestRunStopsCleanly: the end of the context (or of Duration) stops new
// requests and fails none.
func TestRunStopsCleanly(t *testing.T) {
	t.Run("context", func(t *testing.T) {
		var mu sync.Mutex
		served := 0
		busy := make(chan struct{})
		url := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			served++
			if served == 20 {
				close(busy)
			}
			mu.Unlock()
			io.WriteString(w, page)
		})
		ctx, cancel := context.WithCancel(context.Background())
		var res *Result
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			res, err = Run(ctx, Config{URL: url, Mode: KeepAlive, Clients: 4, Duration: time.Hour})
		}()
		<-busy
		cancel()
		<-done
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests < 20 || res.Failures() != 0 || res.OK != res.Requests {
			t.Errorf("%v\n%s", res, strings.Join(res.Errors(), "\n"))
		}
	})
	url := serveHTTP(t, pageHandler)
	t.Run("duration", func(t *testing.T) {
		res, err := Run(context.Background(), Config{URL: url, Clients: 2, Duration: 50 * time.Millisecond, Pause: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Failures() != 0 {
			t.Errorf("%v\n%s", res, strings.Join(res.Errors(), "\n"))
		}
	})
}

// TestConfigErrors: a bad configuration is refused before any request,
// with a message naming the problem.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unbounded", Config{URL: "http://127.0.0.1:1/"}, "unbounded run"},
		{"not loopback", Config{URL: "http://10.0.0.1/", MaxRequests: 1}, "loopback"},
		{"host name", Config{URL: "http://example.com/", MaxRequests: 1}, "loopback"},
		{"https", Config{URL: "https://127.0.0.1/", MaxRequests: 1}, "only http://"},
		{"negative", Config{URL: "http://127.0.0.1/", MaxRequests: 1, Clients: -1}, "negative"},
		{"bad mode", Config{URL: "http://127.0.0.1/", MaxRequests: 1, Mode: 7}, "unknown mode"},
		{"bad netns", Config{URL: "http://127.0.0.1/", MaxRequests: 1, Netns: "/nonexistent/ns/net"}, "network namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, %v; want an error containing %q", res, err, tt.want)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"close", PerRequest, true},
		{"per-request", PerRequest, true},
		{"keepalive", KeepAlive, true},
		{"Keep-Alive", KeepAlive, true},
		{"pipeline", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMode(tt.in)
			if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
				t.Errorf("ParseMode(%q) = %v, %v", tt.in, got, err)
			}
			if tt.ok {
				if back, _ := ParseMode(got.String()); back != got {
					t.Errorf("ParseMode(%v.String()) = %v", got, back)
				}
			}
		})
	}
}

func TestResultString(t *testing.T) {
	r := &Result{Mode: KeepAlive, Requests: 10, OK: 7, Conns: 3, MaxLatency: 12 * time.Millisecond, Elapsed: time.Second}
	r.fail(Reset, fmt.Errorf("read: connection reset by peer"))
	r.fail(Reset, nil)
	r.fail(EOF, io.EOF)
	want := "keepalive: 10 requests, 7 ok, 3 failed (reset 2, eof 1), 3 connections, max latency 12ms in 1s"
	if got := r.String(); got != want {
		t.Errorf("String() = %q\nwant        %q", got, want)
	}
	errs := r.Errors()
	if len(errs) != 2 || errs[0] != "eof (1): EOF" || errs[1] != "reset (2): read: connection reset by peer" {
		t.Errorf("Errors() = %q", errs)
	}
}
