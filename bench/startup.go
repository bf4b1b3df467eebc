package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// startupResult is one exec of a server with NOTIFY_SOCKET set.
type startupResult struct {
	Ready     time.Duration // exec -> READY=1 datagram; 0 if none came
	FirstResp time.Duration // exec -> first 200 response to GET /small.html
}

// measureStartup execs def listening on a fresh port with NOTIFY_SOCKET
// pointing at a unixgram socket of our own (as systemd would for
// Type=notify), and times the READY=1 datagram and the first successful
// response, both from just before exec.
func (b *bench) measureStartup(ctx context.Context, def *serverDef, i int) (startupResult, []string, error) {
	var res startupResult
	dir, err := b.env.serverDir(fmt.Sprintf("%s-startup-%d", def.name, i))
	if err != nil {
		return res, nil, err
	}
	sockPath := filepath.Join(dir, "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		return res, nil, fmt.Errorf("notify socket: %w", err)
	}
	defer ln.Close()
	ports, err := freePorts(1)
	if err != nil {
		return res, nil, err
	}
	spec, err := def.launch(b.env, dir, launchOpts{httpPort: ports[0]})
	if err != nil {
		return res, nil, err
	}
	argv := append([]string{def.bin}, spec.argv...)
	env := append(append([]string(nil), spec.env...), "NOTIFY_SOCKET="+sockPath)

	readyAt := make(chan time.Time, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := ln.ReadFromUnix(buf)
			if err != nil {
				return
			}
			for _, line := range strings.Split(string(buf[:n]), "\n") {
				if line == "READY=1" {
					readyAt <- time.Now()
					return
				}
			}
		}
	}()

	t0 := time.Now()
	p, err := b.procs.start(def.name, argv, env, filepath.Join(dir, "output.log"))
	if err != nil {
		return res, argv, err
	}
	defer p.stop(3 * time.Second)

	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ctx.Err() != nil {
			return res, argv, ctx.Err()
		}
		if p.exited() {
			return res, argv, fmt.Errorf("exited at start: %s", p.outputTail(3))
		}
		if time.Now().After(deadline) {
			return res, argv, fmt.Errorf("no response within 20s; output: %s", p.outputTail(3))
		}
		if quickGet(addr, 2*time.Second) == nil {
			res.FirstResp = time.Since(t0)
			break
		}
		time.Sleep(time.Millisecond)
	}
	// READY=1 may come before or after the first response; give it a moment
	// (twistd3 never sends one).
	select {
	case t := <-readyAt:
		res.Ready = t.Sub(t0)
	case <-time.After(2 * time.Second):
	}
	return res, argv, nil
}

// quickGet sends GET /small.html on a fresh connection and checks for a 200.
func quickGet(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", smallName); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// activationResult is one cold start under systemd-socket-activate.
type activationResult struct {
	FirstByte time.Duration // connect -> first byte of the response
	Total     time.Duration // connect -> whole response read
}

// measureActivation starts systemd-socket-activate holding a listening
// socket on a fresh port; the server is exec'd only when the first
// connection arrives. It times connect -> first response byte.
func (b *bench) measureActivation(ctx context.Context, def *serverDef, i int) (activationResult, []string, error) {
	var res activationResult
	dir, err := b.env.serverDir(fmt.Sprintf("%s-activation-%d", def.name, i))
	if err != nil {
		return res, nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return res, nil, err
	}
	spec, err := def.launch(b.env, dir, launchOpts{httpPort: ports[0]})
	if err != nil {
		return res, nil, err
	}
	// Swap the tcp listener for the inherited socket.
	args := append([]string(nil), spec.argv...)
	for j := range args {
		if strings.HasPrefix(args[j], "tcp:") {
			args[j] = "systemd:domain=INET:index=0"
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	argv := []string{b.socketActivate, "-l", addr}
	for _, e := range spec.env {
		argv = append(argv, "-E", e)
	}
	argv = append(argv, "--", def.bin)
	argv = append(argv, args...)
	p, err := b.procs.start(def.name+"-activation", argv, nil, filepath.Join(dir, "output.log"))
	if err != nil {
		return res, argv, err
	}
	defer p.stop(3 * time.Second)

	// Wait for the socket to be listening without connecting to it (a
	// connection would start the server).
	deadline := time.Now().Add(10 * time.Second)
	for !isListening(ports[0]) {
		if ctx.Err() != nil {
			return res, argv, ctx.Err()
		}
		if p.exited() || time.Now().After(deadline) {
			return res, argv, fmt.Errorf("systemd-socket-activate not listening: %s", p.outputTail(3))
		}
		time.Sleep(5 * time.Millisecond)
	}

	t0 := time.Now()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return res, argv, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", smallName); err != nil {
		return res, argv, err
	}
	br := bufio.NewReader(c)
	if _, err := br.Peek(1); err != nil {
		return res, argv, fmt.Errorf("no response: %w; output: %s", err, p.outputTail(3))
	}
	res.FirstByte = time.Since(t0)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return res, argv, fmt.Errorf("bad response: %w", err)
	}
	resp.Body.Close()
	res.Total = time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		return res, argv, fmt.Errorf("response %s", resp.Status)
	}
	return res, argv, nil
}

// isListening reports whether something listens on 127.0.0.1:port, read
// from /proc/net/tcp so as not to connect.
func isListening(port int) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	want := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A" {
			return true
		}
	}
	return false
}
