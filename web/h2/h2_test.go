package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/web/fast"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fastBody is what the test FastHandler answers /fast with.
var fastBody = []byte(strings.Repeat("fast!", 40))

// fastFiles answers GET and HEAD of /fast from memory.
type fastFiles struct{}

func (fastFiles) ServeFast(r *fast.Request) (fast.Response, bool) {
	if r.Path() != "/fast" || !r.Plain() {
		return fast.Response{}, false
	}
	return fast.Response{Header: []byte(fmt.Sprintf("Content-Length: %d\r\nContent-Type: text/plain\r\nEtag: \"x\"\r\n", len(fastBody))), Body: fastBody}, true
}

// testHandler answers what fastFiles declines.
func testHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/fast":
		w.Header().Set("X-Path", "handler")
		io.WriteString(w, "handler:"+string(fastBody))
	case "/echo":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(b)
	case "/big":
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
		for range 16 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	case "/nocontent":
		w.WriteHeader(http.StatusNoContent)
	case "/panic":
		panic("test panic")
	case "/block":
		<-r.Context().Done()
	default:
		http.NotFound(w, r)
	}
}

// start serves handler over TLS with the engine, as web does.
func start(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	if s.Handler == nil {
		s.Handler = http.HandlerFunc(testHandler)
	}
	hs := httptest.NewUnstartedServer(s.Handler)
	s.ConfigureServer(hs.Config)
	hs.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return hs
}

// client is a real HTTP/2 client (golang.org/x/net/http2) for hs.
func client(hs *httptest.Server) *http.Client {
	tc := hs.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tc.NextProtos = []string{"h2"}
	// No Accept-Encoding: requests with one are not for the fast path.
	return &http.Client{Transport: &http2.Transport{TLSClientConfig: tc, DisableCompression: true}, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, method, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("%s %s: %s, want HTTP/2", method, url, resp.Proto)
	}
	return resp, b
}

// TestResponses: what a real client gets, from the fast path and the
// handler.
func TestResponses(t *testing.T) {
	hs := start(t, &Server{Fast: fastFiles{}})
	c := client(hs)
	big := bytes.Repeat([]byte("0123456789abcdef"), 4096*16)
	upload := bytes.Repeat([]byte("u"), 300<<10) // beyond every default window
	cases := []struct {
		name, method, path string
		body               []byte
		reqHeader          map[string]string
		status             int
		want               []byte
		header             map[string]string
	}{
		{"fast GET", "GET", "/fast", nil, nil, 200, fastBody,
			map[string]string{"Content-Length": "200", "Content-Type": "text/plain", "Etag": `"x"`, "X-Path": ""}},
		{"fast HEAD", "HEAD", "/fast", nil, nil, 200, nil, map[string]string{"Content-Length": "200"}},
		{"precondition goes to the handler", "GET", "/fast", nil, map[string]string{"If-None-Match": `"x"`}, 200,
			append([]byte("handler:"), fastBody...), map[string]string{"X-Path": "handler"}},
		{"handler, sniffed type and length", "GET", "/nothere", nil, nil, 404, []byte("404 page not found\n"),
			map[string]string{"Content-Type": "text/plain; charset=utf-8", "Content-Length": "19"}},
		{"handler, 1 MiB streamed", "GET", "/big", nil, nil, 200, big, nil},
		{"request body beyond the windows", "POST", "/echo", upload, nil, 200, upload, nil},
		{"204 has no body", "GET", "/nocontent", nil, nil, 204, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, hs.URL+tc.path, body)
			for k, v := range tc.reqHeader {
				req.Header.Set(k, v)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("body %d bytes %.40q, want %d bytes %.40q", len(got), got, len(tc.want), tc.want)
			}
			for k, v := range tc.header {
				if g := resp.Header.Get(k); g != v {
					t.Errorf("%s: %q, want %q", k, g, v)
				}
			}
			if resp.Header.Get("Date") == "" {
				t.Error("no Date header")
			}
		})
	}
}

