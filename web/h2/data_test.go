package h2

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gotwistd/gotwistd/web/fast"
	"github.com/gotwistd/gotwistd/web/tlsbatch"
)

// largeFiles answers /a and /b from memory with bodies larger than a
// connection's output buffer (outLimit), of different bytes, as the static
// cache answers large cached files.
type largeFiles struct{ a, b []byte }

func (f largeFiles) ServeFast(r *fast.Request) (fast.Response, bool) {
	var body []byte
	switch r.Path() {
	case "/a":
		body = f.a
	case "/b":
		body = f.b
	default:
		return fast.Response{}, false
	}
	return fast.Response{Header: []byte(fmt.Sprintf("Content-Length: %d\r\nContent-Type: application/octet-stream\r\n", len(body))), Body: body}, true
}

// pattern is n bytes that differ from one offset to the next (and from
// another seed's), so that a byte from elsewhere shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i>>8) ^ seed
	}
	return b
}

// TestLargeBodiesOnManyConnections: bodies sent from the output buffers
// that connections share arrive intact, each on its own stream, with
// several connections and streams of each sending at once.
func TestLargeBodiesOnManyConnections(t *testing.T) {
	files := largeFiles{a: pattern(outLimit+100_000, 0x5a), b: pattern(3*outLimit+1, 0xa5)}
	hs := start(t, &Server{Fast: files})
	const conns, streams = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, conns*streams)
	for range conns {
		c := client(hs) // a transport of its own: a connection of its own
		for i := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path, want := "/a", files.a
				if i%2 == 1 {
					path, want = "/b", files.b
				}
				resp, err := c.Get(hs.URL + path)
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					errs <- fmt.Errorf("%s: %v", path, err)
				case resp.StatusCode != 200 || resp.ProtoMajor != 2:
					errs <- fmt.Errorf("%s: %s %s", path, resp.Proto, resp.Status)
				case !bytes.Equal(got, want):
					at := 0
					for at < min(len(got), len(want)) && got[at] == want[at] {
						at++
					}
					errs <- fmt.Errorf("%s: %d bytes, want %d; first difference at %d", path, len(got), len(want), at)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// largestWrite is a listener whose connections note the largest write
// made to them.
type largestWrite struct {
	net.Listener
	mu  sync.Mutex
	max int
}

func (l *largestWrite) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &noteWrites{Conn: c, l: l}, nil
}

type noteWrites struct {
	net.Conn
	l *largestWrite
}

func (c *noteWrites) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.max = max(c.l.max, len(p))
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// TestLargeBodyInLargeWrites: over a connection that can gather writes
// beneath TLS (as web's listeners give the engine), a large body leaves
// in writes of many TLS records each, not one write per record, and
// arrives intact.
func TestLargeBodyInLargeWrites(t *testing.T) {
	for _, tc := range []struct {
		name     string
		batch    bool
		moreThan bool // a write beneath TLS larger than one record
	}{
		{"gathered", true, true},
		{"a plain connection", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := largeFiles{a: pattern(outLimit+100_000, 0x33)}
			s := &Server{Fast: files}
			hs := httptest.NewUnstartedServer(nil)
			s.ConfigureServer(hs.Config)
			hs.TLS = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
			rec := &largestWrite{Listener: hs.Listener}
			hs.Listener = rec
			if tc.batch {
				hs.Listener = tlsbatch.Listener(rec)
			}
			hs.StartTLS()
			defer hs.Close()
			resp, err := client(hs).Get(hs.URL + "/a")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(got, files.a) {
				t.Fatalf("%d bytes (%v), want the %d of /a", len(got), err, len(files.a))
			}
			const record = 16384 + 256 // a TLS record's payload and its overhead
			rec.mu.Lock()
			largest := rec.max
			rec.mu.Unlock()
			if (largest > record) != tc.moreThan {
				t.Errorf("largest write beneath TLS %d bytes; want more than a record (%d): %v", largest, record, tc.moreThan)
			}
		})
	}
}
