package h1

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// TestIdleAfterLoad loads a server's event loops with pipelined requests
// on many connections (so that their looks find requests waiting and they
// poll), then leaves it idle: in the idle window that follows, the
// process uses next to no CPU. A loop that kept polling would use a core.
func TestIdleAfterLoad(t *testing.T) {
	s, _ := newFastServer()
	addr := startEngine(t, s)
	const conns, bursts, depth = 8, 40, 16
	burst := strings.Repeat("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", depth)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pipelined(addr, burst, bursts, depth)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// The loops poll for at most epoll.PollFor after their last request;
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

// pipelined sends bursts of depth pipelined requests on one connection
// and reads every answer, keeping the connection open to the end.
func pipelined(addr, burst string, bursts, depth int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	for b := range bursts {
		if _, err := c.Write([]byte(burst)); err != nil {
			return err
		}
		for i := range depth {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("burst %d, answer %d: %w", b, i, err)
			}
			if !strings.HasPrefix(line, "HTTP/1.1 200 ") {
				return fmt.Errorf("burst %d, answer %d: %q", b, i, line)
			}
			// The rest of the head, then the body ("fast:a").
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return err
				}
				if l == "\r\n" {
					break
				}
			}
			if _, err := r.Discard(len("fast:a")); err != nil {
				return err
			}
		}
	}
	return nil
}