// TestConcurrentStreams: many requests at once on one connection, both
// paths, all answered whole.
func TestConcurrentStreams(t *testing.T) {
	hs := start(t, &Server{Fast: fastFiles{}})
	c := client(hs)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/fast"
			if i%4 == 0 {
				path = "/big"
			}
			resp, err := c.Get(hs.URL + path)
			if err != nil {
				errs <- err
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || (path == "/fast" && n != int64(len(fastBody))) || (path == "/big" && n != 1<<20) {
				errs <- fmt.Errorf("%s: status %d, %d bytes, %v", path, resp.StatusCode, n, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// rawConn is a hand-driven HTTP/2 client for protocol cases.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	fr *http2.Framer
	hb bytes.Buffer
	he *hpack.Encoder
}

func dialRaw(t *testing.T, hs *httptest.Server, settings ...http2.Setting) *rawConn {
	t.Helper()
	return dialRawTo(t, hs.Listener.Addr().String(), hs.Client().Transport.(*http.Transport).TLSClientConfig, settings...)
}

// dialRawTo is dialRaw for a server at addr that cfg trusts.
func dialRawTo(t *testing.T, addr string, cfg *tls.Config, settings ...http2.Setting) *rawConn {
	t.Helper()
	tc := cfg.Clone()
	tc.NextProtos = []string{"h2"}
	nc, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := &rawConn{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	r.fr.AllowIllegalWrites = true
	r.he = hpack.NewEncoder(&r.hb)
	io.WriteString(nc, http2.ClientPreface)
	r.fr.WriteSettings(settings...)
	return r
}

// headers sends a request's HEADERS on stream id.
func (r *rawConn) headers(id uint32, end bool, fields ...string) {
	r.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		r.he.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.hb.Bytes(), EndStream: end, EndHeaders: true}); err != nil {
		r.t.Fatal(err)
	}
}

// until reads frames until match returns true, failing after 5 s; it
// returns the frames read.
func (r *rawConn) until(match func(http2.Frame) bool) []http2.Frame {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var seen []http2.Frame
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("after %v: %v", seen, err)
		}
		seen = append(seen, f)
		if match(f) {
			return seen
		}
	}
}

var get1 = []string{":method", "GET", ":scheme", "https", ":authority", "x", ":path", "/fast"}

