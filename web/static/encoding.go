package static

import "strings"

// precompressed lists the sibling files looked for, in order of
// preference: x.br, x.zst, x.gz for a request of x.
var precompressed = [...]struct {
	bit    uint8
	coding string // Content-Encoding
	suffix string // file name suffix
	key    string // cache key suffix; "\x00" never occurs in a path
}{
	{1, "br", ".br", "\x00br"},
	{2, "zstd", ".zst", "\x00zst"},
	{4, "gzip", ".gz", "\x00gz"},
}

var codingHeaders = map[string][]string{
	"br":   {"br"},
	"zstd": {"zstd"},
	"gzip": {"gzip"},
}

// acceptedCodings returns the precompressed[].bit set of the codings an
// Accept-Encoding header accepts: listed with a non-zero q, or covered by a
// non-zero "*" and not listed. "x-gzip" counts as gzip.
func acceptedCodings(values []string) uint8 {
	var accepted, listed uint8
	star := false
	for _, v := range values {
		for v != "" {
			var elem string
			if i := strings.IndexByte(v, ','); i >= 0 {
				elem, v = v[:i], v[i+1:]
			} else {
				elem, v = v, ""
			}
			name, params, _ := strings.Cut(elem, ";")
			name = trimOWS(name)
			q, valid := parseQ(params)
			if !valid {
				continue // as codingQ: a malformed weight leaves the coding unlisted
			}
			ok := q > 0
			var bit uint8
			switch {
			case strings.EqualFold(name, "br"):
				bit = 1
			case strings.EqualFold(name, "zstd"):
				bit = 2
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				bit = 4
			case name == "*":
				star = ok
				continue
			default:
				continue
			}
			listed |= bit
			if ok {
				accepted |= bit
			} else {
				accepted &^= bit
			}
		}
	}
	if star {
		accepted |= 7 &^ listed
	}
	return accepted
}
