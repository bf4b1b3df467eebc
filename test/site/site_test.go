package site

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// chromium runs headless chromium with args and the options that keep it
// from reaching anything but the test's server, and returns its output.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium): the listing page is not checked in a browser")
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.Command(bin, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %q: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// listingFiles are the files of the directory the browser is shown.
var listingFiles = map[string]string{
	"list/Zebra.txt":               "zebra",
	"list/apple.txt":               "apple",
	"list/file10.log":              "ten",
	"list/file2.log":               "2",
	"list/\u65e5\u672c.txt":        "nihon",
	"list/<b onclick=x>bold&.html": "b",
	"list/big.bin":                 strings.Repeat("x", 150000),
	"list/sub/":                    "",
	"list/" + longName + ".gz":     "z",
	// The probe measures the listing's layout in a frame of a given
	// width: the page must not be wider than the frame.
	"probe.html": `<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="f" src="/list/" style="width:390px;height:800px;border:0"></iframe>
<script>
window.addEventListener("load", function () {
  var f = document.getElementById("f");
  var sizes = [390, 1200], out = [];
  sizes.forEach(function (w) {
    f.style.width = w + "px";
    var d = f.contentDocument.documentElement;
    out.push(w + ":" + d.scrollWidth + ":" + f.contentDocument.querySelectorAll("tbody tr").length);
  });
  document.getElementById("result").textContent = out.join(" ");
});
</script></body></html>`,
}

var longName = strings.Repeat("averylongnamewithoutanyplacetobreak", 6) + "end"

// TestChromiumListing opens the listing in headless chromium: the DOM it
// builds has a row per entry, with the link text of each name and the
// sizes; sorting by size puts the largest first; and at phone and
// desktop width the page is no wider than the window (long names wrap).
func TestChromiumListing(t *testing.T) {
	root := writeFiles(t, listingFiles)
	s := start(t, "tcp:0:interface=127.0.0.1", "--path", root)
	dom := chromium(t, "--dump-dom", "--window-size=1200,800", "http://"+s.addr+"/list/")
	rows := tableRows(t, dom)
	want := []string{"../ (parent directory)", "sub/", "<b onclick=x>bold&.html", "apple.txt", longName + ".gz", "big.bin", "file2.log",
		"file10.log", "Zebra.txt", "\u65e5\u672c.txt"}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%q", len(rows), len(want), rows)
	}
	for i, w := range want {
		if rows[i][0] != w {
			t.Errorf("row %d: name %q, want %q", i, rows[i][0], w)
		}
	}
	if big := rows[5]; big[1] != "146 KiB150,000 B" || !strings.HasPrefix(big[3], "application/") {
		t.Errorf("big.bin row: %q", big)
	}
	if !strings.Contains(dom, "<title>Index of /list/</title>") {
		t.Error("no title")
	}

	bySize := tableRows(t, chromium(t, "--dump-dom", "http://"+s.addr+"/list/?sort=size&order=desc"))
	if len(bySize) < 3 || bySize[1][0] != "sub/" || bySize[2][0] != "big.bin" {
		t.Errorf("sorted by size, descending: %q", bySize)
	}

	probe := chromium(t, "--dump-dom", "--virtual-time-budget=10000", "http://"+s.addr+"/probe.html")
	result := between(probe, `<pre id="result">`, "</pre>")
	t.Logf("layout probe (width:scrollWidth:rows): %s", result)
	// "width:scrollWidth:rows" for each frame width.
	fields := strings.Fields(result)
	if len(fields) != 2 {
		t.Fatalf("the layout probe did not run: %q", result)
	}
	for _, m := range fields {
		var width, scroll, n int
		if _, err := fmt.Sscanf(m, "%d:%d:%d", &width, &scroll, &n); err != nil {
			t.Fatalf("probe result %q: %v", m, err)
		}
		if scroll > width {
			t.Errorf("in a frame %d px wide the listing is %d px wide: it does not fit", width, scroll)
		}
		if n != 10 {
			t.Errorf("in a frame %d px wide the listing has %d rows, want 10", width, n)
		}
	}
}

// tableRows returns the text of each cell of each row of the page's
// table body.
func tableRows(t *testing.T, page string) [][]string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	var text func(n *html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			b.WriteString(text(c))
		}
		return b.String()
	}
	var walk func(n *html.Node, inBody bool)
	walk = func(n *html.Node, inBody bool) {
		if n.Type == html.ElementNode && n.Data == "tbody" {
			inBody = true
		}
		if inBody && n.Type == html.ElementNode && n.Data == "tr" {
			var cells []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && c.Data == "td" {
					cells = append(cells, strings.TrimSpace(text(c)))
				}
			}
			rows = append(rows, cells)
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inBody)
		}
	}
	walk(doc, false)
	return rows
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	if j := strings.Index(s, b); j >= 0 {
		return s[:j]
	}
	return s
}

// curl runs curl -sS with args and returns the response head (lower-case
// names) and body.
func curl(t *testing.T, args ...string) (status string, header map[string][]string, body string) {
	t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	dir := t.TempDir()
	hf, bf := filepath.Join(dir, "head"), filepath.Join(dir, "body")
	cmd := exec.Command(bin, append([]string{"-sS", "-D", hf, "-o", bf}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("curl %q: %v\n%s", args, err, out)
	}
	head, _ := os.ReadFile(hf)
	b, _ := os.ReadFile(bf)
	header = map[string][]string{}
	lines := strings.Split(strings.TrimSpace(string(head)), "\r\n")
	status = lines[0]
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		k = strings.ToLower(k)
		header[k] = append(header[k], strings.TrimSpace(v))
	}
	return status, header, string(b)
}

