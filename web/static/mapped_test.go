//go:build unix

package static

import (
	"bytes"
	"crypto/rand"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// syscallRecorder is a ResponseWriter with WriteSyscall that keeps copies
// of what it was given (a test may read the mapping: nothing truncates
// its file) and the slices themselves, to see which mapping they came
// from.
type syscallRecorder struct {
	*httptest.ResponseRecorder
	decline bool
	got     [][]byte
}

func (w *syscallRecorder) WriteSyscall(p []byte) (int, bool, error) {
	if w.decline {
		return 0, false, nil
	}
	if len(p) == 0 { // asking whether it can
		return 0, true, nil
	}
	w.got = append(w.got, p)
	w.Body.Write(p)
	return len(p), true, nil
}

// mappedFile writes size random bytes to a file and opens it.
func mappedFile(t *testing.T, size int) (*os.File, fileID, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := fstat(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, fi.id, data
}

// testMaps returns an empty mapCache, the clock its test moves and a now
// reading it; the cache's sweep timer is stopped when the test ends.
func testMaps(t *testing.T) (*mapCache, *time.Time, func() time.Time) {
	c := &mapCache{}
	clock := time.Unix(1e9, 0)
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.timer != nil {
			c.timer.Stop()
		}
	})
	return c, &clock, func() time.Time { return clock }
}

// TestWriteMapped: the body and ranges come from one mapping, kept for
// the next request; writers without WriteSyscall, or declining, get
// nothing, and the caller sends the file another way.
func TestWriteMapped(t *testing.T) {
	f, id, data := mappedFile(t, 3<<20)
	clock := time.Unix(1e9, 0)
	h := &Handler{now: func() time.Time { return clock }}

	cases := []struct {
		name          string
		start, length int64
	}{
		{"whole file", 0, int64(len(data))},
		{"a range", 12345, 1 << 20},
		{"the last byte", int64(len(data)) - 1, 1},
	}
	var first *byte
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &syscallRecorder{ResponseRecorder: httptest.NewRecorder()}
			if !h.writeMapped(w, f, id, tc.start, tc.length) {
				t.Fatal("writeMapped declined")
			}
			if want := data[tc.start : tc.start+tc.length]; !bytes.Equal(w.Body.Bytes(), want) {
				t.Fatalf("wrote %d bytes, not the file's %d at %d", w.Body.Len(), len(want), tc.start)
			}
			base := &w.got[0][:1][0]
			if tc.start == 0 {
				if first == nil {
					first = base
				} else if base != first {
					t.Error("a second mapping of an unchanged file")
				}
			}
		})
	}
	if m := h.maps.m[id]; m == nil || m.refs != 1 {
		t.Fatalf("cached mapping %+v, want one held by the cache only", m)
	}

	plain := httptest.NewRecorder()
	if h.writeMapped(plain, f, id, 0, int64(len(data))) || plain.Body.Len() != 0 {
		t.Error("wrote to a ResponseWriter without WriteSyscall")
	}
	decl := &syscallRecorder{ResponseRecorder: httptest.NewRecorder(), decline: true}
	other := id
	other.mtime++ // a version not mapped yet
	if h.writeMapped(decl, f, other, 0, int64(len(data))) {
		t.Error("reported success when WriteSyscall declined")
	}
	if h.maps.m[other] != nil {
		t.Error("mapped a file for a writer that declines")
	}
}

// TestMapCacheLifetime: a changed file gets its own mapping; mappings idle
// for mapIdle are dropped, but one still in use stays mapped until its
// user is done.
func TestMapCacheLifetime(t *testing.T) {
	f, id, data := mappedFile(t, 200<<10)
	c, clock, now := testMaps(t)

	held := c.get(f, id, now)
	if held == nil {
		t.Fatal("no mapping")
	}
	changed := id
	changed.mtime++
	other := c.get(f, changed, now)
	if other == held || len(c.m) != 2 {
		t.Fatalf("a changed file version shares a mapping (%d kept)", len(c.m))
	}
	c.release(other)

	*clock = clock.Add(mapIdle)
	c.mu.Lock()
	c.evictLocked(clock.UnixNano(), 0)
	c.mu.Unlock()
	if len(c.m) != 0 || c.bytes != 0 {
		t.Fatalf("%d mappings (%d bytes) kept after %v idle", len(c.m), c.bytes, mapIdle)
	}
	if held.refs != 1 || !bytes.Equal(held.data, data) {
		t.Fatalf("the mapping in use: refs %d, content equal %v", held.refs, bytes.Equal(held.data, data))
	}
	c.release(held)
	if held.refs != 0 {
		t.Fatalf("refs %d after the last release", held.refs)
	}
}

// TestMapCacheBounds: at most mapMaxFiles files are kept, the least
// recently used going first.
func TestMapCacheBounds(t *testing.T) {
	f, id, _ := mappedFile(t, 200<<10)
	c, clock, now := testMaps(t)
	for i := range mapMaxFiles + 5 {
		v := id
		v.mtime = int64(i)
		*clock = clock.Add(time.Millisecond)
		c.release(c.get(f, v, now))
	}
	if len(c.m) != mapMaxFiles {
		t.Fatalf("%d mappings kept, want %d", len(c.m), mapMaxFiles)
	}
	for i := range 5 {
		v := id
		v.mtime = int64(i)
		if c.m[v] != nil {
			t.Errorf("version %d, among the oldest, is still mapped", i)
		}
	}
}