// TestFlowControl: a client with a 10-byte stream window gets 10 bytes,
// then the rest once it opens the window.
func TestFlowControl(t *testing.T) {
	hs := start(t, &Server{Fast: fastFiles{}})
	r := dialRaw(t, hs, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	r.headers(1, true, get1...)
	var got int
	r.until(func(f http2.Frame) bool {
		if d, ok := f.(*http2.DataFrame); ok {
			got += len(d.Data())
		}
		return got == 10
	})
	// Nothing more until the window opens: a PING's answer comes first.
	r.fr.WritePing(false, [8]byte{1})
	for _, f := range r.until(func(f http2.Frame) bool { _, ok := f.(*http2.PingFrame); return ok }) {
		if _, ok := f.(*http2.DataFrame); ok {
			t.Fatal("DATA beyond the stream window")
		}
	}
	r.fr.WriteWindowUpdate(1, 1000)
	r.until(func(f http2.Frame) bool {
		if d, ok := f.(*http2.DataFrame); ok {
			got += len(d.Data())
			return d.StreamEnded()
		}
		return false
	})
	if got != len(fastBody) {
		t.Errorf("got %d bytes, want %d", got, len(fastBody))
	}
}

// TestProtocolErrors: malformed input ends the stream or the connection
// with the code RFC 9113 gives.
func TestProtocolErrors(t *testing.T) {
	hs := start(t, &Server{Fast: fastFiles{}})
	cases := []struct {
		name   string
		send   func(r *rawConn)
		goAway bool // a connection error; else RST_STREAM on stream 1
		code   http2.ErrCode
	}{
		{"even stream", func(r *rawConn) { r.headers(2, true, get1...) }, true, http2.ErrCodeProtocol},
		{"DATA on stream 0", func(r *rawConn) { r.fr.WriteData(0, true, []byte("x")) }, true, http2.ErrCodeProtocol},
		{"DATA on an idle stream", func(r *rawConn) { r.fr.WriteData(5, true, []byte("x")) }, true, http2.ErrCodeProtocol},
		{"PING of 4 bytes", func(r *rawConn) { r.fr.WriteRawFrame(http2.FramePing, 0, 0, []byte{1, 2, 3, 4}) }, true, http2.ErrCodeFrameSize},
		{"bad HPACK", func(r *rawConn) {
			r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff}, EndStream: true, EndHeaders: true})
		}, true, http2.ErrCodeCompression},
		{"frame too large", func(r *rawConn) { r.fr.WriteRawFrame(http2.FrameData, 0, 1, make([]byte, 20000)) }, true, http2.ErrCodeFrameSize},
		{"CONTINUATION without HEADERS", func(r *rawConn) { r.fr.WriteContinuation(1, true, []byte{0x82}) }, true, http2.ErrCodeProtocol},
		{"upper-case field name", func(r *rawConn) { r.headers(1, true, append(get1, "X-Up", "1")...) }, false, http2.ErrCodeProtocol},
		{"connection-specific field", func(r *rawConn) { r.headers(1, true, append(get1, "connection", "close")...) }, false, http2.ErrCodeProtocol},
		{"no :path", func(r *rawConn) { r.headers(1, true, ":method", "GET", ":scheme", "https") }, false, http2.ErrCodeProtocol},
		{"pseudo-header after a field", func(r *rawConn) {
			r.headers(1, true, ":method", "GET", ":scheme", "https", "x", "y", ":path", "/")
		}, false, http2.ErrCodeProtocol},
		{"content-length not matching the body", func(r *rawConn) {
			r.headers(1, false, ":method", "POST", ":scheme", "https", ":path", "/echo", "content-length", "3")
			r.fr.WriteData(1, true, []byte("x"))
		}, false, http2.ErrCodeProtocol},
		{"TE other than trailers", func(r *rawConn) { r.headers(1, true, append(get1, "te", "gzip")...) }, false, http2.ErrCodeProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, hs)
			tc.send(r)
			r.until(func(f http2.Frame) bool {
				switch f := f.(type) {
				case *http2.GoAwayFrame:
					if !tc.goAway || f.ErrCode != tc.code {
						t.Errorf("GOAWAY %v, want %v (connection error: %v)", f.ErrCode, tc.code, tc.goAway)
					}
					return true
				case *http2.RSTStreamFrame:
					if tc.goAway || f.ErrCode != tc.code {
						t.Errorf("RST_STREAM %v, want %v (connection error: %v)", f.ErrCode, tc.code, tc.goAway)
					}
					return true
				case *http2.HeadersFrame:
					t.Errorf("a response to a malformed request")
					return true
				}
				return false
			})
		})
	}
}

// TestPanicResets: a handler's panic resets its stream only.
func TestPanicResets(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	hs := start(t, &Server{Fast: fastFiles{}, ErrorLog: newLogger(&logs, &mu)})
	r := dialRaw(t, hs)
	r.headers(1, true, ":method", "GET", ":scheme", "https", ":path", "/panic")
	r.until(func(f http2.Frame) bool {
		rst, ok := f.(*http2.RSTStreamFrame)
		if ok && rst.ErrCode != http2.ErrCodeInternal {
			t.Errorf("RST_STREAM %v, want INTERNAL_ERROR", rst.ErrCode)
		}
		return ok
	})
	r.headers(3, true, ":method", "GET", ":scheme", "https", ":authority", "x", ":path", "/fast")
	r.until(func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamEnded() })
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "test panic") {
		t.Errorf("the panic was not logged: %q", logs.String())
	}
}

