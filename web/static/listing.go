package static

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// dirEntry is one directory member, described by what it names.
type dirEntry struct {
	name string
	info fileInfo
}

const listingHead = `<html>
<head>
<title>%s</title>
<style>
.even-dir { background-color: #efe0ef }
.even { background-color: #eee }
.odd-dir {background-color: #f0d0ef }
.odd { background-color: #dedede }
.icon { text-align: center }
.listing {
    margin-left: auto;
    margin-right: auto;
    width: 50%%;
    padding: 0.1em;
    }

body { border: 0; padding: 0; margin: 0; background-color: #efefef; }
h1 {padding: 0.1em; background-color: #777; color: white; border-bottom: thin white dashed;}

</style>
</head>

<body>
<h1>%s</h1>

<table>
    <thead>
        <tr>
            <th>Filename</th>
            <th>Size</th>
            <th>Content type</th>
            <th>Content encoding</th>
        </tr>
    </thead>
    <tbody>
`

const listingTail = `
    </tbody>
</table>

</body>
</html>
`

// listingHeadParts splits listingHead at its two %s: the page title and
// the h1 are the same text. "%%" is Python's escape for "%".
var listingHeadParts = strings.Split(strings.ReplaceAll(listingHead, "%%", "%"), "%s")

// listing renders twistd's DirectoryLister page for the directory rel:
// directories first, then files, each group sorted by name; names are
// HTML-escaped in the text and percent-encoded in the links. Entries that
// are not served (dotfiles, names that are not UTF-8, and with
// NoFollowSymlinks symbolic links) are left out.
func (h *Handler) listing(rel string, r *http.Request) ([]byte, error) {
	ents, err := h.readDir(rel)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ents, func(a, b dirEntry) int { return strings.Compare(a.name, b.name) })
	var dirs, files []dirEntry
	for _, e := range ents {
		if !utf8.ValidString(e.name) || !h.segmentOK(e.name, rel == "") {
			continue
		}
		switch e.info.kind {
		case kindDir:
			dirs = append(dirs, e)
		case kindRegular:
			files = append(files, e)
		default:
			// twistd lists devices, FIFOs and sockets as files; they are
			// never served here, so they are not listed.
		}
	}
	title := "Directory listing for " + escapeHTML(unquoteURL(requestURI(r)))
	var b bytes.Buffer
	b.Grow(1500 + 180*len(ents))
	b.WriteString(listingHeadParts[0])
	b.WriteString(title)
	b.WriteString(listingHeadParts[1])
	b.WriteString(title)
	b.WriteString(listingHeadParts[2])
	row := 0
	for _, e := range dirs {
		writeRow(&b, row, quoteURL(e.name)+"/", escapeHTML(e.name)+"/", "", "[Directory]", "")
		row++
	}
	for _, e := range files {
		ctype, enc := h.typeAndEncoding(e.name)
		if enc != "" {
			enc = "[" + enc + "]"
		}
		writeRow(&b, row, quoteURL(e.name), escapeHTML(e.name), formatFileSize(e.info.id.size), "["+ctype+"]", enc)
		row++
	}
	b.WriteString(listingTail)
	return b.Bytes(), nil
}

func writeRow(b *bytes.Buffer, row int, href, text, size, ctype, enc string) {
	class := "odd"
	if row%2 == 1 {
		class = "even"
	}
	b.WriteString(`<tr class="`)
	b.WriteString(class)
	b.WriteString("\">\n    <td><a href=\"")
	b.WriteString(href)
	b.WriteString(`">`)
	b.WriteString(text)
	b.WriteString("</a></td>\n    <td>")
	b.WriteString(size)
	b.WriteString("</td>\n    <td>")
	b.WriteString(ctype)
	b.WriteString("</td>\n    <td>")
	b.WriteString(enc)
	b.WriteString("</td>\n</tr>\n")
}

// formatFileSize is twistd's formatFileSize: %iB, %iK, %iM or %iG,
// truncated.
func formatFileSize(size int64) string {
	switch {
	case size < 1<<10:
		return strconv.FormatInt(size, 10) + "B"
	case size < 1<<20:
		return strconv.FormatInt(size>>10, 10) + "K"
	case size < 1<<30:
		return strconv.FormatInt(size>>20, 10) + "M"
	}
	return strconv.FormatInt(size>>30, 10) + "G"
}
