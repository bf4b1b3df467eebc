package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotwistd/gotwistd/endpoint"
)

// proxyV1 and proxyV2 are PROXY protocol headers saying the client is
// 203.0.113.7:51234 (v1) or [2001:db8::7]:40000 (v2, with a TLV).
var (
	proxyV1 = "PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n"
	proxyV2 = func() string {
		b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x21")
		var addr []byte
		addr = append(addr, net.ParseIP("2001:db8::7").To16()...)
		addr = append(addr, net.ParseIP("2001:db8::1").To16()...)
		addr = binary.BigEndian.AppendUint16(addr, 40000)
		addr = binary.BigEndian.AppendUint16(addr, 443)
		addr = append(addr, 0x01, 0x00, 0x02, 'h', '2') // PP2_TYPE_ALPN
		b = binary.BigEndian.AppendUint16(b, uint16(len(addr)))
		return string(append(b, addr...))
	}()
)

// TestHAProxyPlain serves haproxy:tcp: with both HTTP/1.1 engines: the
// header and two pipelined requests come in one write (nothing after the
// header may be lost, whether the engine reads the socket itself or
// through net/http), the access log shows the header's client, and a
// connection without a header is closed unanswered, logged once.
func TestHAProxyPlain(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("file a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{EngineGotwistd, EngineNetHTTP} {
		for _, hdr := range []struct{ name, header, ip string }{{"v1", proxyV1, "203.0.113.7"}, {"v2", proxyV2, "2001:db8::7"}} {
			t.Run(engine+" "+hdr.name, func(t *testing.T) {
				ts := startServer(t, []string{"--listen", "haproxy:tcp:0:interface=127.0.0.1", "--path", root, "--http1-engine", engine})
				c, err := net.Dial("tcp", ts.addr(0))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				// a.txt twice: the second is the fast path's, once cached;
				// then a 404 from the handler.
				reqs := "GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: px\r\n\r\n" +
					"GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: px\r\n\r\n" +
					"GET /missing HTTP/1.1\r\nHost: x\r\nUser-Agent: px\r\n\r\n"
				if _, err := io.WriteString(c, hdr.header+reqs); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(c)
				for i, want := range []int{200, 200, 404} {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatalf("response %d: %v", i, err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != want {
						t.Fatalf("response %d: %d, want %d", i, resp.StatusCode, want)
					}
				}
				c.Close()

				for i := range 2 {
					bad, err := net.Dial("tcp", ts.addr(0))
					if err != nil {
						t.Fatal(err)
					}
					io.WriteString(bad, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
					got, _ := io.ReadAll(bad)
					bad.Close()
					if len(got) != 0 {
						t.Fatalf("connection %d without a header got %q, want it closed unanswered", i, got)
					}
				}
				ts.stop()
				lines := ts.log.all()
				n := 0
				for _, l := range lines {
					if strings.Contains(l, `"px"`) {
						n++
						if !strings.HasPrefix(l, `[gotwistd.web.AccessLog#info] "`+hdr.ip+`" - - [`) {
							t.Errorf("access line %q does not show the header's client %s", l, hdr.ip)
						}
					}
				}
				if n != 3 {
					t.Errorf("%d access lines for the 3 requests:\n%s", n, strings.Join(lines, "\n"))
				}
				warn := 0
				for _, l := range lines {
					if strings.Contains(l, endpoint.ProxyNoHeader) {
						warn++
					}
				}
				if warn != 1 {
					t.Errorf("%d lines about the missing header for 2 connections, want 1:\n%s", warn, strings.Join(lines, "\n"))
				}
			})
		}
	}
}

// TestHAProxyTLS serves ssl:haproxy:tcp: (the header before the TLS
// handshake, as balancers send it) with HTTP/2 on both engines and with
// HTTP/1.1: the access log shows the header's client.
func TestHAProxyTLS(t *testing.T) {
	dir := t.TempDir()
	roots := writeCert(t, dir, 1)
	for _, tc := range []struct {
		name, engine string
		h2           bool
	}{{"h2 gotwistd", EngineGotwistd, true}, {"h2 net/http", EngineNetHTTP, true}, {"http/1.1", EngineGotwistd, false}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, []string{"--listen", sslEndpoint("ssl:haproxy:tcp", dir), "--http2-engine", tc.engine})
			tr := &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"},
				ForceAttemptHTTP2: tc.h2,
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err == nil {
						_, err = io.WriteString(c, proxyV2)
					}
					return c, err
				},
			}
			if !tc.h2 {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			client := &http.Client{Transport: tr}
			resp, body := get(t, client, "GET", "https://127.0.0.1:"+ts.port(0)+"/", http.Header{"User-Agent": {"tls-px"}})
			if resp.StatusCode != 200 || !strings.Contains(body, "gotwistd is running") {
				t.Fatalf("GET: %d %q", resp.StatusCode, body)
			}
			proto := "HTTP/1.1"
			if tc.h2 {
				proto = "HTTP/2.0"
			}
			if resp.Proto != proto {
				t.Fatalf("answered in %s, want %s", resp.Proto, proto)
			}
			client.CloseIdleConnections()
			ts.stop()
			line := ts.log.find(`"tls-px"`)
			if !strings.HasPrefix(line, `[gotwistd.web.AccessLog#info] "2001:db8::7" - - [`) || !strings.Contains(line, fmt.Sprintf(`"GET / %s" 200`, proto)) {
				t.Errorf("access line = %q", line)
			}
		})
	}
}

// TestHAProxyUnix: behind a UNIX socket the access log shows the
// header's client, not "-" as for plain UNIX-socket clients.
func TestHAProxyUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lb.sock")
	ts := startServer(t, []string{"--listen", "haproxy:unix:" + sock})
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, proxyV1+"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: ux\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	c.Close()
	ts.stop()
	if line := ts.log.find(`"ux"`); !strings.HasPrefix(line, `[gotwistd.web.AccessLog#info] "203.0.113.7" - - [`) {
		t.Errorf("access line = %q", line)
	}
}