// TestRefusedStreams: streams beyond MaxConcurrentStreams are refused,
// and a client that keeps opening them is sent away.
func TestRefusedStreams(t *testing.T) {
	hs := start(t, &Server{MaxConcurrentStreams: 2})
	r := dialRaw(t, hs)
	block := []string{":method", "GET", ":scheme", "https", ":path", "/block"}
	r.headers(1, true, block...)
	r.headers(3, true, block...)
	r.headers(5, true, block...)
	r.until(func(f http2.Frame) bool {
		rst, ok := f.(*http2.RSTStreamFrame)
		if ok && (rst.StreamID != 5 || rst.ErrCode != http2.ErrCodeRefusedStream) {
			t.Errorf("RST_STREAM %v on %d, want REFUSED_STREAM on 5", rst.ErrCode, rst.StreamID)
		}
		return ok
	})
	// Resetting a stream does not free its place while its handler runs
	// on: the refusals go on, until the connection is ended. Frames are
	// read on the side: the server may close while they are written.
	goAway := make(chan http2.ErrCode, 1)
	go func() {
		for {
			f, err := r.fr.ReadFrame()
			if err != nil {
				close(goAway)
				return
			}
			if g, ok := f.(*http2.GoAwayFrame); ok {
				goAway <- g.ErrCode
				return
			}
		}
	}()
	id := uint32(7)
	for range maxRefused + 10 {
		r.fr.WriteRSTStream(1, http2.ErrCodeCancel)
		r.hb.Reset()
		for i := 0; i+1 < len(block); i += 2 {
			r.he.WriteField(hpack.HeaderField{Name: block[i], Value: block[i+1]})
		}
		if r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.hb.Bytes(), EndStream: true, EndHeaders: true}) != nil {
			break
		}
		id += 2
	}
	select {
	case code, ok := <-goAway:
		if !ok || code != http2.ErrCodeEnhanceYourCalm {
			t.Errorf("GOAWAY %v (received: %v), want ENHANCE_YOUR_CALM", code, ok)
		}
	case <-time.After(5 * time.Second):
		t.Error("no GOAWAY")
	}
}

// TestShutdown: Shutdown lets a running request finish, tells the client
// to go away, and returns.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	})
	hs := start(t, &Server{Handler: handler})
	r := dialRaw(t, hs)
	r.headers(1, true, ":method", "GET", ":scheme", "https", ":path", "/")
	r.fr.WritePing(false, [8]byte{})
	r.until(func(f http2.Frame) bool { p, ok := f.(*http2.PingFrame); return ok && p.IsAck() })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- hs.Config.Shutdown(ctx)
	}()
	r.until(func(f http2.Frame) bool {
		g, ok := f.(*http2.GoAwayFrame)
		if ok && (g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1) {
			t.Errorf("GOAWAY %v last %d, want NO_ERROR last 1", g.ErrCode, g.LastStreamID)
		}
		return ok
	})
	close(release)
	r.until(func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamEnded() })
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestIdleTimeout: a connection without streams is closed after
// IdleTimeout, with a GOAWAY.
func TestIdleTimeout(t *testing.T) {
	hs := start(t, &Server{Fast: fastFiles{}, IdleTimeout: 200 * time.Millisecond})
	r := dialRaw(t, hs)
	r.headers(1, true, get1...)
	r.until(func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamEnded() })
	begin := time.Now()
	r.until(func(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok })
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("GOAWAY after %v, want about 200ms", d)
	}
}

