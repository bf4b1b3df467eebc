package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// holder keeps many idle keep-alive connections open to one server: each
// connection sends one request, reads the whole response, then stays open
// and silent until release.
type holder struct {
	mu    sync.Mutex
	conns []net.Conn
}

// holdResult says how the connections went.
type holdResult struct {
	Opened int // completed one request and were kept
	Failed int // could not connect or got no good response
	First  error
}

// hold opens n connections to addr, at most par at a time, each sending GET
// path and reading the response, and keeps them. It gives up on what is not
// done after limit.
func (h *holder) hold(ctx context.Context, addr, path string, n, par int, limit time.Duration) holdResult {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var (
		wg      sync.WaitGroup
		failed  atomic.Int64
		firstMu sync.Mutex
		first   error
		sem     = make(chan struct{}, par)
	)
	req := []byte("GET /" + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: gotwistd-bench-hold\r\n\r\n")
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			failed.Add(int64(n - i))
			i = n
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := h.one(ctx, addr, req)
			if err != nil {
				failed.Add(1)
				firstMu.Lock()
				if first == nil {
					first = err
				}
				firstMu.Unlock()
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}()
	}
	wg.Wait()
	res := holdResult{Failed: int(failed.Load())}
	h.mu.Lock()
	res.Opened = len(h.conns)
	h.mu.Unlock()
	res.First = first
	if res.First == nil && res.Failed > 0 {
		res.First = fmt.Errorf("not done within %v", limit)
	}
	return res
}

func (h *holder) one(ctx context.Context, addr string, req []byte) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		c.Close()
		if err == nil {
			err = fmt.Errorf("response %s, close=%v", resp.Status, resp.Close)
		}
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// stillOpen counts held connections the server has not closed: a
// non-blocking peek finds nothing to read (EAGAIN) on an open idle
// connection, and end-of-file or an error on a closed one.
func (h *holder) stillOpen() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	open := 0
	buf := make([]byte, 1)
	for _, c := range h.conns {
		tc, ok := c.(*net.TCPConn)
		if !ok {
			continue
		}
		rc, err := tc.SyscallConn()
		if err != nil {
			continue
		}
		var rerr error
		_ = rc.Read(func(fd uintptr) bool {
			_, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			return true
		})
		if rerr == syscall.EAGAIN {
			open++
		}
	}
	return open
}

// release closes every held connection.
func (h *holder) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
	h.conns = nil
}
