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
