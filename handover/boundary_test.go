package handover

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// lineServer is a minimal engine that tells its Tracker where its
// requests end (Boundary): a request is a line, answered with the
// server's name and the line. size gives the buffer of its i-th Read of a
// connection, so that read sizes say nothing about boundaries.
type lineServer struct {
	name string
	size func(i int) int
	// held receives, after each Read, how many bytes of an unfinished
	// line the server holds.
	held chan int
}

func (s *lineServer) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go s.conn(c)
	}
}

func (s *lineServer) conn(c net.Conn) {
	defer c.Close()
	b, _ := c.(Boundary) // nil for a connection no Tracker wraps
	buf := make([]byte, 64)
	var line []byte
	for i := 0; ; i++ {
		if len(line) == 0 && b != nil {
			b.BetweenRequests()
		}
		n, err := c.Read(buf[:s.size(i)])
		line = append(line, buf[:n]...)
		for {
			j := bytes.IndexByte(line, '\n')
			if j < 0 {
				break
			}
			if _, err := c.Write([]byte(s.name + " " + string(line[:j]) + "\n")); err != nil {
				return
			}
			line = line[j+1:]
		}
		if s.held != nil && n > 0 {
			s.held <- len(line)
		}
		if err != nil {
			return
		}
	}
}

// TestBetweenRequestsNotReadSizes: with an engine that calls
// BetweenRequests, a connection is parked exactly between two requests,
// whatever the sizes of the engine's Reads: not while it holds half a
// request (which a Read as long as the first one looks like, to the
// fallback for net/http), and as soon as it is between requests (which a
// Read shorter than the first one does not look like).
func TestBetweenRequestsNotReadSizes(t *testing.T) {
	for _, tt := range []struct {
		name string
		size func(i int) int
	}{
		{"same size every read", func(int) int { return 1 }},
		{"shorter reads after the first", func(i int) int {
			if i == 0 {
				return 64
			}
			return 1
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t)
			st := &store{}
			tr := New(DefaultName)
			tr.Store = st.put
			gen1 := &lineServer{name: "gen1", size: tt.size, held: make(chan int, 64)}
			go gen1.serve(tr.Listener(noClose{l}))

			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			// Half a request, all of it read by the server.
			if _, err := c.Write([]byte("hel")); err != nil {
				t.Fatal(err)
			}
			for held := 0; held < 3; held = <-gen1.held {
			}

			// The restart starts while the server holds "hel".
			l.SetDeadline(past) // stop accepting, keep the socket
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			handed := make(chan error, 1)
			go func() {
				_, err := tr.Handover(ctx)
				handed <- err
			}()
			// The rest of it: the request is answered here, whole.
			if _, err := c.Write([]byte("lo\n")); err != nil {
				t.Fatal(err)
			}
			if got, err := r.ReadString('\n'); err != nil || got != "gen1 hello\n" {
				t.Fatalf("answer = %q, %v; want %q", got, err, "gen1 hello\n")
			}
			// Then the connection is between requests: parked.
			if err := <-handed; err != nil {
				t.Fatalf("Handover: %v (the connection was not parked between requests)", err)
			}
			if parked, failed := tr.Parked(); parked != 1 || failed != 0 {
				t.Fatalf("Parked() = %d, %d; want 1, 0", parked, failed)
			}

			// The next instance serves its next request.
			l.SetDeadline(time.Time{})
			gen2 := &lineServer{name: "gen2", size: tt.size}
			go gen2.serve(Adopt(noClose{l}, st.sockets(t)))
			if _, err := c.Write([]byte("again\n")); err != nil {
				t.Fatal(err)
			}
			if got, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(got, "gen2 again") {
				t.Fatalf("answer after the restart = %q, %v; want %q", got, err, "gen2 again\n")
			}
			l.SetDeadline(past)
		})
	}
}
