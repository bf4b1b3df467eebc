package static

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestListingGolden renders a directory with every kind of entry the
// listing knows (directories, a link to one, sizes in each unit, names to
// escape, encodings, dotfiles and a dangling link that are left out) and
// compares the page with testdata/listing.golden.
func TestListingGolden(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "list")
	writeTree(t, root, map[string]string{
		"list/a.txt":                       "hello",
		"list/B upper.TXT":                 "B",
		"list/index.htm.bak":               "not an index",
		"list/we<i>rd & \"q\" 'x'.html":    "w",
		"list/pct%20name.css":              "p",
		"list/caf\u00e9 \u65e5\u672c.json": "u",
		"list/tarball.tar.gz":              "gz",
		"list/notes.bz2":                   "bz",
		"list/noext":                       "",
		"list/.hidden":                     "h",
		"list/zdir/":                       "",
		"list/adir/":                       "",
		"list/.dotdir/":                    "",
		"list/dir with space/":             "",
	})
	sizes := map[string]int64{
		"list/1023.bin": 1023, "list/1024.bin": 1024, "list/1536.bin": 1536,
		"list/5m.bin": 5 << 20, "list/big.iso": 3<<30 + 12345,
	}
	for name, size := range sizes {
		p := filepath.Join(root, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := os.Symlink("adir", filepath.Join(dir, "link-to-dir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("nowhere", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	// Types from the built-in table only, so the page does not depend on
	// this machine's /etc/mime.types.
	s := newTestServer(t, Config{Root: root, Listing: ListingTwistd, seams: seams{noSystemMIME: true}})
	resp, body := s.do(t, "GET", "/list/?a=%3Cb%3E&c", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("listing: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	golden := filepath.Join("testdata", "listing.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestListingGolden -update to create it)", err)
	}
	if body != string(want) {
		t.Errorf("listing differs from %s (go test -run TestListingGolden -update rewrites it):\n%s", golden, body)
	}
}

func TestFormatFileSize(t *testing.T) {
	for size, want := range map[int64]string{0: "0B", 1: "1B", 1023: "1023B", 1024: "1K", 1535: "1K", 1 << 20: "1M",
		(1 << 20) - 1: "1023K", 5<<30 + 1: "5G", 1 << 40: "1024G"} {
		if got := formatFileSize(size); got != want {
			t.Errorf("formatFileSize(%d) = %q, want %q", size, got, want)
		}
	}
}

func TestEscaping(t *testing.T) {
	for in, want := range map[string]string{"a b": "a%20b", "x/y": "x/y", "a%b": "a%25b", "caf\u00e9": "caf%C3%A9",
		"~-._": "~-._", "<&>\"'": "%3C%26%3E%22%27", "?#": "%3F%23"} {
		if got := quoteURL(in); got != want {
			t.Errorf("quoteURL(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{`<a href="x">&'`: "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;", "plain": "plain"} {
		if got := escapeHTML(in); got != want {
			t.Errorf("escapeHTML(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"/a%20b/": "/a b/", "%zz%4": "%zz%4", "%C3%A9": "\u00e9", "%ff": "\ufffd", "+": "+"} {
		if got := unquoteURL(in); got != want {
			t.Errorf("unquoteURL(%q) = %q, want %q", in, got, want)
		}
	}
}
