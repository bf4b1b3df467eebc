package static

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// hostileNames are file names a listing must show safely: markup, quotes,
// a newline, a tab, a text-reordering control, invalid UTF-8 (left out:
// it cannot be requested), and a name of 255 bytes.
var hostileNames = []string{
	`<img src=x onerror=alert(1)><script>.html`,
	`"quoted" & 'single'.txt`,
	"new\nline.txt",
	"tab\there.txt",
	"evil\u202egnp.exe",
	"bad\xff\xfeutf8.txt",
	strings.Repeat("long-name-", 24) + "tail.txt",
	"javascript:alert(1)",
}

// listingTree writes the directory the listing goldens show: mixed case,
// numbers, UTF-8, sizes in every unit, a subdirectory, dotfiles (left
// out) and the hostile names.
func listingTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"list/b.txt":             "bee",
		"list/A.txt":             "a",
		"list/a.txt":             "aa",
		"list/file10.txt":        "10",
		"list/file2.txt":         "2",
		"list/\u00e9t\u00e9.css": "body{}",
		"list/\u65e5\u672c.json": "{}",
		"list/Zeta/":             "",
		"list/alpha/":            "",
		"list/style.css.gz":      "gz",
		"list/.hidden":           "no",
		"list/.dotdir/":          "",
	}
	for _, n := range hostileNames {
		files["list/"+n] = "x"
	}
	writeTree(t, root, files)
	for name, size := range map[string]int64{"list/kib.bin": 1536, "list/mib.bin": 5<<20 + 123, "list/gib.iso": 3<<30 + 12345} {
		f, err := os.Create(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	// Distinct times, so sorting by time has an order to show.
	for i, name := range []string{"list/b.txt", "list/A.txt", "list/kib.bin"} {
		when := testMtime.Add(time.Duration(i+1) * time.Hour)
		if err := os.Chtimes(filepath.Join(root, name), when, when); err != nil {
			t.Fatal(err)
		}
	}
	touch := []string{"list/a.txt", "list/file10.txt", "list/file2.txt", "list/mib.bin", "list/gib.iso", "list"}
	for _, name := range touch {
		if err := os.Chtimes(filepath.Join(root, name), testMtime, testMtime); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update creates it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -run '%s' -update rewrites it):\n%s", p, t.Name(), got)
	}
}

// TestGotwistdListingGolden renders the default listing page and its JSON
// for a directory with every kind of entry and hostile names, and
// compares them with testdata/listing-gotwistd.{html,json}.
func TestGotwistdListingGolden(t *testing.T) {
	t.Parallel()
	root := listingTree(t)
	s := newTestServer(t, Config{Root: root, seams: seams{noSystemMIME: true}})
	cases := []struct {
		name, path, accept, golden, ctype, vary string
	}{
		{"html", "/list/", "", "listing-gotwistd.html", "text/html; charset=utf-8", "Accept"},
		{"html sorted by size, descending", "/list/?sort=size&order=desc", "", "listing-gotwistd-size-desc.html", "text/html; charset=utf-8", "Accept"},
		{"json by query", "/list/?format=json", "", "listing-gotwistd.json", "application/json", ""},
		{"json by accept", "/list/", "application/json", "listing-gotwistd.json", "application/json", "Accept"},
		{"html by query despite accept", "/list/?format=html", "application/json", "listing-gotwistd.html", "text/html; charset=utf-8", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.accept != "" {
				hdr["Accept"] = tc.accept
			}
			resp, body := s.do(t, "GET", tc.path, hdr)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype || resp.Header.Get("Vary") != tc.vary {
				t.Fatalf("%d, Content-Type %q, Vary %q; want 200 %q %q", resp.StatusCode,
					resp.Header.Get("Content-Type"), resp.Header.Get("Vary"), tc.ctype, tc.vary)
			}
			golden(t, tc.golden, body)
		})
	}
}

// listingRows parses an HTML listing and returns, per row of its table
// body, the link's href and text.
func listingRows(t *testing.T, page string) (hrefs, texts []string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *html.Node, inBody bool)
	walk = func(n *html.Node, inBody bool) {
		if n.Type == html.ElementNode && n.Data == "script" {
			t.Errorf("the page has a <script> element")
		}
		if n.Type == html.ElementNode && n.Data == "tbody" {
			inBody = true
		}
		if inBody && n.Type == html.ElementNode && n.Data == "a" {
			for _, a := range n.Attr {
				if a.Key == "href" {
					hrefs = append(hrefs, a.Val)
				}
			}
			var text strings.Builder
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type != html.TextNode {
					t.Errorf("link %q holds an element", hrefs[len(hrefs)-1])
				}
				text.WriteString(c.Data)
			}
			texts = append(texts, text.String())
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inBody)
		}
	}
	walk(doc, false)
	return hrefs, texts
}

