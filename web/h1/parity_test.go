package h1

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// parityHandlers are handlers exercising what a ResponseWriter decides:
// framing, sniffing, suppressed headers, HEAD, flushes, interim
// responses. Both servers must answer them the same.
func parityHandlers(t *testing.T) map[string]http.HandlerFunc {
	dir := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB
	file := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(file, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]http.HandlerFunc{
		"/small": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hi</html>") },
		"/typed": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
		},
		"/nothing": func(w http.ResponseWriter, r *http.Request) {},
		"/status": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "short and stout")
		},
		"/big": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) },
		"/bigpieces": func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 100; i++ {
				fmt.Fprintf(w, "line %d %s\n", i, strings.Repeat("x", i*7))
			}
		},
		"/length": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		},
		"/nocontent": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNoContent)
			io.WriteString(w, "ignored")
		},
		"/notmodified": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		},
		"/flush": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "part one,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part two")
		},
		"/close": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		},
		"/identity": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "identity")
			io.WriteString(w, "streamed")
		},
		"/hints": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</s.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "after hints")
		},
		"/encoded": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "\x1f\x8bnot really")
		},
		"/late": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.Header().Set("X-Late", "not sent")
			io.WriteString(w, "late")
		},
		"/oddheaders": func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Bad Name"] = []string{"x"}
			w.Header()["X-Multi"] = []string{"a", "b"}
			w.Header().Set("X-Newline", "a\r\nInjected: yes")
			io.WriteString(w, "odd")
		},
		"/file": func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(file)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.Copy(w, f)
		},
		"/filesniff": func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(file)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			io.Copy(w, f)
		},
		"/servecontent": func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "x.txt", time.Unix(1e9, 0), strings.NewReader("served content"))
		},
		"/error":    func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusForbidden) },
		"/redirect": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/small", http.StatusFound) },
		"/short": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "hello")
		},
		"/body": func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%d %q %v", r.ContentLength, b, err)
		},
		"/ignorebody": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "did not read") },
	}
}

// rawResponses sends raw and reads every response until the connection
// closes or the limit of responses (some requests never end a body).
func rawResponses(t *testing.T, addr, raw, method string) []string {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.Close()
	go func() {
		io.WriteString(c, raw)
		// The end of input ends the exchange: both servers close after
		// answering what came.
		c.(*net.TCPConn).CloseWrite()
	}()
	br := bufio.NewReader(c)
	var out []string
	for {
		req, _ := http.NewRequest(method, "/", nil)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return out
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header.Clone()
		h.Del("Date")
		var keys []string
		for k := range h {
			keys = append(keys, k+"="+strings.Join(h[k], "|"))
		}
		slices.Sort(keys)
		out = append(out, fmt.Sprintf("%s %s cl=%d te=%v close=%v err=%v\n%s\n%q",
			resp.Proto, resp.Status, resp.ContentLength, resp.TransferEncoding, resp.Close, err != nil, strings.Join(keys, "\n"), body))
		if err != nil || resp.Close {
			return out
		}
	}
}

// TestParity runs each handler behind net/http and behind this engine and
// compares what a client gets: statuses, headers but Date, bodies,
// framing, and whether the connection is kept for the next request.
func TestParity(t *testing.T) {
	handlers := parityHandlers(t)
	mux := http.NewServeMux()
	for p, h := range handlers {
		mux.HandleFunc(p, h)
	}
	ours := startEngine(t, &Server{Handler: mux, ErrorLog: quietLog()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	std := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	go std.Serve(ln)
	t.Cleanup(func() { std.Close() })

	var paths []string
	for p := range handlers {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	next := "GET /small HTTP/1.1\r\nHost: h\r\n\r\n"
	for _, p := range paths {
		for _, v := range []struct{ name, method, req string }{
			{"GET", "GET", "GET " + p + " HTTP/1.1\r\nHost: h\r\n\r\n" + next},
			{"HEAD", "HEAD", "HEAD " + p + " HTTP/1.1\r\nHost: h\r\n\r\n" + next},
			{"HTTP/1.0", "GET", "GET " + p + " HTTP/1.0\r\n\r\n"},
			{"HTTP/1.0 keep-alive", "GET", "GET " + p + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + next},
			{"POST with body", "POST", "POST " + p + " HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world" + next},
			{"POST chunked", "POST", "POST " + p + " HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + next},
		} {
			t.Run(p+"/"+v.name, func(t *testing.T) {
				want := rawResponses(t, ln.Addr().String(), v.req, v.method)
				got := rawResponses(t, ours, v.req, v.method)
				if strings.HasPrefix(v.name, "HTTP/1.0") {
					// This engine answers HTTP/1.0 in HTTP/1.1 (RFC 9110
					// section 2.5) where net/http answers HTTP/1.0; Go's
					// client then hides a "Connection: close" (close=
					// still shows it). It sends no 1xx to HTTP/1.0
					// clients, which net/http does.
					for i, g := range got {
						if i < len(want) && !strings.HasPrefix(want[i], "HTTP/1.0 ") {
							continue // the next request's, in HTTP/1.1
						}
						if !strings.HasPrefix(g, "HTTP/1.1 ") {
							t.Fatalf("response %d to HTTP/1.0 is not in HTTP/1.1:\n%s", i, g)
						}
						got[i] = "HTTP/1.0 " + strings.TrimPrefix(g, "HTTP/1.1 ")
					}
					for i := range want {
						if strings.HasPrefix(want[i], "HTTP/1.0 ") {
							want[i] = strings.Replace(want[i], "\nConnection=close\n", "\n", 1)
						}
					}
					if p == "/hints" {
						for _, g := range got {
							if strings.Contains(g, " 103 ") {
								t.Fatalf("a 103 to an HTTP/1.0 client:\n%s", g)
							}
						}
						return
					}
				}
				if len(got) != len(want) {
					t.Fatalf("%d responses, net/http gives %d:\n%s\n---- net/http:\n%s", len(got), len(want), strings.Join(got, "\n\n"), strings.Join(want, "\n\n"))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("response %d:\n%s\n---- net/http:\n%s", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// quietLog drops the servers' error logs (superfluous WriteHeader and the
// like, which the handlers provoke on purpose).
func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
