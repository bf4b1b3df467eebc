package h2

import (
	"bytes"

	"golang.org/x/net/http2/hpack"
)

// HPACK without re-doing the same work: a connection to one client asks
// for the same few files over and over, with the same header block, and
// gets the same answer back. What the connection can reuse, it reuses,
// as long as neither HPACK dynamic table has changed since.

// Incoming: a header block made of one-byte indexed fields only changes
// nothing in the decoder's table, so the same bytes again decode to the
// same fields.

// indexedOnly reports whether block is one-byte indexed field
// representations (RFC 7541 section 6.1) and nothing else: decoding it
// leaves the dynamic table as it was.
func indexedOnly(block []byte) bool {
	if len(block) == 0 {
		return false
	}
	for _, b := range block {
		// 0x80: index 0, an error; 0xff: an index of more bytes.
		if b&0x80 == 0 || b == 0x80 || b == 0xff {
			return false
		}
	}
	return true
}

// maxRepeatBlock bounds the header block kept for comparison.
const maxRepeatBlock = 128

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
