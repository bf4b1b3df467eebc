package h2

import (
	"bytes"

	"golang.org/x/net/http2/hpack"
)

// HPACK without re-doing the same work: a connection to one client asks
// for the same few files over and over, with the same header block, and
// gets the same answer back. What the connection can reuse, it reuses,
// as long as neither HPACK dynamic table has changed since.

// Incoming: a header block made of indexed fields and literals not
// added to the table changes nothing in the decoder's table, so the same
// bytes again decode to the same fields. (A client may well send such
// blocks: nghttp2 never indexes :path.)

// tableNeutral reports whether block is field representations that leave
// the dynamic table as it was (RFC 7541 section 6): indexed fields, and
// literals without indexing or never indexed; no literal with
// incremental indexing, no size update.
func tableNeutral(block []byte) bool {
	if len(block) == 0 {
		return false
	}
	for b := block; len(b) > 0; {
		switch {
		case b[0]&0x80 != 0: // indexed
			_, n, ok := hpackInt(b, 7)
			if !ok {
				return false
			}
			b = b[n:]
		case b[0]&0xc0 == 0x40, b[0]&0xe0 == 0x20: // indexing, size update
			return false
		default: // 0000xxxx, 0001xxxx: a literal left out of the table
			idx, n, ok := hpackInt(b, 4)
			if !ok {
				return false
			}
			b = b[n:]
			if idx == 0 { // a literal name
				if b, ok = skipString(b); !ok {
					return false
				}
			}
			if b, ok = skipString(b); !ok {
				return false
			}
		}
	}
	return true
}

// hpackInt reads an integer with an n-bit prefix (RFC 7541 section
// 5.1) from b: the value, and the bytes it took.
func hpackInt(b []byte, prefix uint) (uint64, int, bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	mask := uint64(1)<<prefix - 1
	v := uint64(b[0]) & mask
	if v < mask {
		return v, 1, true
	}
	for i, m := 1, uint(0); i < len(b) && m <= 56; i, m = i+1, m+7 {
		v += uint64(b[i]&0x7f) << m
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// skipString is b after the string literal it starts with (RFC 7541
// section 5.2).
func skipString(b []byte) ([]byte, bool) {
	l, n, ok := hpackInt(b, 7)
	if !ok || l > uint64(len(b)-n) {
		return nil, false
	}
	return b[n+int(l):], true
}

// maxRepeatBlock bounds the header block kept for comparison.
const maxRepeatBlock = 256

// Outgoing: the block the encoder made for a fast response (a cached
// file's header lines, its status and the Date) is kept when making it
// changed nothing in the encoder's table; the same response again, with
// the table still as it was, is the same bytes.

// fastBlock is one such block.
type fastBlock struct {
	status int
	header []byte // the fast.Response's header lines (a copy)
	date   string
	epoch  uint64 // encEpoch when it was made
	block  []byte
}

// fastBlocks is how many blocks a connection keeps; maxFastHeader bounds
// the header lines of a response whose block is kept.
const (
	fastBlocks    = 4
	maxFastHeader = 1 << 10
)

// writeFieldLocked encodes f; it notes in encEpoch when that changed the
// encoder's dynamic table (an insertion, or a size update before it), and
// reports whether it did not.
func (c *conn) writeFieldLocked(f hpack.HeaderField) bool {
	n := c.encBuf.Len()
	_ = c.enc.WriteField(f)
	b := c.encBuf.Bytes()
	if n < len(b) && b[n]&0x80 == 0 && (b[n]&0xc0 == 0x40 || b[n]&0xe0 == 0x20) {
		c.encEpoch++
		return false
	}
	return true
}

// encodeLocked encodes a response's status and fields into encBuf;
// true if the encoder's table is as it was.
func (c *conn) encodeLocked(status int, fields []hpack.HeaderField) bool {
	c.encBuf.Reset()
	same := c.writeFieldLocked(hpack.HeaderField{Name: ":status", Value: statusText(status)})
	for _, f := range fields {
		if !c.writeFieldLocked(f) {
			same = false
		}
	}
	return same
}

// cachedBlockLocked is the kept block for this response, or nil.
func (c *conn) cachedBlockLocked(status int, header []byte, date string) []byte {
	for i := range c.fastBlocks {
		b := &c.fastBlocks[i]
		if b.block != nil && b.epoch == c.encEpoch && b.status == status && b.date == date && bytes.Equal(b.header, header) {
			return b.block
		}
	}
	return nil
}

// keepBlockLocked keeps the block in encBuf for this response, in place
// of the oldest.
func (c *conn) keepBlockLocked(status int, header []byte, date string) {
	if len(header) > maxFastHeader {
		return
	}
	b := &c.fastBlocks[c.fastNext]
	c.fastNext = (c.fastNext + 1) % fastBlocks
	b.status, b.date, b.epoch = status, date, c.encEpoch
	b.header = append(b.header[:0], header...)
	b.block = append(b.block[:0], c.encBuf.Bytes()...)
}
