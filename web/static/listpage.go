package static

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// gotwistd's directory listing (Config.Listing = ListingGotwistd): name,
// size (human and exact), modification time (UTC) and type of each entry,
// directories first; sorted by the column of ?sort=name|size|mtime|type
// and ?order=asc|desc, so it needs no JavaScript; one self-contained page
// (no external asset) that also fits a phone; JSON with ?format=json or
// an Accept header preferring application/json.

// listItem is one row of the listing, and one object of its JSON form.
type listItem struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	MTime    string `json:"mtime"`
	Type     string `json:"type"`
	Encoding string `json:"encoding,omitempty"`
	IsDir    bool   `json:"is_dir"`
	URL      string `json:"url"`

	mtime int64 // nanoseconds
}

// Sort columns of the listing.
const (
	sortName  = "name"
	sortSize  = "size"
	sortMTime = "mtime"
	sortType  = "type"
)

// listQuery is what the query string asks of a listing.
type listQuery struct {
	sort string // a sort* column
	desc bool
	json bool // format=json
	html bool // format=html
}

// parseListQuery reads sort, order and format; unknown values are
// ignored (the defaults: name, ascending, as Accept says).
func parseListQuery(raw string) listQuery {
	q := listQuery{sort: sortName}
	if raw == "" {
		return q
	}
	v, _ := url.ParseQuery(raw)
	switch s := v.Get("sort"); s {
	case sortName, sortSize, sortMTime, sortType:
		q.sort = s
	}
	q.desc = v.Get("order") == "desc"
	switch v.Get("format") {
	case "json":
		q.json = true
	case "html":
		q.html = true
	}
	return q
}

