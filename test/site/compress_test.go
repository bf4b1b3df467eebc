package site

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCurlCompressed drives the real binary with curl --compressed over
// each engine, three times so that the cached bytes and the fast paths
// answer too: the page arrives compressed (br or zstd, which curl
// --compressed offers), decodes to the file, and carries the coding's
// ETag and Vary; with a Range, curl gets the file's own bytes; with
// --no-compress, the file as it is.
func TestCurlCompressed(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 30000; i++ {
		fmt.Fprintf(&b, "<li>item %d of a long list</li>\n", i)
	}
	page := b.String()
	root := writeFiles(t, map[string]string{"list.html": page})
	engines := curlEngines(t)
	// Cached in memory once 2 s passed since the file's last change.
	time.Sleep(2100 * time.Millisecond)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := start(t, e.listen, append([]string{"--path", root}, e.args...)...)
			base := e.base(s)
			get := func(extra ...string) (string, map[string][]string, string) {
				return curl(t, append(append(append([]string{}, e.curl...), extra...), base+"/list.html")...)
			}
			_, plain, _ := get()
			etag := plain["etag"][0]
			for i := range 3 {
				st, h, body := get("--compressed")
				enc := strings.Join(h["content-encoding"], ",")
				if !strings.Contains(st, " 200") || body != page || enc != "br" && enc != "zstd" {
					t.Fatalf("round %d: %s, Content-Encoding %q, body equal to the file: %v", i, st, enc, body == page)
				}
				suffix := map[string]string{"br": "-br", "zstd": "-zst"}[enc]
				if got := h["etag"][0]; got != etag[:len(etag)-1]+suffix+`"` || strings.Join(h["vary"], ",") != "Accept-Encoding" {
					t.Errorf("round %d: ETag %s, Vary %v; the file's ETag is %s", i, got, h["vary"], etag)
				}
				if n := h["content-length"]; len(n) != 1 || n[0] == fmt.Sprint(len(page)) {
					t.Errorf("round %d: Content-Length %v for a %d-byte file", i, n, len(page))
				}
				st, h, body = get("--compressed", "-r", "100-199")
				if !strings.Contains(st, " 206") || body != page[100:200] || h["content-encoding"] != nil {
					t.Errorf("round %d: Range: %s %v %q", i, st, h, body)
				}
			}
		})
	}
	s := start(t, "tcp:0:interface=127.0.0.1", "--path", root, "--no-compress")
	st, h, body := curl(t, "--compressed", "http://"+s.addr+"/list.html")
	if !strings.Contains(st, " 200") || body != page || h["content-encoding"] != nil || h["vary"] != nil {
		t.Errorf("--no-compress: %s %v", st, h)
	}
}
