package static

import (
	"math"
	"strings"
)

// maxRanges caps the ranges one Range header may ask for. A header with
// more is ignored and the whole file is sent (200), as nginx's max_ranges
// does; so is a set of ranges whose lengths add up to more than the file
// (overlapping ranges used to amplify a response).
const maxRanges = 16

// byteRange is one satisfiable range: length bytes from start.
type byteRange struct {
	start, length int64
}

// rangeResult says what to do with a Range header.
type rangeResult uint8

const (
	// rangeIgnore: malformed, not in bytes, too many or overlapping too
	// much; serve the whole file with 200, as twistd does with a
	// malformed header.
	rangeIgnore rangeResult = iota
	// rangeOK: serve the ranges with 206.
	rangeOK
	// rangeUnsatisfiable: well-formed but no range overlaps the file; 416
	// with "Content-Range: bytes */size".
	rangeUnsatisfiable
)

// parseRange parses a Range header value (RFC 9110 section 14.2) for a file
// of size bytes. Satisfiable ranges are appended to dst, in request order
// and clipped to the file; the result is only meaningful with rangeOK.
// Syntax: "bytes=" then comma-separated "first-last", "first-" or "-suffix",
// optional whitespace around elements, empty elements ignored; the unit is
// case-insensitive. An element with last < first makes the whole header
// malformed, as in twistd.
func parseRange(s string, size int64, dst []byteRange) ([]byteRange, rangeResult) {
	eq := strings.IndexByte(s, '=')
	if eq < 0 || !strings.EqualFold(trimOWS(s[:eq]), "bytes") {
		return dst, rangeIgnore
	}
	s = s[eq+1:]
	count := 0
	var sum int64
	for s != "" {
		var elem string
		if i := strings.IndexByte(s, ','); i >= 0 {
			elem, s = s[:i], s[i+1:]
		} else {
			elem, s = s, ""
		}
		elem = trimOWS(elem)
		if elem == "" {
			continue
		}
		count++
		if count > maxRanges {
			return dst, rangeIgnore
		}
		dash := strings.IndexByte(elem, '-')
		if dash < 0 {
			return dst, rangeIgnore
		}
		first, last := trimOWS(elem[:dash]), trimOWS(elem[dash+1:])
		var r byteRange
		if first == "" {
			n, ok := parseDigits(last)
			if !ok {
				return dst, rangeIgnore
			}
			if n == 0 {
				continue // unsatisfiable suffix
			}
			if size == 0 {
				// Satisfiable (RFC 9110 section 14.1.2: a non-zero
				// suffix-length), but no Content-Range can say "all of
				// nothing": send the whole, empty, file with 200.
				return dst[:0], rangeIgnore
			}
			if n > size {
				n = size
			}
			r = byteRange{start: size - n, length: n}
		} else {
			start, ok := parseDigits(first)
			if !ok {
				return dst, rangeIgnore
			}
			end := int64(math.MaxInt64)
			if last != "" {
				if end, ok = parseDigits(last); !ok || end < start {
					return dst, rangeIgnore
				}
			}
			if start >= size {
				continue // unsatisfiable
			}
			if end >= size {
				end = size - 1
			}
			r = byteRange{start: start, length: end - start + 1}
		}
		sum += r.length
		dst = append(dst, r)
	}
	switch {
	case count == 0:
		return dst, rangeIgnore
	case len(dst) == 0:
		return dst, rangeUnsatisfiable
	case len(dst) > 1 && sum > size:
		return dst, rangeIgnore
	}
	return dst, rangeOK
}

// parseDigits parses a non-empty run of ASCII digits, saturating at
// MaxInt64 (a huge position is past any file, not an error).
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// trimOWS trims HTTP optional whitespace (spaces and tabs).
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