// wantsJSON reports whether an Accept header prefers application/json
// to text/html: it names application/json (or application/*) with a
// non-zero q, higher than or equal to text/html's when that is named
// too. Browsers name text/html and not JSON, so they get the page.
func wantsJSON(accept []string) bool {
	qJSON, qHTML := -1, -1
	exactJSON := false
	for _, line := range accept {
		for _, item := range strings.Split(line, ",") {
			mt, params, _ := strings.Cut(item, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			q := acceptQ(params)
			switch mt {
			case "application/json":
				qJSON, exactJSON = q, true
			case "application/*":
				if !exactJSON {
					qJSON = q
				}
			case "text/html":
				qHTML = q
			}
		}
	}
	return qJSON > 0 && qJSON >= qHTML
}

// acceptQ is the q parameter of an Accept item's parameters, in
// thousandths (see parseQ): 1000 when absent, 0 when malformed.
func acceptQ(params string) int {
	q, ok := parseQ(params)
	if !ok {
		return 0
	}
	return q
}

var (
	hdrJSON     = []string{"application/json"}
	hdrVaryAcpt = []string{"Accept"}
)

// serveGotwistdListing answers a directory without an index file.
func (h *Handler) serveGotwistdListing(w http.ResponseWriter, r *http.Request, rel string) {
	if h.listingMode == ListingOff {
		h.errorPage(w, r, http.StatusNotFound, notFoundPage)
		return
	}
	ents, err := h.readDir(rel)
	if err != nil {
		h.fail(w, r, rel, err)
		return
	}
	q := parseListQuery(r.URL.RawQuery)
	items := h.listItems(rel, ents)
	sortItems(items, q.sort, q.desc)
	asJSON := q.json || !q.html && len(r.Header["Accept"]) > 0 && wantsJSON(r.Header["Accept"])
	var body []byte
	hdr := w.Header()
	if asJSON {
		body = listingJSON(items)
		hdr["Content-Type"] = hdrJSON
	} else {
		body = listingHTML("/"+rel, rel == "", items, q)
		hdr["Content-Type"] = hdrHTML
	}
	if q.json || q.html {
		// The query decides, whatever Accept says.
	} else if old := hdr["Vary"]; len(old) > 0 {
		hdr["Vary"] = append(slices.Clip(old), "Accept")
	} else {
		hdr["Vary"] = hdrVaryAcpt
	}
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// listItems describes the entries of directory rel that can be served:
// not dotfiles (unless served), valid UTF-8 names (others cannot be
// requested), directories and regular files (links followed).
func (h *Handler) listItems(rel string, ents []dirEntry) []listItem {
	items := make([]listItem, 0, len(ents))
	for _, e := range ents {
		if !utf8.ValidString(e.name) || !h.segmentOK(e.name, rel == "") {
			continue
		}
		it := listItem{
			Name:  e.name,
			mtime: e.info.id.mtime,
			MTime: time.Unix(0, e.info.id.mtime).UTC().Truncate(time.Second).Format(time.RFC3339),
		}
		switch e.info.kind {
		case kindDir:
			it.IsDir, it.Type, it.URL = true, "inode/directory", quoteURL(e.name)+"/"
		case kindRegular:
			it.Size, it.URL = e.info.id.size, quoteURL(e.name)
			it.Type, it.Encoding = h.typeAndEncoding(e.name)
		default:
			continue
		}
		items = append(items, it)
	}
	return items
}

// sortItems puts directories first, then sorts each group by column (ties
// by name), reversed for desc. The order is total, so the same directory
// always lists the same way.
func sortItems(items []listItem, column string, desc bool) {
	slices.SortFunc(items, func(a, b listItem) int {
		if a.IsDir != b.IsDir {
			if a.IsDir {
				return -1
			}
			return 1
		}
		c := 0
		switch column {
		case sortSize:
			c = cmpInt(a.Size, b.Size)
		case sortMTime:
			c = cmpInt(a.mtime, b.mtime)
		case sortType:
			c = strings.Compare(a.Type, b.Type)
		}
		if c == 0 {
			c = compareNames(a.Name, b.Name)
		}
		if desc {
			c = -c
		}
		return c
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareNames orders names as people read them: letters without regard
// to case (a, B, c), runs of digits by their value (file2 before
// file10), then, for names equal so far, by bytes, so no two different
// names compare equal.
func compareNames(a, b string) int {
	x, y := a, b
	for x != "" && y != "" {
		if isDigit(x[0]) && isDigit(y[0]) {
			i, j := digitRun(x), digitRun(y)
			dx, dy := strings.TrimLeft(x[:i], "0"), strings.TrimLeft(y[:j], "0")
			if c := cmpInt(int64(len(dx)), int64(len(dy))); c != 0 {
				return c
			}
			if c := strings.Compare(dx, dy); c != 0 {
				return c
			}
			x, y = x[i:], y[j:]
			continue
		}
		rx, nx := utf8.DecodeRuneInString(x)
		ry, ny := utf8.DecodeRuneInString(y)
		if rx != ry {
			if fx, fy := unicode.ToLower(rx), unicode.ToLower(ry); fx != fy {
				return cmpInt(int64(fx), int64(fy))
			}
		}
		x, y = x[nx:], y[ny:]
	}
	// One ran out: the shorter first.
	if c := cmpInt(int64(len(x)), int64(len(y))); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitRun(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// listingJSON is the listing as a JSON array, one entry a line.
func listingJSON(items []listItem) []byte {
	b := make([]byte, 0, 16+160*len(items))
	b = append(b, '[')
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		// Strings and numbers only: Marshal cannot fail.
		j, _ := json.Marshal(&items[i])
		b = append(b, j...)
	}
	return append(b, "\n]\n"...)
}

// humanSize is size in binary units: "512 B", "1.5 KiB", "12.3 MiB",
// "123 GiB".
func humanSize(size int64) string {
	if size < 1024 {
		return strconv.FormatInt(size, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(size) / 1024
	u := 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	prec := 1
	if v >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + units[u]
}

// exactSize is size with thousands separators: "1,536 B".
func exactSize(size int64) string {
	s := strconv.FormatInt(size, 10)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	b.WriteString(" B")
	return b.String()
}

// displayName makes a file name safe to show: control characters become
// their visible pictures (a newline shows as U+240A), and the Unicode
// controls that reorder text (which can make "gnp.exe" read as
// "exe.png") become U+FFFD. The result still needs HTML escaping.
func displayName(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || isBidiControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20:
			b.WriteRune(0x2400 + r)
		case r == 0x7f:
			b.WriteRune(0x2421)
		case isBidiControl(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isBidiControl(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

const listCSS = `:root{color-scheme:light dark;--fg:#1f2328;--muted:#636c76;--bg:#fff;--line:#d8dee4;--head:#f6f8fa;--link:#0550ae;--hover:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#30363d;--head:#161b22;--link:#4493f8;--hover:#161b22}}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:var(--bg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
header,main{max-width:1100px;margin:0 auto;padding:0 16px}
h1{font-size:1.3em;font-weight:600;margin:20px 0 2px;overflow-wrap:anywhere}
h1 a{color:var(--link);text-decoration:none}
h1 a:hover{text-decoration:underline}
.summary{color:var(--muted);font-size:.9em;margin:0 0 12px}
table{width:100%;border-collapse:collapse;margin-bottom:24px}
th,td{padding:7px 10px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
th{background:var(--head);font-size:.85em;font-weight:600;white-space:nowrap}
th a{color:inherit;text-decoration:none}
th a:hover{text-decoration:underline}
th .arrow{color:var(--muted);margin-left:3px}
td.name{width:100%;overflow-wrap:anywhere}
td a{color:var(--link);text-decoration:none}
td a:hover{text-decoration:underline}
tr.dir td.name a{font-weight:600}
th.size,td.size{text-align:right}
td.size,td.mtime{white-space:nowrap;font-variant-numeric:tabular-nums}
td.size small{display:block;color:var(--muted);font-size:.8em}
td.mtime small{color:var(--muted)}
td.type{color:var(--muted);font-size:.9em;min-width:11em;max-width:18em;overflow-wrap:break-word}
td.none{color:var(--muted)}
tbody tr:hover{background:var(--hover)}
@media (max-width:640px){body{font-size:14px}header,main{padding:0 8px}th,td{padding:7px 6px}th.type,td.type{display:none}td.mtime small{display:block}}
`

// listingHTML renders the page of the directory at URL path dir (ending
// without "/" but for the root), with items sorted as q says.
func listingHTML(dir string, root bool, items []listItem, q listQuery) []byte {
	if !root {
		dir += "/"
	}
	var b bytes.Buffer
	b.Grow(3000 + 420*len(items))
	title := escapeHTML(displayName(dir))
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Index of ")
	b.WriteString(title)
	b.WriteString("</title>\n<style>\n")
	b.WriteString(listCSS)
	b.WriteString("</style>\n</head>\n<body>\n<header>\n<h1>Index of ")
	writeBreadcrumbs(&b, dir)
	b.WriteString("</h1>\n<p class=\"summary\">")
	writeSummary(&b, items)
	b.WriteString("</p>\n</header>\n<main>\n<table>\n<thead>\n<tr>")
	writeColumnHeads(&b, q)
	b.WriteString("</tr>\n</thead>\n<tbody>\n")
	if !root {
		b.WriteString("<tr class=\"dir up\"><td class=\"name\"><a href=\"../\">../</a> <small>(parent directory)</small></td>" +
			"<td class=\"size\"></td><td class=\"mtime\"></td><td class=\"type\"></td></tr>\n")
	}
	for _, it := range items {
		writeListRow(&b, it)
	}
	b.WriteString("</tbody>\n</table>\n</main>\n</body>\n</html>\n")
	return b.Bytes()
}

// writeBreadcrumbs writes the title's path, each segment a link to its
// directory.
func writeBreadcrumbs(b *bytes.Buffer, dir string) {
	b.WriteString(`<a href="/">/</a>`)
	prefix := "/"
	for _, seg := range strings.Split(strings.Trim(dir, "/"), "/") {
		if seg == "" {
			continue
		}
		prefix += quoteURL(seg) + "/"
		b.WriteString(`<a href="`)
		b.WriteString(escapeHTML(prefix))
		b.WriteString(`">`)
		b.WriteString(escapeHTML(displayName(seg)))
		b.WriteString("/</a>")
	}
}

// writeSummary writes how many directories and files the listing holds, and
// the files' total size.
func writeSummary(b *bytes.Buffer, items []listItem) {
	dirs, files, total := 0, 0, int64(0)
	for _, it := range items {
		if it.IsDir {
			dirs++
		} else {
			files++
			total += it.Size
		}
	}
	b.WriteString(plural(dirs, "directory", "directories"))
	b.WriteString(", ")
	b.WriteString(plural(files, "file", "files"))
	if files > 0 {
		b.WriteString(" (")
		b.WriteString(humanSize(total))
		b.WriteString(")")
	}
}

// writeColumnHeads writes the table's column heads, each a link sorting by
// its column, the one sorted by marked with an arrow.
func writeColumnHeads(b *bytes.Buffer, q listQuery) {
	for _, c := range []struct{ col, label string }{
		{sortName, "Name"}, {sortSize, "Size"}, {sortMTime, "Modified (UTC)"}, {sortType, "Type"},
	} {
		// A click on the column sorted by reverses it; on another, sorts
		// by it: names and types A to Z, sizes and times largest and
		// newest first.
		order := "asc"
		if c.col == q.sort {
			if !q.desc {
				order = "desc"
			}
		} else if c.col == sortSize || c.col == sortMTime {
			order = "desc"
		}
		b.WriteString(`<th class="`)
		b.WriteString(c.col)
		b.WriteString(`"`)
		if c.col == q.sort {
			if q.desc {
				b.WriteString(` aria-sort="descending"`)
			} else {
				b.WriteString(` aria-sort="ascending"`)
			}
		}
		b.WriteString(`><a href="?sort=`)
		b.WriteString(c.col)
		b.WriteString("&amp;order=")
		b.WriteString(order)
		b.WriteString(`">`)
		b.WriteString(c.label)
		if c.col == q.sort {
			if q.desc {
				b.WriteString("<span class=\"arrow\">\u25bc</span>")
			} else {
				b.WriteString("<span class=\"arrow\">\u25b2</span>")
			}
		}
		b.WriteString("</a></th>")
	}
}

// writeListRow writes the table row of one directory entry.
func writeListRow(b *bytes.Buffer, it listItem) {
	if it.IsDir {
		b.WriteString(`<tr class="dir"><td class="name"><a href="`)
	} else {
		b.WriteString(`<tr class="file"><td class="name"><a href="`)
	}
	b.WriteString(escapeHTML(it.URL))
	b.WriteString(`">`)
	b.WriteString(escapeHTML(displayName(it.Name)))
	if it.IsDir {
		b.WriteString("/")
	}
	b.WriteString("</a></td>")
	if it.IsDir {
		b.WriteString(`<td class="size none">`)
		b.WriteString("\u2014")
	} else {
		b.WriteString(`<td class="size" data-bytes="`)
		b.WriteString(strconv.FormatInt(it.Size, 10))
		b.WriteString(`">`)
		b.WriteString(humanSize(it.Size))
		if it.Size >= 1024 {
			b.WriteString("<small>")
			b.WriteString(exactSize(it.Size))
			b.WriteString("</small>")
		}
	}
	b.WriteString(`</td><td class="mtime"><time datetime="`)
	b.WriteString(it.MTime)
	b.WriteString(`">`)
	t := time.Unix(0, it.mtime).UTC()
	b.WriteString(t.Format("2006-01-02"))
	b.WriteString(" <small>")
	b.WriteString(t.Format("15:04"))
	b.WriteString("</small></time></td><td class=\"type\">")
	if it.IsDir {
		b.WriteString("directory")
	} else {
		// A long type may wrap after its "/", not inside a word.
		b.WriteString(strings.Replace(escapeHTML(it.Type), "/", "/<wbr>", 1))
		if it.Encoding != "" {
			b.WriteString(", ")
			b.WriteString(escapeHTML(it.Encoding))
		}
	}
	b.WriteString("</td></tr>\n")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
