package h2

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/gotwistd/gotwistd/web/fast"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// twoFiles answers /a and /b from memory, each with header lines of its
// own.
type twoFiles struct{}

func (twoFiles) ServeFast(r *fast.Request) (fast.Response, bool) {
	switch r.Path() {
	case "/a":
		return fast.Response{Header: []byte("Content-Length: 1\r\nContent-Type: text/plain\r\nEtag: \"a\"\r\n"), Body: []byte("a")}, true
	case "/b":
		return fast.Response{Header: []byte("Content-Length: 2\r\nContent-Type: text/html\r\nEtag: \"bb\"\r\nX-Extra: yes\r\n"), Body: []byte("bb")}, true
	}
	return fast.Response{}, false
}

// TestRepeatedHeaderBlocks: a client repeating the same requests on one
// connection (its header blocks the same bytes, all indexed) gets every
// answer right, decoded by a real HPACK decoder that follows the
// connection from its start: the fast responses' kept header blocks and
// the reused request fields agree with both dynamic tables, around
// Handler responses that change the server's table, and after the client
// shrinks the table (the size update comes first in the next block).
func TestRepeatedHeaderBlocks(t *testing.T) {
	n := 0
	hs := start(t, &Server{Fast: twoFiles{}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++                                    // one stream at a time here
		w.Header().Set("X-N", strconv.Itoa(n)) // a new field each time: an insertion
		w.Write([]byte("h"))
	})})
	r := dialRaw(t, hs)
	dec := hpack.NewDecoder(4096, nil)
	id := uint32(1)
	// ask sends a request for path and checks the answer's fields;
	// sizeUpdate: the block must start with a dynamic table size update.
	ask := func(path string, want map[string]string, sizeUpdate bool) {
		t.Helper()
		r.headers(id, true, ":method", "GET", ":scheme", "https", ":authority", "x", ":path", path)
		var block []byte
		r.until(func(f http2.Frame) bool {
			if h, ok := f.(*http2.HeadersFrame); ok && h.StreamID == id {
				if !h.HeadersEnded() {
					t.Fatalf("%s: CONTINUATION not expected here", path)
				}
				block = h.HeaderBlockFragment()
				return true
			}
			return false
		})
		if got := block[0]&0xe0 == 0x20; got != sizeUpdate {
			t.Fatalf("%s on stream %d: block starts with a size update: %v, want %v (block % x)", path, id, got, sizeUpdate, block)
		}
		fields, err := dec.DecodeFull(block)
		if err != nil {
			t.Fatalf("%s on stream %d: %v", path, id, err)
		}
		got := map[string]string{}
		for _, f := range fields {
			got[f.Name] = f.Value
		}
		if got["date"] == "" {
			t.Errorf("%s on stream %d: no date in %v", path, id, fields)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s on stream %d: %s = %q, want %q (all: %v)", path, id, k, got[k], v, fields)
			}
		}
		id += 2
	}
	a := map[string]string{":status": "200", "content-length": "1", "content-type": "text/plain", "etag": `"a"`}
	b := map[string]string{":status": "200", "content-length": "2", "content-type": "text/html", "etag": `"bb"`, "x-extra": "yes"}
	for round := range 3 {
		for range 3 {
			ask("/a", a, false)
		}
		for range 2 {
			ask("/b", b, false)
			ask("/a", a, false)
		}
		ask("/h", map[string]string{":status": "200", "x-n": strconv.Itoa(round + 1)}, false)
	}
	ask("/a", a, false)
	ask("/a", a, false) // kept: the next /a would reuse it
	// The client shrinks the server's table, then asks again.
	if err := r.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 64}); err != nil {
		t.Fatal(err)
	}
	r.until(func(f http2.Frame) bool {
		s, ok := f.(*http2.SettingsFrame)
		return ok && s.IsAck()
	})
	ask("/a", a, true)
	for i := range 4 {
		ask(fmt.Sprintf("/%c", "ab"[i%2]), map[string]map[string]string{"/a": a, "/b": b}[fmt.Sprintf("/%c", "ab"[i%2])], false)
	}
	ask("/h", map[string]string{":status": "200", "x-n": "4"}, false)
	ask("/a", a, false)
}

// TestRepeatedBlockThatIndexes: the same header block twice, when it
// adds to the decoder's table, is decoded twice: a third block naming
// the entries the second added is understood, and sent again (it adds
// nothing) gets the same answer.
func TestRepeatedBlockThatIndexes(t *testing.T) {
	hs := start(t, &Server{Fast: twoFiles{}})
	r := dialRaw(t, hs)
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	// :method GET, :scheme https, :authority x (literal, indexed),
	// :path /a (literal, not indexed), x-a: 1 (literal, indexed).
	twice := []byte{0x82, 0x87, 0x41, 0x01, 'x', 0x04, 0x02, '/', 'a', 0x40, 0x03, 'x', '-', 'a', 0x01, '1'}
	// :authority x as entry 65: the one the first block added, once the
	// second block's two entries are in front of it.
	third := []byte{0x82, 0x87, 0xc1, 0x04, 0x02, '/', 'a'}
	// third twice: the second time, its fields again without decoding.
	for i, block := range [][]byte{twice, twice, third, third} {
		if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
	}
	var got string
	r.until(func(f http2.Frame) bool {
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			got = "GOAWAY " + f.ErrCode.String()
		case *http2.MetaHeadersFrame:
			if got = "HEADERS " + f.PseudoValue("status"); got == "HEADERS 200" && f.StreamID != 7 {
				got = ""
			}
		}
		return got != ""
	})
	if got != "HEADERS 200" {
		t.Fatalf("streams 1-7: %s, want HEADERS 200 on each", got)
	}
}

// FuzzTableNeutral: a block tableNeutral calls neutral, once decoded,
// leaves a fresh decoder's dynamic table empty (a block naming its first
// entry fails after it); and no input makes it panic.
func FuzzTableNeutral(f *testing.F) {
	for _, seed := range [][]byte{
		{0x82, 0x87, 0x84},
		{0x82, 0x04, 0x02, '/', 'a'},
		{0x10, 0x01, 'k', 0x01, 'v'},
		{0x00, 0x81, 0x9c, 0x01, 'v'},
		{0x41, 0x01, 'x'},
		{0x3f, 0xe1, 0x1f},
		{0xff, 0x80, 0x01},
		{0x0f, 0x12, 0x7f, 0x00},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		neutral := tableNeutral(block)
		d := hpack.NewDecoder(4096, nil)
		if _, err := d.DecodeFull(block); err != nil || !neutral {
			return
		}
		if _, err := d.DecodeFull([]byte{0xbe}); err == nil {
			t.Fatalf("% x: called neutral, but the table has an entry after it", block)
		}
	})
}
