package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
	"github.com/gotwistd/gotwistd/internal/testcert"
	"github.com/gotwistd/gotwistd/web/h1"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// startOnH1 serves s as gotwistd serves its TLS listeners: web/h1's
// engine on its NewTLSListener, handing the connections whose handshake
// chose "h2" to s, whose event loops can then hold them. It returns the
// address, a client configuration trusting the server, and the h1 server
// (its Shutdown tells s to go away, as web's does).
func startOnH1(t *testing.T, s *Server) (string, *tls.Config, *h1.Server) {
	t.Helper()
	if s.Handler == nil {
		s.Handler = http.HandlerFunc(testHandler)
	}
	cert, err := testcert.New(testcert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &h1.Server{
		Handler:    s.Handler,
		NextProto:  map[string]func(*tls.Conn){"h2": func(c *tls.Conn) { s.ServeConn(c) }},
		OnShutdown: s.GoAway,
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS()}, NextProtos: []string{"h2", "http/1.1"}}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(h1.NewTLSListener(ln, cfg)) }()
	t.Cleanup(func() {
		hs.Close()
		<-done
	})
	return ln.Addr().String(), &tls.Config{RootCAs: cert.Pool(), ServerName: "localhost"}, hs
}

// h2Client is a real HTTP/2 client (one connection) for a server that
// cfg trusts.
func h2Client(cfg *tls.Config) *http.Client {
	tc := cfg.Clone()
	tc.NextProtos = []string{"h2"}
	return &http.Client{Transport: &http2.Transport{TLSClientConfig: tc, DisableCompression: true}, Timeout: 10 * time.Second}
}

// waitParked waits until s has put at least n connections in its loops
// (counting from the start), failing after 5 s.
func waitParked(t *testing.T, s *Server, n int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.loops.parked.Load() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections parked in event loops, want at least %d", s.loops.parked.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// parkedConn serves s on web/h1's TLS listener (startOnH1) and returns a
// raw client connection that made one request and now waits in one of
// s's event loops, with the h1 server.
func parkedConn(t *testing.T, s *Server) (*rawConn, *h1.Server) {
	t.Helper()
	addr, cfg, hs := startOnH1(t, s)
	r := dialRawTo(t, addr, cfg)
	r.headers(1, true, get1...)
	r.until(func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamEnded() })
	waitParked(t, s, 1)
	return r, hs
}

