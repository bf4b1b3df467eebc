//go:build linux

package h1

import (
	"net"
	"strings"
	"testing"
)

// TestAnsweredAtAccept: a connection whose request is already there when
// Serve accepts it is answered by the accepting goroutine (its fast
// answer is Watched: the accept path refreshes the Watcher first), and
// what that path cannot finish goes on as before: the Handler's requests,
// a partial head, an answer too large to write at once (after which a
// "Connection: close" still closes, and a request pipelined after it is
// not answered), and a kept-alive connection's next request; whether Serve
// accepts on the socket itself or through the listener's Accept.
func TestAnsweredAtAccept(t *testing.T) {
	huge := "fast:" + strings.Repeat("0123456789", 1600000) // 16 MB: more than a socket takes at once
	for _, tt := range []struct {
		name   string
		before string   // sent before Serve accepts
		after  string   // sent once Serve runs; once the first answer is read if it starts with "then "
		want   []string // bodies, in order
		closes bool     // the server closes after them
		atAcc  string   // the first fast answer is the accept path's: "yes", "no", "" (either)
	}{
		{"close", "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "", []string{"fast:a"}, true, "yes"},
		{"keep-alive", "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "then GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", []string{"fast:a", "fast:b"}, true, "yes"},
		{"pipelined", "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "", []string{"fast:a", "fast:b"}, true, "yes"},
		{"handler", "GET /s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "", []string{"slow:/s"}, true, ""},
		{"fast then handler", "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /s HTTP/1.1\r\nHost: h\r\n\r\n", "", []string{"fast:a", "slow:/s"}, false, "yes"},
		// (The rest may come before the accept: either path may answer.)
		{"partial head", "GET /a HTTP/1.1\r\nHo", "st: h\r\nConnection: close\r\n\r\n", []string{"fast:a"}, true, ""},
		{"large, close", "GET /huge HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n", "", []string{huge}, true, "yes"},
		{"event loop: large, close", "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "then GET /huge HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n", []string{"fast:a", huge}, true, "yes"},
	} {
		for _, way := range []struct {
			name  string
			noRaw bool
		}{{"accept4", false}, {"net.Listener", true}} {
			t.Run(way.name+"/"+tt.name, func(t *testing.T) {
				_, ff := newFastServer()
				ff.files["/huge"] = huge
				wf := newWatchFiles(t, ff)
				s := &Server{Handler: wf, Fast: wf, ErrorLog: quietLog(), noRawAccept: way.noRaw}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				c := dial(t, ln.Addr().String())
				// A small window, so that a large answer cannot be written at once.
				if err := c.c.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
					t.Fatal(err)
				}
				// On loopback the bytes are in the server's socket when the
				// write returns, before Serve accepts it.
				c.send(tt.before)
				go s.Serve(ln)
				then, later := strings.CutPrefix(tt.after, "then ")
				if !later {
					c.send(tt.after)
				}
				for i, want := range tt.want {
					if i == 1 && later {
						c.send(then) // to the event loop that has the connection now
					}
					if _, body, _ := c.read("GET"); body != want {
						t.Fatalf("answer %d: %d bytes %.20q, want %d bytes %.20q", i, len(body), body, len(want), want)
					}
				}
				if tt.closes && !c.closed() {
					t.Error("the connection stayed open after a Connection: close answer")
				}
				ff.mu.Lock()
				defer ff.mu.Unlock()
				if tt.atAcc != "" && (len(ff.seen) == 0 || ff.seen[0] != (tt.atAcc == "yes")) {
					t.Errorf("Watched flags %v: first answered at accept: want %v", ff.seen, tt.atAcc)
				}
			})
		}
	}
}
