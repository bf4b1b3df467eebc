package h1

import "bytes"

// This file judges heads that are still arriving: where a head ends, and
// whether what came so far already breaks a limit or cannot be a request.

// headEnd finds the end of the head in buf, scanning from from (a position
// already known not to hold the end, so that a head arriving in pieces is
// not scanned again and again). It returns the length of the head, blank
// line included, or -1 and the position to resume from.
func headEnd(buf []byte, from int) (n, resume int) {
	// The head ends with an empty line: "\n\r\n" or "\n\n" (a bare LF is
	// accepted as a line end, as RFC 9112 section 2.2 allows). A head
	// that is nothing but empty lines is handled by the parser.
	i := from
	for {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1, len(buf)
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1, 0
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2, 0
		}
		if i >= len(buf)-1 {
			// The line may end a head whose blank line has not fully
			// arrived: look at this newline again next time.
			return -1, i - 1
		}
	}
}

// skipBlank returns how many bytes of empty lines start buf, and how
// many lines they are. A final CR without its LF is not counted.
func skipBlank(buf []byte) (n, lines int) {
	for {
		switch {
		case n < len(buf) && buf[n] == '\n':
			n++
		case n+1 < len(buf) && buf[n] == '\r' && buf[n+1] == '\n':
			n += 2
		default:
			return n, lines
		}
		lines++
	}
}

// checkPartial judges an incomplete head: it fails early when what has
// arrived already breaks a limit or cannot start a request, so that a
// client cannot make the server buffer garbage.
//
// *lineDone records that the request line was complete and judged, so
// that a head arriving a byte at a time does not have it judged again.
func checkPartial(buf []byte, lim limits, lineDone *bool) *parseError {
	if e := checkLine(buf, lim, lineDone); e != nil {
		return e
	}
	if len(buf) >= lim.maxHead {
		return errTooLarge
	}
	return nil
}

// lineOf fills r with what the first line of buf shows of a request line
// (method, target or its start, version), for logging a refusal; false if
// it shows no method.
func lineOf(buf []byte, r *Request) bool {
	r.reset()
	line := buf
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = bytes.TrimSuffix(line[:i], []byte("\r"))
	}
	m, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(m) == 0 || len(m) > maxMethod {
		return false
	}
	for _, c := range m {
		if !isTchar(c) {
			return false
		}
	}
	r.Method = m
	r.Target, r.Proto, _ = bytes.Cut(rest, []byte(" "))
	return true
}

// errHeadTooLarge is the error for a complete head over the limit: the
// request line's own error if it has one (as a head arriving in pieces
// would get), else 431.
func errHeadTooLarge(buf []byte, lim limits, lineDone *bool) *parseError {
	if e := checkLine(buf, lim, lineDone); e != nil {
		return e
	}
	return errTooLarge
}

// checkLine is checkPartial's look at the request line.
func checkLine(buf []byte, lim limits, lineDone *bool) *parseError {
	if *lineDone || len(buf) == 1 && buf[0] == '\r' {
		// Judged already; or the CR of an empty line whose LF is late.
		return nil
	}
	line := buf
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		*lineDone = true
		// A complete request line is judged at once: an HTTP/0.9
		// "GET /" gets its 400 without waiting for a blank line that
		// never comes.
		line = line[:i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return errLineEnd
		}
		var r Request
		if e := parseRequestLine(line, &r, lim); e != nil {
			return e
		}
	} else {
		// The request line is incomplete.
		sp := bytes.IndexByte(line, ' ')
		m := line
		if sp >= 0 {
			m = line[:sp]
		}
		for _, c := range m {
			if !isTchar(c) {
				return errMethod
			}
		}
		if len(m) > maxMethod {
			return errMethodTooLong
		}
		if sp >= 0 {
			if sp == 0 {
				return errMethod
			}
			rest := line[sp+1:]
			if sp2 := bytes.IndexByte(rest, ' '); sp2 >= 0 {
				rest = rest[:sp2]
			}
			if len(rest) > lim.maxTarget {
				return errURITooLong
			}
		}
	}
	return nil
}