// TestListingHostileNames parses the page as a browser does: every
// hostile name is one link whose text is the name made visible and whose
// href leads back to exactly that file; nothing becomes markup.
func TestListingHostileNames(t *testing.T) {
	root := listingTree(t)
	s := newTestServer(t, Config{Root: root})
	_, page := s.do(t, "GET", "/list/", nil)
	hrefs, texts := listingRows(t, page)
	for _, name := range hostileNames {
		i := slices.Index(texts, displayName(name))
		if !utf8.ValidString(name) {
			if i >= 0 || strings.Contains(page, "utf8.txt") {
				t.Errorf("%q is listed; it cannot be requested", name)
			}
			continue
		}
		if i < 0 {
			t.Errorf("%q is not listed as a link", name)
			continue
		}
		u, err := url.Parse(hrefs[i])
		if err != nil || u.Scheme != "" || u.Host != "" || u.Path != name {
			t.Errorf("%q links to %q (path %q, err %v)", name, hrefs[i], u.Path, err)
			continue
		}
		resp, body := s.do(t, "GET", "/list/"+hrefs[i], nil)
		if resp.StatusCode != 200 || body != "x" {
			t.Errorf("following the link of %q: %d %q", name, resp.StatusCode, body)
		}
	}
	if strings.Contains(page, "\u202e") {
		t.Error("a text-reordering control reached the page")
	}
	if !strings.Contains(page, "new\u240aline.txt") {
		t.Error("the newline is not shown as U+240A")
	}
}

// TestListingSort checks the order of every sort the column headers
// offer, through the JSON form.
func TestListingSort(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"d/b.txt": "bb", "d/A.txt": "aaaa", "d/a.txt": "a", "d/file10.txt": "1234567890", "d/file2.txt": "123",
		"d/\u00c9cole.txt": "ecole", "d/zed.css": "z", "d/Sub/": "", "d/sub2/": "",
	})
	for i, n := range []string{"d/a.txt", "d/zed.css", "d/file2.txt"} {
		when := testMtime.Add(time.Duration(i+1) * time.Minute)
		if err := os.Chtimes(filepath.Join(root, n), when, when); err != nil {
			t.Fatal(err)
		}
	}
	s := newTestServer(t, Config{Root: root})
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"Sub", "sub2", "A.txt", "a.txt", "b.txt", "file2.txt", "file10.txt", "zed.css", "\u00c9cole.txt"}},
		{"sort=name&order=desc", []string{"sub2", "Sub", "\u00c9cole.txt", "zed.css", "file10.txt", "file2.txt", "b.txt", "a.txt", "A.txt"}},
		{"sort=size", []string{"Sub", "sub2", "a.txt", "zed.css", "b.txt", "file2.txt", "A.txt", "\u00c9cole.txt", "file10.txt"}},
		{"sort=size&order=desc", []string{"sub2", "Sub", "file10.txt", "\u00c9cole.txt", "A.txt", "file2.txt", "b.txt", "zed.css", "a.txt"}},
		{"sort=mtime", []string{"Sub", "sub2", "A.txt", "b.txt", "file10.txt", "\u00c9cole.txt", "a.txt", "zed.css", "file2.txt"}},
		{"sort=mtime&order=desc", []string{"sub2", "Sub", "file2.txt", "zed.css", "a.txt", "\u00c9cole.txt", "file10.txt", "b.txt", "A.txt"}},
		{"sort=type", []string{"Sub", "sub2", "zed.css", "A.txt", "a.txt", "b.txt", "file2.txt", "file10.txt", "\u00c9cole.txt"}},
		{"sort=bogus&order=sideways", []string{"Sub", "sub2", "A.txt", "a.txt", "b.txt", "file2.txt", "file10.txt", "zed.css", "\u00c9cole.txt"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			_, body := s.do(t, "GET", "/d/?format=json&"+tc.query, nil)
			var items []struct {
				Name  string `json:"name"`
				IsDir bool   `json:"is_dir"`
			}
			if err := json.Unmarshal([]byte(body), &items); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestCompareNames(t *testing.T) {
	less := [][2]string{
		{"a", "B"},
		{"A", "a"}, // equal folded: bytes decide
		{"file2", "file10"},
		{"file02", "file2"}, // equal by value: bytes decide
		{"x9", "x10"},
		{"abc", "abcd"},
		{"z", "\u00e9"},
		{"", "a"},
		{"99999999999999999999998", "99999999999999999999999"},
	}
	for _, p := range less {
		if c := compareNames(p[0], p[1]); c >= 0 {
			t.Errorf("compareNames(%q, %q) = %d, want < 0", p[0], p[1], c)
		}
		if c := compareNames(p[1], p[0]); c <= 0 {
			t.Errorf("compareNames(%q, %q) = %d, want > 0", p[1], p[0], c)
		}
	}
}

// FuzzCompareNames checks that the order is antisymmetric and that only
// equal names compare equal, so sorting is the same whatever the order the
// directory was read in.
func FuzzCompareNames(f *testing.F) {
	for _, s := range []string{"a", "B", "file10", "file010", "\u00e9t\u00e9", "\xff", "0", "00", ""} {
		f.Add(s, "file2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, ba := compareNames(a, b), compareNames(b, a)
		if (ab < 0) != (ba > 0) || (ab == 0) != (ba == 0) {
			t.Fatalf("compareNames(%q, %q) = %d but reversed %d", a, b, ab, ba)
		}
		if (ab == 0) != (a == b) {
			t.Fatalf("compareNames(%q, %q) = %d", a, b, ab)
		}
	})
}

func TestWantsJSON(t *testing.T) {
	tests := []struct {
		name   string
		accept string
		want   bool
	}{
		{"curl asking for json", "application/json", true},
		{"chromium", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", false},
		{"firefox", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"axios", "application/json, text/plain, */*", true},
		{"json less wanted", "text/html, application/json;q=0.5", false},
		{"json more wanted", "text/html;q=0.5, application/json", true},
		{"json refused", "application/json;q=0", false},
		{"anything", "*/*", false},
		{"application wildcard", "application/*", true},
		{"upper case", "Application/JSON", true},
		{"bad q", "application/json;q=x", false},
		{"q with spaces", "application/json ; q = 0.8 , text/html;q=0.7", true},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := wantsJSON([]string{tc.accept}); got != tc.want {
				t.Errorf("wantsJSON(%q) = %v, want %v", tc.accept, got, tc.want)
			}
		})
	}
}

// FuzzWantsJSON checks that any Accept header is read without a panic,
// and that JSON is only chosen when the header names it.
func FuzzWantsJSON(f *testing.F) {
	for _, s := range []string{"application/json", "text/html;q=0.9,application/json;q=1", "*/*", ";;;,,q=", "application/*;q=1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		if wantsJSON([]string{accept}) && !strings.Contains(strings.ToLower(accept), "application/") {
			t.Fatalf("wantsJSON(%q) without application/", accept)
		}
	})
}

