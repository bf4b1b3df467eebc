package h1

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"
)

// maxChunkLine bounds a chunk-size line, extensions included.
const maxChunkLine = 4 << 10

// Errors of a malformed chunked body.
var (
	errChunkSize    = errors.New("h1: malformed chunk size")
	errChunkEnd     = errors.New("h1: chunk data not followed by CRLF")
	errChunkTrailer = errors.New("h1: malformed chunked trailer")
)

// body is the request body a Handler reads: Content-Length bytes, or a
// chunked body decoded strictly (CRLF line ends, hex sizes without sign
// or overflow, trailers parsed as header fields and dropped).
type body struct {
	c         *conn
	remaining int64 // Content-Length mode: bytes left; chunked: left in this chunk
	chunked   bool
	inChunk   bool // chunked: in a chunk's data (or its CRLF, if remaining is 0)
	expect    *response
	sawEOF    bool
	closed    bool
	tooBig    bool // discardRest gave up: more than maxPostHandlerRead left
	err       error
}

// Read reads body bytes; see io.Reader.
func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.sawEOF {
		return 0, io.EOF
	}
	if b.expect != nil {
		b.expect.sendContinue()
		b.expect = nil
	}
	if !b.chunked {
		return b.readLength(p)
	}
	return b.readChunked(p)
}

func (b *body) readLength(p []byte) (int, error) {
	if b.remaining == 0 {
		b.sawEOF = true
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := b.c.readBody(p)
	b.remaining -= int64(n)
	if b.remaining == 0 {
		b.sawEOF = true
		return n, io.EOF
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
	}
	return n, err
}

func (b *body) readChunked(p []byte) (int, error) {
	for {
		if b.inChunk && b.remaining > 0 {
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > b.remaining {
				p = p[:b.remaining]
			}
			n, err := b.c.readBody(p)
			b.remaining -= int64(n)
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				b.err = err
			}
			return n, err
		}
		if b.inChunk {
			// The CRLF after a chunk's data.
			line, err := b.c.readLine(maxChunkLine)
			if err == nil && len(line) != 0 {
				err = errChunkEnd
			}
			if err != nil {
				b.err = err
				return 0, err
			}
			b.inChunk = false
		}
		line, err := b.c.readLine(maxChunkLine)
		if err != nil {
			b.err = err
			return 0, err
		}
		size, ok := parseChunkSize(line)
		if !ok {
			b.err = errChunkSize
			return 0, b.err
		}
		if size == 0 {
			if err := b.readTrailer(); err != nil {
				b.err = err
				return 0, err
			}
			b.sawEOF = true
			return 0, io.EOF
		}
		b.inChunk, b.remaining = true, size
	}
}

// readTrailer reads and drops the trailer section, up to its empty line.
func (b *body) readTrailer() error {
	total := 0
	for {
		line, err := b.c.readLine(maxChunkLine)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		total += len(line)
		if total > b.c.lim.maxHead {
			return errChunkTrailer
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 || line[0] == ' ' || line[0] == '\t' {
			return errChunkTrailer
		}
		for _, c := range line[:i] {
			if !isTchar(c) {
				return errChunkTrailer
			}
		}
		for _, c := range line[i+1:] {
			if c < ' ' && c != '\t' || c == 0x7f {
				return errChunkTrailer
			}
		}
	}
}

// parseChunkSize parses "HEX[;ext]": at most 15 hex digits (no overflow),
// extensions of visible characters, spaces and tabs.
func parseChunkSize(line []byte) (int64, bool) {
	ext := bytes.IndexByte(line, ';')
	digits := line
	if ext >= 0 {
		digits = line[:ext]
		for _, c := range line[ext:] {
			if c < ' ' && c != '\t' || c == 0x7f {
				return 0, false
			}
		}
		// RFC 9112 section 7.1.1 allows whitespace before the ';'.
		for len(digits) > 0 && (digits[len(digits)-1] == ' ' || digits[len(digits)-1] == '\t') {
			digits = digits[:len(digits)-1]
		}
	}
	if len(digits) == 0 || len(digits) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// Close stops the handler from reading more; see io.Closer.
func (b *body) Close() error {
	b.closed = true
	return nil
}

// discardRest reads and throws away what is left of the body, up to
// maxPostHandlerRead bytes, within a read-header timeout; false if the
// connection cannot be reused (more left, or an error).
func (b *body) discardRest() bool {
	if b.sawEOF {
		return true
	}
	if b.err != nil || b.expect != nil {
		// Never asked for with 100-continue: the client may not send it.
		return false
	}
	if !b.chunked && b.remaining > maxPostHandlerRead {
		b.tooBig = true
		return false
	}
	if d := b.c.srv.ReadHeaderTimeout; d > 0 {
		b.c.setReadDeadline(time.Now().Add(d), d)
	}
	closed := b.closed
	b.closed = false
	var buf [4096]byte
	total := 0
	for total <= maxPostHandlerRead {
		n, err := b.Read(buf[:])
		total += n
		if err == io.EOF {
			b.closed = closed
			return true
		}
		if err != nil {
			return false
		}
	}
	b.tooBig = true
	return false
}

// readBody reads request body bytes: buffered ones first, then straight
// from the connection.
func (c *conn) readBody(p []byte) (int, error) {
	if c.r0 < c.r1 {
		n := copy(p, c.rbuf[c.r0:c.r1])
		c.r0 += n
		return n, nil
	}
	if c.werr != nil {
		return 0, errDone
	}
	n, err := c.nc.Read(p)
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return 0, err
}

// readLine returns the next line of input without its CRLF, reading more
// as needed; a line longer than max, a bare LF or a bare CR is an error.
func (c *conn) readLine(max int) ([]byte, error) {
	for {
		buf := c.rbuf[c.r0:c.r1]
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			if i == 0 || buf[i-1] != '\r' {
				return nil, errChunkSize
			}
			line := buf[:i-1]
			if bytes.IndexByte(line, '\r') >= 0 {
				return nil, errChunkSize
			}
			c.r0 += i + 1
			return line, nil
		}
		if len(buf) > max {
			return nil, errChunkSize
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more input into the buffer, for readLine.
func (c *conn) fill() error {
	if c.werr != nil {
		return errDone
	}
	if c.r0 == c.r1 {
		c.r0, c.r1 = 0, 0
	}
	if c.rbuf == nil {
		c.rbuf = *readBufs.Get().(*[]byte)
	}
	if c.r1 == len(c.rbuf) {
		if c.r0 == 0 {
			return errChunkSize
		}
		c.r1 = copy(c.rbuf, c.rbuf[c.r0:c.r1])
		c.r0 = 0
	}
	n, err := c.nc.Read(c.rbuf[c.r1:])
	c.r1 += n
	if n > 0 {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