// newLogger is a logger writing to b under mu.
func newLogger(b *bytes.Buffer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{b, mu}, nil))
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestBodyAfterResponse: a request body still arriving after its response
// was sent whole is checked, then refused without error.
func TestBodyAfterResponse(t *testing.T) {
	hs := start(t, &Server{Fast: fastFiles{}})
	post := []string{":method", "POST", ":scheme", "https", ":path", "/nothere", "content-length", "3"}
	for _, tc := range []struct {
		name string
		data []byte
		code http2.ErrCode
	}{
		{"more body: not wanted", []byte("ab"), http2.ErrCodeNo},
		{"longer than its Content-Length", []byte("abcd"), http2.ErrCodeProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, hs)
			r.headers(1, false, post...)
			// The handler answers 404 without reading the body.
			r.until(func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamEnded() })
			r.fr.WriteData(1, false, tc.data)
			r.until(func(f http2.Frame) bool {
				rst, ok := f.(*http2.RSTStreamFrame)
				if ok && rst.ErrCode != tc.code {
					t.Errorf("RST_STREAM %v, want %v", rst.ErrCode, tc.code)
				}
				return ok
			})
		})
	}
}

// watchFiles is fastFiles with a Watcher whose Refresh calls are counted,
// and which records whether requests came Watched.
type watchFiles struct {
	mu        sync.Mutex
	refreshes int
	watched   []bool
}

func (w *watchFiles) WatchFD() int { return 0 } // any descriptor: only Refresh is called

func (w *watchFiles) Refresh() {
	w.mu.Lock()
	w.refreshes++
	w.mu.Unlock()
}

func (w *watchFiles) ServeFast(r *fast.Request) (fast.Response, bool) {
	w.mu.Lock()
	w.watched = append(w.watched, r.Watched)
	w.mu.Unlock()
	return fastFiles{}.ServeFast(r)
}

// TestWatcher: requests a Watcher's handler answers come Watched, after
// at least one Refresh, and at most one Refresh per request.
func TestWatcher(t *testing.T) {
	w := &watchFiles{}
	hs := start(t, &Server{Fast: w})
	r := dialRaw(t, hs)
	for id := uint32(1); id <= 9; id += 2 {
		r.headers(id, true, get1...)
	}
	ended := 0
	r.until(func(f http2.Frame) bool {
		if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
			ended++
		}
		return ended == 5
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refreshes < 1 || w.refreshes > 5 {
		t.Errorf("%d Refresh calls for 5 requests, want 1 to 5", w.refreshes)
	}
	if fmt.Sprint(w.watched) != "[true true true true true]" {
		t.Errorf("Watched %v, want all true", w.watched)
	}
}

// countingFiles is fastFiles counting the requests it is offered, and
// keeping a copy of the last.
type countingFiles struct {
	mu      sync.Mutex
	offered int
	last    fast.Request
}

func (f *countingFiles) ServeFast(r *fast.Request) (fast.Response, bool) {
	f.mu.Lock()
	f.offered++
	f.last = *r
	f.last.Method, f.last.Target = strings.Clone(r.Method), strings.Clone(r.Target) // valid only during the call
	f.last.Referer, f.last.UserAgent = strings.Clone(r.Referer), strings.Clone(r.UserAgent)
	f.last.Origin, f.last.AcceptEncoding = strings.Clone(r.Origin), strings.Clone(r.AcceptEncoding)
	f.mu.Unlock()
	return fastFiles{}.ServeFast(r)
}

// outcome sends a request's HEADERS on a fresh connection and says how
// stream 1 ended: "RST_STREAM code", "GOAWAY code" or "HEADERS status".
func outcome(t *testing.T, hs *httptest.Server, end bool, fields []string) string {
	r := dialRaw(t, hs)
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.headers(1, end, fields...)
	var got string
	r.until(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			got = "RST_STREAM " + f.ErrCode.String()
		case *http2.GoAwayFrame:
			got = "GOAWAY " + f.ErrCode.String()
		case *http2.MetaHeadersFrame:
			got = "HEADERS " + f.PseudoValue("status")
		}
		return got != ""
	})
	return got
}