// TestCurlSiteOptions drives the real binary with curl over each engine
// (gotwistd's and net/http's HTTP/1.1, gotwistd's and net/http's HTTP/2
// over TLS), three times per URL so that cached files come from the fast
// paths: cache rules, CORS for a list of origins, an error page, the
// single-page-app fallback, a preflight, and the listing's JSON.
func TestCurlSiteOptions(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"app.css": "body{}", "index.html": "<p>app</p>", "404.html": "<p>no such page</p>", "d/a.txt": "A",
	})
	engines := curlEngines(t)
	// Cached in memory once 2 s passed since the files' last change
	// (their ctime, which cannot be set back).
	time.Sleep(2100 * time.Millisecond)
	const app = "https://app.example"
	site := []string{"--path", root, "--cache-control", "*.css=max-age=31536000,immutable", "--cache-control", "*.html=no-cache",
		"--cors", app + ",https://other.example", "--error-page", "404=/404.html", "--spa-fallback", "/index.html"}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := start(t, e.listen, append(site, e.args...)...)
			base := e.base(s)
			get := func(path string, extra ...string) (string, map[string][]string, string) {
				return curl(t, append(append(append([]string{}, e.curl...), extra...), base+path)...)
			}
			for i := 0; i < 3; i++ {
				st, h, body := get("/app.css", "-H", "Origin: "+app)
				if !strings.Contains(st, " 200") || body != "body{}" || strings.Join(h["cache-control"], ",") != "max-age=31536000,immutable" ||
					strings.Join(h["access-control-allow-origin"], ",") != app || strings.Join(h["vary"], ",") != "Origin" {
					t.Errorf("round %d, /app.css from the app: %s %v %q", i, st, h, body)
				}
				st, h, _ = get("/app.css")
				if !strings.Contains(st, " 200") || h["access-control-allow-origin"] != nil || strings.Join(h["vary"], ",") != "Origin" {
					t.Errorf("round %d, /app.css without Origin: %s %v", i, st, h)
				}
				st, h, body = get("/nope.txt")
				if !strings.Contains(st, " 404") || body != "<p>no such page</p>" || h["content-type"][0] != "text/html" {
					t.Errorf("round %d, 404: %s %v %q", i, st, h, body)
				}
				st, h, body = get("/users/42")
				if !strings.Contains(st, " 200") || body != "<p>app</p>" || h["cache-control"][0] != "no-cache" {
					t.Errorf("round %d, app route: %s %v %q", i, st, h, body)
				}
			}
			st, h, _ := get("/app.css", "-X", "OPTIONS", "-H", "Origin: "+app, "-H", "Access-Control-Request-Method: GET",
				"-H", "Access-Control-Request-Headers: range")
			if !strings.Contains(st, " 204") || h["access-control-allow-origin"][0] != app || h["access-control-allow-headers"][0] != "range" ||
				h["access-control-max-age"][0] != "86400" {
				t.Errorf("preflight: %s %v", st, h)
			}
			st, h, body := get("/d/", "-H", "Accept: application/json")
			var items []map[string]any
			if !strings.Contains(st, " 200") || h["content-type"][0] != "application/json" || json.Unmarshal([]byte(body), &items) != nil ||
				len(items) != 1 || items[0]["name"] != "a.txt" || items[0]["size"] != 1.0 || items[0]["is_dir"] != false {
				t.Errorf("JSON listing: %s %v %q", st, h, body)
			}
		})
	}
}

// TestStartErrors: a site option that cannot work stops the start with
// one line naming it, and exit status 1.
func TestStartErrors(t *testing.T) {
	root := writeFiles(t, map[string]string{"index.html": "x", "sub/": ""})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing error page", []string{"--path", root, "--error-page", "404=/404.html"}, `error page for 404 "/404.html": no such file under ` + root},
		{"error page is a directory", []string{"--path", root, "--error-page", "500=/sub"}, `error page for 500 "/sub": not a regular file`},
		{"missing fallback", []string{"--path", root, "--spa-fallback", "/app.html"}, `single-page app fallback "/app.html": no such file`},
		{"bad rule", []string{"--path", root, "--cache-control", "*.css"}, `bad rule: "*.css" has no "="`},
		{"bad origin", []string{"--path", root, "--cors", "example.com"}, "scheme://host"},
		{"bad listing", []string{"--path", root, "--listing", "fancy"}, `--listing "fancy": give gotwistd, twistd or off`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(testbin.Gotwistd(t), append([]string{"--nodaemon", "--pidfile=", "web", "--listen", "tcp:0:interface=127.0.0.1"}, tc.args...)...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1\n%s", err, out.String())
			}
			first := strings.SplitN(out.String(), "\n", 2)[0]
			if !strings.HasPrefix(first, "gotwistd: error: ") || !strings.Contains(first, tc.want) {
				t.Errorf("first line %q, want gotwistd: error: ...%s...\n%s", first, tc.want, out.String())
			}
			if strings.Contains(out.String(), "goroutine ") {
				t.Errorf("a stack trace:\n%s", out.String())
			}
		})
	}
}