func TestListingModes(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"d/a.txt": "a", "withidx/index.html": "IDX", "404.html": "<p>gone</p>"})
	off := newTestServer(t, Config{Root: root, Listing: ListingOff})
	runCases(t, off, []serveCase{
		{name: "off is 404", path: "/d/", code: 404, body: str(notFoundPage)},
		{name: "off HEAD", method: "HEAD", path: "/d/", code: 404, body: str("")},
		{name: "off root", path: "/", code: 404},
		{name: "index still served", path: "/withidx/", code: 200, body: str("IDX")},
		{name: "redirect still", path: "/d", code: 302},
		{name: "file still", path: "/d/a.txt", code: 200, body: str("a")},
	})
	offPage := newTestServer(t, Config{Root: root, Listing: ListingOff, ErrorPages: map[int]string{404: "/404.html"}})
	runCases(t, offPage, []serveCase{
		{name: "off with error page", path: "/d/", code: 404, body: str("<p>gone</p>")},
	})
	twistd := newTestServer(t, Config{Root: root, Listing: ListingTwistd})
	runCases(t, twistd, []serveCase{
		{name: "twistd page", path: "/d/", code: 200, want: map[string]string{"Vary": ""}, check: func(t *testing.T, _ *http.Response, body string) {
			if !strings.HasPrefix(body, "<html>\n<head>\n<title>Directory listing for /d/</title>") {
				t.Errorf("not twistd's page: %.80q", body)
			}
		}},
		{name: "twistd ignores format", path: "/d/?format=json", code: 200, want: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
	})
	def := newTestServer(t, Config{Root: root})
	runCases(t, def, []serveCase{
		{name: "HEAD json", method: "HEAD", path: "/d/?format=json", code: 200, body: str(""), want: map[string]string{"Content-Type": "application/json"}},
		{name: "parent link", path: "/d/", code: 200, check: func(t *testing.T, _ *http.Response, body string) {
			if !strings.Contains(body, `<a href="../">../</a>`) {
				t.Error("no parent link")
			}
		}},
		{name: "no parent link at the root", path: "/", code: 200, check: func(t *testing.T, _ *http.Response, body string) {
			if strings.Contains(body, `href="../"`) {
				t.Error("a parent link at the root")
			}
		}},
	})
	if _, err := New(Config{Root: root, Listing: "fancy"}); err == nil || !strings.Contains(err.Error(), `listing "fancy"`) {
		t.Errorf("Listing fancy: %v", err)
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		size         int64
		human, exact string
	}{
		{0, "0 B", "0 B"},
		{1023, "1023 B", "1,023 B"},
		{1024, "1.0 KiB", "1,024 B"},
		{1536, "1.5 KiB", "1,536 B"},
		{150 << 10, "150 KiB", "153,600 B"},
		{5<<20 + 123, "5.0 MiB", "5,243,003 B"},
		{3<<30 + 12345, "3.0 GiB", "3,221,237,817 B"},
		{1 << 62, "4.0 EiB", "4,611,686,018,427,387,904 B"},
	}
	for _, tc := range tests {
		if h, e := humanSize(tc.size), exactSize(tc.size); h != tc.human || e != tc.exact {
			t.Errorf("%d: %q %q, want %q %q", tc.size, h, e, tc.human, tc.exact)
		}
	}
}