// TestMalformedOnBothPaths: a malformed request is refused the same way
// whether it asks for a file the FastHandler holds or for the Handler,
// and the FastHandler never sees it: both paths share one validation.
func TestMalformedOnBothPaths(t *testing.T) {
	ff := &countingFiles{}
	hs := start(t, &Server{Fast: ff, MaxHeaderBytes: 4096})
	big := strings.Repeat("b", 2000)
	pseudo := func(path string) []string {
		return []string{":method", "GET", ":scheme", "https", ":authority", "x", ":path", path}
	}
	cases := []struct {
		name   string
		end    bool // END_STREAM on the HEADERS
		fields func(path string) []string
		want   string
	}{
		{"upper-case field name", true, func(p string) []string { return append(pseudo(p), "X-Up", "1") }, "RST_STREAM PROTOCOL_ERROR"},
		{"connection", true, func(p string) []string { return append(pseudo(p), "connection", "close") }, "RST_STREAM PROTOCOL_ERROR"},
		{"keep-alive", true, func(p string) []string { return append(pseudo(p), "keep-alive", "5") }, "RST_STREAM PROTOCOL_ERROR"},
		{"proxy-connection", true, func(p string) []string { return append(pseudo(p), "proxy-connection", "x") }, "RST_STREAM PROTOCOL_ERROR"},
		{"transfer-encoding", true, func(p string) []string { return append(pseudo(p), "transfer-encoding", "chunked") }, "RST_STREAM PROTOCOL_ERROR"},
		{"upgrade", true, func(p string) []string { return append(pseudo(p), "upgrade", "h2c") }, "RST_STREAM PROTOCOL_ERROR"},
		{"te other than trailers", true, func(p string) []string { return append(pseudo(p), "te", "gzip") }, "RST_STREAM PROTOCOL_ERROR"},
		{"NUL in a value", true, func(p string) []string { return append(pseudo(p), "user-agent", "a\x00b") }, "RST_STREAM PROTOCOL_ERROR"},
		{"newline in a value", true, func(p string) []string { return append(pseudo(p), "referer", "a\nb") }, "RST_STREAM PROTOCOL_ERROR"},
		{"content-length without a body", true, func(p string) []string { return append(pseudo(p), "content-length", "5") }, "RST_STREAM PROTOCOL_ERROR"},
		{"content-length not a number", true, func(p string) []string { return append(pseudo(p), "content-length", "x") }, "RST_STREAM PROTOCOL_ERROR"},
		{"two content-lengths", true, func(p string) []string {
			return append(pseudo(p), "content-length", "0", "content-length", "1")
		}, "RST_STREAM PROTOCOL_ERROR"},
		{"pseudo-header after a field", true, func(p string) []string {
			return []string{":method", "GET", ":scheme", "https", "x", "y", ":path", p}
		}, "RST_STREAM PROTOCOL_ERROR"},
		{"unknown pseudo-header", true, func(p string) []string { return append(pseudo(p)[:8:8], ":foo", "1") }, "RST_STREAM PROTOCOL_ERROR"},
		{"two :path", true, func(p string) []string { return append(pseudo(p)[:8:8], ":path", p) }, "RST_STREAM PROTOCOL_ERROR"},
		{"no :scheme", true, func(p string) []string { return []string{":method", "GET", ":path", p} }, "RST_STREAM PROTOCOL_ERROR"},
		{"method not a token", true, func(p string) []string {
			return []string{":method", "G T", ":scheme", "https", ":path", p}
		}, "RST_STREAM PROTOCOL_ERROR"},
		{"control byte in :path", true, func(p string) []string { return pseudo(p + "\x01") }, "RST_STREAM PROTOCOL_ERROR"},
		{"bad escape in :path", true, func(p string) []string { return pseudo(p + "%zz") }, "RST_STREAM PROTOCOL_ERROR"},
		{":path without a slash", true, func(p string) []string { return pseudo(p[1:]) }, "RST_STREAM PROTOCOL_ERROR"},
		{"CONNECT with :path", true, func(p string) []string {
			return []string{":method", "CONNECT", ":authority", "x:443", ":path", p}
		}, "RST_STREAM PROTOCOL_ERROR"},
		{"header list too large", true, func(p string) []string {
			return append(pseudo(p), "x-a", big, "x-b", big, "x-c", big)
		}, "HEADERS 431"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ff.mu.Lock()
			before := ff.offered
			ff.mu.Unlock()
			fast := outcome(t, hs, tc.end, tc.fields("/fast"))
			handler := outcome(t, hs, tc.end, tc.fields("/nothere"))
			if fast != tc.want || handler != tc.want {
				t.Errorf("cached file: %s, handler: %s; want %s for both", fast, handler, tc.want)
			}
			ff.mu.Lock()
			defer ff.mu.Unlock()
			if ff.offered != before {
				t.Errorf("the FastHandler was offered the malformed request")
			}
		})
	}
	// The same requests, well-formed, are answered by each path.
	if got := outcome(t, hs, true, pseudo("/fast")); got != "HEADERS 200" {
		t.Errorf("a valid request for the cached file: %s, want HEADERS 200", got)
	}
	if got := outcome(t, hs, true, pseudo("/nothere")); got != "HEADERS 404" {
		t.Errorf("a valid request for the handler: %s, want HEADERS 404", got)
	}
}

