package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// healthTimeout bounds a health check when its context has no deadline.
const healthTimeout = 5 * time.Second

// Healthy checks that the server still serves: it connects to its first
// stream listener (plain TCP preferred, then TLS, then UNIX) the way a
// client does, makes the TLS handshake on an ssl endpoint, sends
// "OPTIONS * HTTP/1.1" and reads the answer. net/http answers that request
// itself, so the check touches no file and writes no access line, yet it
// needs the accept loop, a connection goroutine and the request parser to
// work. The runner calls it for systemd's watchdog (WatchdogSec=): while it
// fails, the pings stop and systemd restarts a server that is wedged, not
// only one that is stopped.
//
// It returns nil without checking when there is nothing to check by
// connecting: before Serve or during Shutdown, when the only listeners are
// QUIC or systemd Accept=yes connections, when --max-connections is
// reached (the limit would refuse the check, not the server's failure), or
// when a UNIX listener's path cannot be reached from here (--chroot).
func (s *Server) Healthy(ctx context.Context) error {
	addr, useTLS, ok := s.healthTarget()
	if !ok {
		return nil
	}
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, healthTimeout)
		defer cancel()
	}
	err := checkHTTP(ctx, addr, useTLS)
	if err != nil && addr.Network() == "unix" && errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return err
}

// healthTarget picks the address Healthy connects to.
func (s *Server) healthTarget() (addr net.Addr, useTLS, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateServing {
		return nil, false, false
	}
	if s.limit != nil && s.limit.open.Load() >= s.limit.max {
		return nil, false, false
	}
	best := -1
	rank := func(i int) int {
		l := s.listeners[i]
		switch {
		case l.Stream.Addr().Network() == "unix":
			return 2
		case l.TLS != nil:
			return 1
		}
		return 0
	}
	for i, l := range s.listeners {
		if l.Stream == nil || l.AcceptOnce {
			continue
		}
		if best < 0 || rank(i) < rank(best) {
			best = i
		}
	}
	if best < 0 {
		return nil, false, false
	}
	l := s.listeners[best]
	return l.Stream.Addr(), l.TLS != nil, true
}

// checkHTTP connects to addr (a listener's own address: an unspecified IP
// means loopback), with TLS when useTLS, sends OPTIONS * and reads the
// answer, whatever its status, within ctx.
func checkHTTP(ctx context.Context, addr net.Addr, useTLS bool) error {
	conn, err := dialSelf(ctx, addr)
	if err != nil {
		return fmt.Errorf("health check: connect to %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return fmt.Errorf("health check: %w", err)
		}
	}
	if useTLS {
		tc := tls.Client(conn, &tls.Config{
			// The server checks itself: it sends nothing secret and
			// only needs to see its own handshake complete.
			InsecureSkipVerify: true,
			NextProtos:         []string{"http/1.1"},
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("health check: TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	const req = "OPTIONS * HTTP/1.1\r\nHost: localhost\r\nUser-Agent: gotwistd-health-check\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return fmt.Errorf("health check: send to %s: %w", addr, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("health check: no answer from %s: %w", addr, err)
	}
	resp.Body.Close()
	return nil
}

// dialSelf connects to a listener's address; for an unspecified IP it
// tries the loopback addresses of its family (both for "::", which may be
// dual-stack).
func dialSelf(ctx context.Context, addr net.Addr) (net.Conn, error) {
	var d net.Dialer
	a, ok := addr.(*net.TCPAddr)
	if !ok {
		return d.DialContext(ctx, addr.Network(), addr.String())
	}
	if !a.IP.IsUnspecified() {
		return d.DialContext(ctx, "tcp", a.String())
	}
	loops := []net.IP{net.IPv4(127, 0, 0, 1)}
	if a.IP.To4() == nil {
		loops = []net.IP{net.IPv6loopback, net.IPv4(127, 0, 0, 1)}
	}
	var errs []error
	for _, ip := range loops {
		c, err := d.DialContext(ctx, "tcp", (&net.TCPAddr{IP: ip, Port: a.Port}).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}
