package static

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parseLines turns "K: V\r\n" lines into a header.
func parseLines(t *testing.T, b []byte) http.Header {
	t.Helper()
	h := http.Header{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("bad header line %q in %q", l, b)
		}
		h[k] = append(h[k], v)
	}
	return h
}

// TestCachedMatchesServeHTTP: for a cached file, Cached gives the header
// and body ServeHTTP gives a plain GET (Date aside), with and without
// added headers.
func TestCachedMatchesServeHTTP(t *testing.T) {
	files := map[string]string{
		"page.html": "<p>page</p>", "style.css": "b{}", "data.unknownext": "?", "a.txt.gz": "GZ",
		"dir/index.html": "index", "dir/deep/x.js": "js",
	}
	for _, cfg := range []Config{
		{},
		{ServerHeader: "gotwistd/9", Headers: [][2]string{{"X-Frame-Options", "DENY"}, {"Content-Type", "overridden"}, {"Vary", "Cookie"}, {"X-Multi", "1"}, {"X-Multi", "2"}}},
		{Headers: [][2]string{{"Server", "mine"}, {"Content-Encoding", "br"}}},
	} {
		root := t.TempDir()
		writeTree(t, root, files)
		h, err := New(Config{Root: root, ServerHeader: cfg.ServerHeader, Headers: cfg.Headers})
		if err != nil {
			t.Fatal(err)
		}
		h.now = laterClock
		for _, p := range []string{"/page.html", "/style.css", "/data.unknownext", "/a.txt.gz", "/dir/index.html", "/dir/deep/x.js"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
			head, body, ok := h.Cached(p, false)
			if !ok {
				t.Fatalf("%s: not answered from the cache", p)
			}
			got := parseLines(t, head)
			want := rec.Header().Clone()
			want.Del("Date")
			if !equalHeaders(got, want) {
				t.Errorf("%s with %v:\nCached:    %v\nServeHTTP: %v", p, cfg.Headers, got, want)
			}
			if !bytes.Equal(body, rec.Body.Bytes()) {
				t.Errorf("%s: body %q, want %q", p, body, rec.Body.Bytes())
			}
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

// TestCachedDeclines: what ServeHTTP might answer differently, Cached
// leaves to it.
func TestCachedDeclines(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.txt": "a", "dir/b.txt": "b", ".hidden": "h", "fresh.txt": "new"})
	h, err := New(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	h.now = laterClock
	for _, p := range []string{"/a.txt", "/dir/b.txt", "/dir/", "/.hidden"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	if _, _, ok := h.Cached("/a.txt", false); !ok {
		t.Fatal("a cached file was not answered")
	}
	for _, p := range []string{
		"/a%2etxt", "//a.txt", "/dir//b.txt", "/a.txt/", "/dir/", "/dir", "/", "/.hidden", "/missing.txt",
		"/fresh.txt", // not cached yet
		"/dir/../a.txt", "/./a.txt", "", "a.txt",
	} {
		if _, _, ok := h.Cached(p, false); ok {
			t.Errorf("Cached(%q) answered", p)
		}
	}
	// A file changed on disk is seen at once.
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := h.Cached("/a.txt", false); ok {
		t.Error("a changed file was answered from the cache")
	}
	// With an added Date header, never.
	h2, err := New(Config{Root: root, Headers: [][2]string{{"Date", "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	h2.now = laterClock
	h2.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/dir/b.txt", nil))
	if _, _, ok := h2.Cached("/dir/b.txt", false); ok {
		t.Error("answered with an added Date header")
	}
}

// TestWatchedTrust: with the watcher drained (Refresh) before each
// request, Cached trusts a file it has stat'ed, and stops trusting it
// after any change to the file or to a directory on its path.
func TestWatchedTrust(t *testing.T) {
	root := t.TempDir()
	h := func() *Handler {
		writeTree(t, root, map[string]string{"dir/sub/a.txt": "a", "b.txt": "b"})
		h, err := New(Config{Root: root})
		if err != nil {
			t.Fatal(err)
		}
		h.now = laterClock
		return h
	}()
	if h.startWatchNow(); h.WatchFD() < 0 {
		t.Skip("no inotify here")
	}
	get := func(p string) bool {
		h.Refresh()
		_, _, ok := h.Cached(p, true)
		return ok
	}
	fill := func(p string) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
		if !get(p) {
			t.Fatalf("%s not answered", p)
		}
	}
	vouched := func(p string) bool {
		e := h.cache.get(strings.TrimPrefix(p, "/"))
		return e != nil && h.watch.vouch(e.trust, time.Now().UnixNano())
	}
	fill("/dir/sub/a.txt")
	if !vouched("/dir/sub/a.txt") {
		t.Fatal("not trusted after a stat found it unchanged")
	}
	changes := []struct {
		name   string
		change func() error
	}{
		{"content", func() error { return os.WriteFile(filepath.Join(root, "dir/sub/a.txt"), []byte("A2"), 0o644) }},
		{"mode", func() error { return os.Chmod(filepath.Join(root, "dir/sub/a.txt"), 0o600) }},
		{"replaced by rename", func() error {
			p := filepath.Join(root, "dir/sub/new")
			if err := os.WriteFile(p, []byte("N"), 0o644); err != nil {
				return err
			}
			return os.Rename(p, filepath.Join(root, "dir/sub/a.txt"))
		}},
		{"parent renamed", func() error { return os.Rename(filepath.Join(root, "dir/sub"), filepath.Join(root, "dir/moved")) }},
		{"unrelated file in root", func() error { return os.WriteFile(filepath.Join(root, "other.txt"), nil, 0o644) }},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			writeTree(t, root, map[string]string{"dir/sub/a.txt": "a"})
			os.RemoveAll(filepath.Join(root, "dir/moved"))
			h.Refresh()
			fill("/dir/sub/a.txt")
			fill("/dir/sub/a.txt") // trusted again
			if !vouched("/dir/sub/a.txt") {
				t.Fatal("not trusted before the change")
			}
			if err := c.change(); err != nil {
				t.Fatal(err)
			}
			h.Refresh()
			if vouched("/dir/sub/a.txt") {
				t.Error("still trusted after the change")
			}
		})
	}
	// A change ancestors of Root do not matter for, does not count.
	fill("/b.txt")
	if err := os.WriteFile(filepath.Join(filepath.Dir(root), "unrelated-"+filepath.Base(root)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(filepath.Join(filepath.Dir(root), "unrelated-"+filepath.Base(root)))
	h.Refresh()
	if !vouched("/b.txt") {
		t.Error("a file created next to Root ended the trust")
	}
}

// TestWatchOff: no watcher for a Root reached through a symbolic link,
// or with NoFollowSymlinks; and no trust for a file reached through a
// link below Root.
func TestWatchOff(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "www")
	writeTree(t, root, map[string]string{"real/a.txt": "a"})
	if err := os.Symlink("real", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("www", filepath.Join(base, "alias")); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{{Root: filepath.Join(base, "alias")}, {Root: root, NoFollowSymlinks: true}} {
		h, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if h.startWatchNow(); h.WatchFD() >= 0 {
			t.Errorf("%+v: watching, fd %d", cfg, h.WatchFD())
		}
	}
	h, err := New(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	h.now = laterClock
	if h.startWatchNow(); h.WatchFD() < 0 {
		t.Skip("no inotify here")
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/link/a.txt", nil))
	for range 2 {
		h.Refresh()
		if _, _, ok := h.Cached("/link/a.txt", true); !ok {
			t.Fatal("not answered")
		}
	}
	if e := h.cache.get("link/a.txt"); e == nil || h.watch.vouch(e.trust, time.Now().UnixNano()) {
		t.Error("a file reached through a link is trusted without a stat")
	}
}