// TestFastRequest: what the fast.Handler is told of a request, and which
// requests it is not offered.
func TestFastRequest(t *testing.T) {
	ff := &countingFiles{}
	hs := start(t, &Server{Fast: ff})
	base := []string{":method", "GET", ":scheme", "https", ":authority", "x", ":path", "/fast?q=1"}
	cases := []struct {
		name    string
		fields  []string
		offered bool
		want    fast.Request // RemoteAddr not compared
	}{
		{"referer and agent, first values", append(base[:8:8],
			"referer", "https://r/", "user-agent", "ua/1", "referer", "second", "user-agent", "ua/2"), true,
			fast.Request{Method: "GET", Target: "/fast?q=1", Proto: "HTTP/2.0", Referer: "https://r/", UserAgent: "ua/1"}},
		{"origin, first non-empty value", append(base[:8:8], "origin", "", "origin", "https://a.example", "origin", "https://b.example"), true,
			fast.Request{Method: "GET", Target: "/fast?q=1", Proto: "HTTP/2.0", Origin: "https://a.example"}},
		{"HEAD", []string{":method", "HEAD", ":scheme", "https", ":path", "/fast"}, true,
			fast.Request{Method: "HEAD", Target: "/fast", Proto: "HTTP/2.0"}},
		{"POST", []string{":method", "POST", ":scheme", "https", ":path", "/fast"}, false, fast.Request{}},
		{"range", append(base[:8:8], "range", "bytes=0-1"), false, fast.Request{}},
		{"if-range", append(base[:8:8], "if-range", `"x"`), false, fast.Request{}},
		{"if-match", append(base[:8:8], "if-match", `"x"`), false, fast.Request{}},
		{"if-modified-since", append(base[:8:8], "if-modified-since", "Mon, 02 Jan 2006 15:04:05 GMT"), false, fast.Request{}},
		{"if-unmodified-since", append(base[:8:8], "if-unmodified-since", "Mon, 02 Jan 2006 15:04:05 GMT"), false, fast.Request{}},
		{"accept-encoding, its value", append(base[:8:8], "accept-encoding", "gzip, br;q=0.5"), true,
			fast.Request{Method: "GET", Target: "/fast?q=1", Proto: "HTTP/2.0", AcceptEncoding: "gzip, br;q=0.5", AcceptEncodingFields: 1}},
		{"two accept-encoding fields", append(base[:8:8], "accept-encoding", "gzip", "accept-encoding", "br"), false, fast.Request{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ff.mu.Lock()
			before := ff.offered
			ff.mu.Unlock()
			t0 := time.Now().UnixNano()
			outcome(t, hs, true, tc.fields)
			t1 := time.Now().UnixNano()
			ff.mu.Lock()
			defer ff.mu.Unlock()
			if offered := ff.offered > before; offered != tc.offered {
				t.Fatalf("offered to the FastHandler: %v, want %v", offered, tc.offered)
			}
			if !tc.offered {
				return
			}
			got := ff.last
			if got.Now < t0 || got.Now > t1 {
				t.Errorf("Now %d, not when the request was read (between %d and %d)", got.Now, t0, t1)
			}
			got.RemoteAddr, got.Now = "", 0
			if got != tc.want {
				t.Errorf("FastHandler got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzPlainPath: a path plainPath vouches for is one
// url.ParseRequestURI takes, so the fast path, which parses no URL,
// refuses no less than the Handler's path.
func FuzzPlainPath(f *testing.F) {
	for _, s := range []string{"/", "/a.txt", "/a?b=c", "//x", "/a#b", "/ a", "/a?%zz", "/%41", "/\x7f", "*", "/\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !plainPath(p) {
			return
		}
		if _, err := url.ParseRequestURI(p); err != nil {
			t.Errorf("plainPath(%q) but ParseRequestURI: %v", p, err)
		}
	})
}

// TestShutdownLastStreamHonest opens streams as fast as it can while the
// server shuts down: the GOAWAY's last stream id must be honest (RFC 9113
// section 6.8). Every stream up to it is answered (or refused with
// REFUSED_STREAM, which a client may retry), and none above it is: a
// client retries exactly those, so a stream counted in but dropped would
// be a request lost.
func TestShutdownLastStreamHonest(t *testing.T) {
	for round := range 10 {
		release := make(chan struct{})
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			io.WriteString(w, "done")
		})
		hs := start(t, &Server{Handler: handler})
		r := dialRaw(t, hs)
		const streams = 101 // ids 1, 3, ..., 201: fewer than the 250 allowed at once
		var wmu sync.Mutex  // the Framer's writes: the sender's and the reader's
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			for i := range streams {
				wmu.Lock()
				r.hb.Reset()
				for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "x"}, {":path", "/"}} {
					r.he.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
				}
				err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: r.hb.Bytes(), EndStream: true, EndHeaders: true})
				wmu.Unlock()
				if err != nil {
					return // the server closed the connection
				}
			}
		}()
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			shut <- hs.Config.Shutdown(ctx)
		}()
		var last uint32
		goAway := false
		answered := map[uint32]bool{}
		refused := map[uint32]bool{}
		r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			f, err := r.fr.ReadFrame()
			if err != nil {
				break // the server ended the connection
			}
			switch f := f.(type) {
			case *http2.GoAwayFrame:
				if !goAway {
					goAway, last = true, f.LastStreamID
					<-sent // every HEADERS is out: what follows is the server's answer
					close(release)
				}
			case *http2.DataFrame:
				if f.StreamEnded() {
					answered[f.StreamID] = true
				}
			case *http2.RSTStreamFrame:
				if f.ErrCode == http2.ErrCodeRefusedStream {
					refused[f.StreamID] = true
				} else {
					t.Errorf("round %d: stream %d reset with %v", round, f.StreamID, f.ErrCode)
				}
			}
		}
		if err := <-shut; err != nil {
			t.Errorf("round %d: Shutdown: %v", round, err)
		}
		if !goAway {
			t.Fatalf("round %d: no GOAWAY", round)
		}
		for id := uint32(1); id <= 2*streams-1; id += 2 {
			switch {
			case id <= last && !answered[id] && !refused[id]:
				t.Errorf("round %d: GOAWAY names last stream %d, but stream %d was neither answered nor refused", round, last, id)
			case id > last && (answered[id] || refused[id]):
				t.Errorf("round %d: GOAWAY names last stream %d, but stream %d above it was answered", round, last, id)
			}
		}
	}
}