// TestLoopServes: on web/h1's TLS listener, a connection waits in an
// event loop between requests, and every kind of response comes out
// whole: the fast path's (answered by the loop), the handler's (the loop
// hands the connection back to its goroutine first), large bodies, and
// many streams at once.
func TestLoopServes(t *testing.T) {
	s := &Server{Fast: fastFiles{}}
	addr, cfg, _ := startOnH1(t, s)
	c := h2Client(cfg)
	base := "https://" + addr
	const sequential = 30
	for i := range sequential {
		if _, b := get(t, c, "GET", base+"/fast", nil); string(b) != string(fastBody) {
			t.Fatalf("request %d: %q", i, b)
		}
	}
	if got := s.loopTurns(); got < sequential-1 {
		t.Errorf("loops served %d turns over %d requests in turn on one connection: they are not holding it", got, sequential)
	}

	cases := []struct{ method, path, body, want string }{
		{"GET", "/fast", "", string(fastBody)},
		{"POST", "/echo", "posted body", "posted body"},
		{"GET", "/big", "", strings.Repeat("0123456789abcdef", 4096*16)},
		{"HEAD", "/fast", "", ""},
		{"GET", "/nothere", "", "404 page not found\n"},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40*len(cases))
	for i := range 40 {
		for _, tc := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
				resp, err := c.Do(req)
				if err != nil {
					errs <- fmt.Errorf("%d %s %s: %v", i, tc.method, tc.path, err)
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					errs <- fmt.Errorf("%d %s %s: reading: %v", i, tc.method, tc.path, err)
					return
				}
				if string(b) != tc.want {
					errs <- fmt.Errorf("%d %s %s: %d bytes, want %d", i, tc.method, tc.path, len(b), len(tc.want))
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Handed back to its goroutine for the handler's requests, it goes
	// back to a loop afterwards (once its goroutine has nothing to do).
	turns := s.loopTurns()
	for deadline := time.Now().Add(5 * time.Second); s.loopTurns() == turns; {
		if time.Now().After(deadline) {
			t.Fatal("after the handler's requests, no loop served the connection again")
		}
		if _, b := get(t, c, "GET", base+"/fast", nil); string(b) != string(fastBody) {
			t.Fatalf("after the handler's requests: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLoopGoAway: a connection waiting in a loop when the server shuts
// down gets its GOAWAY (naming the last stream served) at once, and the
// shutdown completes.
func TestLoopGoAway(t *testing.T) {
	s := &Server{Fast: fastFiles{}}
	r, hs := parkedConn(t, s)

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- hs.Shutdown(ctx)
	}()
	begin := time.Now()
	r.until(func(f http2.Frame) bool {
		g, ok := f.(*http2.GoAwayFrame)
		if ok && (g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1) {
			t.Errorf("GOAWAY %v last %d, want NO_ERROR last 1", g.ErrCode, g.LastStreamID)
		}
		return ok
	})
	if d := time.Since(begin); d > time.Second {
		t.Errorf("GOAWAY %v after Shutdown began, want at once", d)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	// The loops end with the connections they were for.
	s.loops.mu.Lock()
	loops := append([]*loop(nil), s.loops.all...)
	s.loops.mu.Unlock()
	if len(loops) == 0 {
		t.Fatal("no event loop was made")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		open := 0
		for _, lp := range loops {
			if !lp.isClosed() {
				open++
			}
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d event loops still open 5 s after Shutdown", open, len(loops))
		}
	}
}

// TestLoopIdleTimeout: a connection idle in a loop past IdleTimeout is
// told GOAWAY and closed, as one on its goroutine is.
func TestLoopIdleTimeout(t *testing.T) {
	s := &Server{Fast: fastFiles{}, IdleTimeout: 300 * time.Millisecond}
	r, _ := parkedConn(t, s)
	begin := time.Now()
	r.until(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("GOAWAY after %v idle, want about 300ms (the loops look every second)", d)
	}
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := r.fr.ReadFrame(); err != nil {
			break // closed after the GOAWAY
		}
	}
}

// TestLoopClose: Close of the server closes a connection waiting in a
// loop (the loop gives up the socket first: its number must not be
// reused under it), and the connection's goroutine ends.
func TestLoopClose(t *testing.T) {
	s := &Server{Fast: fastFiles{}}
	r, hs := parkedConn(t, s)
	hs.Close()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, err := r.fr.ReadFrame()
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the connection is still open 5 s after Close")
		}
		break
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still served 5 s after Close", n)
		}
	}
}

// TestLoopIdleAfterLoad loads the loops with bursts of requests sent
// together on several connections at once (so that their looks find
// frames waiting and they poll), then leaves the server idle: in the idle
// window that follows, the process uses next to no CPU. A loop that kept
// polling would use a core.
func TestLoopIdleAfterLoad(t *testing.T) {
	s := &Server{Fast: fastFiles{}}
	addr, cfg, _ := startOnH1(t, s)
	const conns, bursts, depth = 8, 40, 16
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h2Bursts(addr, cfg, slices.Repeat([]int{depth}, bursts)...)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s.loopTurns() == 0 {
		t.Fatal("no loop served the load")
	}

	// The loops poll for at most epoll.PollFor after their last frames;
	// the window starts well after that.
	time.Sleep(50 * time.Millisecond)
	used, elapsed, err := testbin.CPUOver(500 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle after %d requests: %v of CPU time in %v", conns*bursts*depth, used, elapsed.Round(time.Millisecond))
	if used > elapsed/5 {
		t.Errorf("idle after load the process used %v of CPU in %v: an event loop keeps polling", used, elapsed)
	}
}

// TestLoopLargeBurst: a client that sends a thousand requests in one
// write gets every answer: the loop reads a bounded amount per turn and
// hands a connection with that much to answer to its goroutine.
func TestLoopLargeBurst(t *testing.T) {
	// Room for every stream of a burst: fast responses stay open until
	// their bodies are sent, after the burst's frames are read.
	s := &Server{Fast: fastFiles{}, MaxConcurrentStreams: 1000}
	addr, cfg, _ := startOnH1(t, s)
	// Small bursts first: the connection waits in a loop when the large
	// one comes.
	if err := h2Bursts(addr, cfg, 4, 4, 1000, 4, 1000, 4); err != nil {
		t.Fatal(err)
	}
	if s.loopTurns() == 0 {
		t.Error("no loop served the connection")
	}
}

// h2Bursts sends bursts of GET /fast requests (as many in each as depths
// says), each in one write, on one connection, and reads every answer
// before the next burst.
func h2Bursts(addr string, cfg *tls.Config, depths ...int) error {
	tc := cfg.Clone()
	tc.NextProtos = []string{"h2"}
	nc, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	var out bytes.Buffer
	fr := http2.NewFramer(&out, nc)
	out.WriteString(http2.ClientPreface)
	fr.WriteSettings()
	var hb bytes.Buffer
	he := hpack.NewEncoder(&hb)
	id := uint32(1)
	for b, depth := range depths {
		for range depth {
			hb.Reset()
			for i := 0; i+1 < len(get1); i += 2 {
				he.WriteField(hpack.HeaderField{Name: get1[i], Value: get1[i+1]})
			}
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
			id += 2
		}
		if b == 0 {
			fr.WriteSettingsAck() // for the server's SETTINGS, read below
		}
		// Room in the connection's window for this burst's bodies.
		fr.WriteWindowUpdate(0, uint32(depth*len(fastBody)))
		if _, err := nc.Write(out.Bytes()); err != nil {
			return err
		}
		out.Reset()
		for ended := 0; ended < depth; {
			f, err := fr.ReadFrame()
			if err != nil {
				return fmt.Errorf("burst %d, after %d answers: %w", b, ended, err)
			}
			if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
				ended++
			}
		}
	}
	return nil
}
