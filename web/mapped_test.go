//go:build unix

package web

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestLargeFileTruncated: a large file is sent from a mapping of it; when
// the file is truncated in the middle of a response, that response ends
// short and the connection closes (the kernel fails the write with
// EFAULT; had the process read the mapping itself it would have died of
// SIGBUS), and the server goes on serving, the new content included. With
// --handover on, connections are wrapped by the handover tracker, and the
// file goes to the socket beneath it the same way.
func TestLargeFileTruncated(t *testing.T) {
	for _, handover := range []string{"off", "on"} {
		t.Run("handover "+handover, func(t *testing.T) { testLargeFileTruncated(t, handover) })
	}
}

func testLargeFileTruncated(t *testing.T, handover string) {
	dir := t.TempDir()
	big := make([]byte, 16<<20) // more than the socket buffers hold
	rand.Read(big)
	path := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", dir, "--handover", handover})
	url := "http://" + ts.addr(0) + "/big.bin"
	client := &http.Client{Timeout: 30 * time.Second}

	resp, body := get(t, client, "GET", url, nil)
	if resp.StatusCode != 200 || !bytes.Equal([]byte(body), big) {
		t.Fatalf("GET: %d with %d bytes, want 200 with the file's %d", resp.StatusCode, len(body), len(big))
	}

	c, err := net.Dial("tcp", ts.addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != int64(len(big)) {
		t.Fatalf("Content-Length %d, want %d", resp.ContentLength, len(big))
	}
	time.Sleep(200 * time.Millisecond) // the server is now waiting to write more
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil || n >= int64(len(big)) {
		t.Fatalf("read %d bytes of %d, error %v: want a short body", n, len(big), err)
	}
	t.Logf("the response ended after %d of %d bytes: %v", n, len(big), err)

	small := []byte("new, smaller content\n")
	if err := os.WriteFile(path, small, 0o644); err != nil {
		t.Fatal(err)
	}
	resp, body = get(t, client, "GET", url, nil)
	if resp.StatusCode != 200 || body != string(small) {
		t.Fatalf("GET after the change: %d %q, want 200 %q", resp.StatusCode, body, small)
	}
	if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(len(small)) {
		t.Errorf("Content-Length %s, want %d", got, len(small))
	}
}

// TestLargeFileRanges: whole large files, ranges of them, HEAD and
// conditional requests answer the same on gotwistd's HTTP/1.1 engine (which
// writes them from a mapping) as on net/http's (sendfile), byte for byte,
// on a keep-alive connection that goes on.
func TestLargeFileRanges(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 3<<20+12345)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	size := len(big)
	cases := []struct {
		name, method, rng string
		code              int
		body              []byte
	}{
		{"whole", "GET", "", 200, big},
		{"HEAD", "HEAD", "", 200, nil},
		{"first byte", "GET", "bytes=0-0", 206, big[:1]},
		{"middle", "GET", "bytes=1000000-2500000", 206, big[1000000:2500001]},
		{"suffix", "GET", "bytes=-70000", 206, big[size-70000:]},
		{"open end", "GET", "bytes=3000000-", 206, big[3000000:]},
		{"past the end", "GET", "bytes=5000000-", 416, nil},
	}
	for _, engine := range []string{"gotwistd", "net/http"} {
		t.Run(engine, func(t *testing.T) {
			ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", dir, "--http1-engine", engine})
			client := &http.Client{Timeout: 30 * time.Second} // one keep-alive connection for all
			url := "http://" + ts.addr(0) + "/big.bin"
			for _, tc := range cases {
				h := http.Header{}
				if tc.rng != "" {
					h.Set("Range", tc.rng)
				}
				resp, body := get(t, client, tc.method, url, h)
				if resp.StatusCode != tc.code || !bytes.Equal([]byte(body), tc.body) {
					t.Errorf("%s: %d with %d bytes, want %d with %d", tc.name, resp.StatusCode, len(body), tc.code, len(tc.body))
				}
				if tc.method == "HEAD" && resp.ContentLength != int64(size) {
					t.Errorf("%s: Content-Length %d, want %d", tc.name, resp.ContentLength, size)
				}
			}
			etag := func() string { r, _ := get(t, client, "HEAD", url, nil); return r.Header.Get("Etag") }()
			if resp, body := get(t, client, "GET", url, http.Header{"If-None-Match": {etag}}); resp.StatusCode != 304 || body != "" {
				t.Errorf("If-None-Match: %d with %d bytes, want 304 and none", resp.StatusCode, len(body))
			}
			if resp, body := get(t, client, "GET", url, http.Header{"If-Range": {etag}, "Range": {"bytes=10-19"}}); resp.StatusCode != 206 || body != string(big[10:20]) {
				t.Errorf("If-Range with the ETag: %d %q", resp.StatusCode, body)
			}
		})
	}
}
