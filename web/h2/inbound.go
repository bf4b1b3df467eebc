package h2

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/net/http2/hpack"
)

// What the connection does with each frame a client sends: SETTINGS,
// WINDOW_UPDATE, RST_STREAM, DATA, and the header blocks of HEADERS and
// CONTINUATION, decoded and turned into requests.

func (c *conn) settings(h frameHeader, p []byte) error {
	if h.stream != 0 {
		return connError{errProtocol, "SETTINGS on a stream"}
	}
	if h.flags&flagAck != 0 {
		if len(p) != 0 {
			return connError{errFrameSize, "SETTINGS ACK with a payload"}
		}
		return nil
	}
	if len(p)%6 != 0 {
		return connError{errFrameSize, "SETTINGS of the wrong size"}
	}
	c.peerSettings = true
	c.mu.Lock()
	defer c.mu.Unlock()
	for ; len(p) > 0; p = p[6:] {
		id, v := binary.BigEndian.Uint16(p), binary.BigEndian.Uint32(p[2:])
		switch id {
		case settingEnablePush:
			if v > 1 {
				return connError{errProtocol, "SETTINGS_ENABLE_PUSH not 0 or 1"}
			}
		case settingInitialWindowSize:
			if v > maxWindow {
				return connError{errFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE too large"}
			}
			delta := int64(v) - c.peerWindow
			c.peerWindow = int64(v)
			for _, st := range c.streams {
				st.window += delta
				if st.window > maxWindow {
					return connError{errFlowControl, "a stream window grew too large"}
				}
				if st.window > 0 && st.pendLen > 0 && !st.queued {
					st.queued = true
					c.queue = append(c.queue, st)
				}
			}
		case settingMaxFrameSize:
			if v < defaultMaxFrameSize || v > maxFrameSizeLimit {
				return connError{errProtocol, "SETTINGS_MAX_FRAME_SIZE out of range"}
			}
			c.peerFrame = int(min(v, 64<<10))
		case settingHeaderTableSize:
			c.enc.SetMaxDynamicTableSizeLimit(min(v, defaultHeaderTableLen))
			c.encEpoch++ // a size update may be due: no kept block goes before it
		}
	}
	c.out = appendFrameHeader(c.out, 0, frameSettings, flagAck, 0)
	c.cond.Broadcast()
	return nil
}

func (c *conn) windowUpdate(h frameHeader, p []byte) error {
	if len(p) != 4 {
		return connError{errFrameSize, "WINDOW_UPDATE of the wrong size"}
	}
	inc := int64(binary.BigEndian.Uint32(p) & (1<<31 - 1))
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.stream == 0 {
		if inc == 0 {
			return connError{errProtocol, "WINDOW_UPDATE of 0"}
		}
		c.sendWindow += inc
		if c.sendWindow > maxWindow {
			return connError{errFlowControl, "the connection window grew too large"}
		}
		c.cond.Broadcast()
		return nil
	}
	st := c.streams[h.stream]
	if st == nil {
		if h.stream > c.maxStreamID {
			return connError{errProtocol, "WINDOW_UPDATE on an idle stream"}
		}
		return nil // a closed stream
	}
	if inc == 0 {
		c.resetLocked(st, errProtocol)
		return nil
	}
	st.window += inc
	if st.window > maxWindow {
		c.resetLocked(st, errFlowControl)
		return nil
	}
	if st.pendLen > 0 && !st.queued {
		st.queued = true
		c.queue = append(c.queue, st)
	}
	c.cond.Broadcast()
	return nil
}

func (c *conn) rstStream(h frameHeader, p []byte) error {
	if h.stream == 0 {
		return connError{errProtocol, "RST_STREAM on stream 0"}
	}
	if len(p) != 4 {
		return connError{errFrameSize, "RST_STREAM of the wrong size"}
	}
	if h.stream > c.maxStreamID {
		return connError{errProtocol, "RST_STREAM on an idle stream"}
	}
	c.mu.Lock()
	if st := c.streams[h.stream]; st != nil {
		c.closeLocked(st)
	}
	c.mu.Unlock()
	return nil
}

func (c *conn) data(h frameHeader, p []byte) error {
	if h.stream == 0 {
		return connError{errProtocol, "DATA on stream 0"}
	}
	if h.stream > c.maxStreamID {
		return connError{errProtocol, "DATA on an idle stream"}
	}
	// Flow control counts the whole payload, padding included.
	n := int64(len(p))
	c.recvWindow -= n
	if c.recvWindow < 0 {
		return connError{errFlowControl, "DATA beyond the connection window"}
	}
	body, ok := stripPadding(p, h.flags)
	if !ok {
		return connError{errProtocol, "padding longer than the frame"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > 0 {
		// The connection window is given back at once; a stream's only
		// as its handler reads.
		c.out = appendWindowUpdate(c.out, 0, uint32(n))
		c.recvWindow += n
	}
	st := c.streams[h.stream]
	if st == nil || st.recvEnd {
		if st != nil {
			c.resetLocked(st, errStreamClosed)
		} else {
			c.out = appendRSTStream(c.out, h.stream, errStreamClosed)
		}
		return nil
	}
	st.recvWindow -= n
	if st.recvWindow < 0 {
		c.resetLocked(st, errFlowControl)
		return nil
	}
	st.received += int64(len(body))
	if st.declared >= 0 && st.received > st.declared {
		c.resetLocked(st, errProtocol)
		return nil
	}
	if h.flags&flagEndStream != 0 {
		st.recvEnd = true
		if st.declared >= 0 && st.received != st.declared {
			c.resetLocked(st, errProtocol)
			return nil
		}
	}
	if st.ended {
		// The response is complete: the rest of the body is not wanted.
		if !st.recvEnd {
			c.out = appendRSTStream(c.out, st.id, errNo)
			c.closeLocked(st)
			return nil
		}
		c.maybeCloseLocked(st)
		return nil
	}
	if st.body != nil {
		st.body.put(body, st.recvEnd)
	} else if n > 0 {
		// Nobody reads this body: give the stream its window back.
		c.out = appendWindowUpdate(c.out, st.id, uint32(n))
		st.recvWindow += n
	}
	c.maybeCloseLocked(st)
	return nil
}

func (c *conn) headers(h frameHeader, p []byte) error {
	if h.stream == 0 {
		return connError{errProtocol, "HEADERS on stream 0"}
	}
	p, ok := stripPadding(p, h.flags)
	if !ok {
		return connError{errProtocol, "padding longer than the frame"}
	}
	if h.flags&flagPriority != 0 {
		if len(p) < 5 {
			return connError{errFrameSize, "HEADERS too short for its priority"}
		}
		if binary.BigEndian.Uint32(p)&(1<<31-1) == h.stream {
			// Depending on itself: a stream error, once the block is
			// decoded (HPACK's state must follow every block).
			c.blockFlags = h.flags | 0x80
		}
		p = p[5:]
	}
	c.block = append(c.block[:0], p...)
	if c.blockFlags&0x80 == 0 {
		c.blockFlags = h.flags
	}
	if h.flags&flagEndHeaders == 0 {
		c.blockStream = h.stream
		return nil
	}
	return c.endHeaders(h.stream)
}

func (c *conn) continuation(h frameHeader, p []byte) error {
	// A header list may be maxHead long decoded, a little more encoded
	// (Huffman rarely grows a string); beyond that, a flood.
	if len(c.block)+len(p) > c.maxHead+c.maxHead/4+16<<10 {
		return connError{errEnhanceYourCalm, "header block too large"}
	}
	c.block = append(c.block, p...)
	if h.flags&flagEndHeaders == 0 {
		return nil
	}
	c.blockStream = 0
	return c.endHeaders(h.stream)
}

// endHeaders handles a complete header block: a new request, or
// trailers.
func (c *conn) endHeaders(id uint32) error {
	flags := c.blockFlags
	c.blockFlags = 0
	fields, err := c.decode()
	if err != nil {
		return connError{errCompression, "cannot decode a header block: " + err.Error()}
	}
	if id%2 == 0 {
		return connError{errProtocol, "a client opened an even-numbered stream"}
	}
	end := flags&flagEndStream != 0
	if id <= c.maxStreamID {
		c.mu.Lock()
		st := c.streams[id]
		c.mu.Unlock()
		if st == nil || st.recvEnd {
			return connError{errStreamClosed, "HEADERS on a closed stream"}
		}
		// Trailers: they end the stream, and carry no pseudo-header.
		if !end {
			return connError{errProtocol, "trailers without END_STREAM"}
		}
		for _, f := range fields {
			if len(f.Name) > 0 && f.Name[0] == ':' {
				c.mu.Lock()
				c.resetLocked(st, errProtocol)
				c.mu.Unlock()
				return nil
			}
		}
		c.mu.Lock()
		st.recvEnd = true
		if st.declared >= 0 && st.received != st.declared {
			c.resetLocked(st, errProtocol)
		} else if st.body != nil {
			st.body.put(nil, true)
		}
		c.maybeCloseLocked(st)
		c.mu.Unlock()
		return nil
	}
	c.maxStreamID = id
	if flags&0x80 != 0 {
		return c.streamError(id, errProtocol)
	}
	c.mu.Lock()
	if c.goingAway {
		c.mu.Unlock()
		return nil // after GOAWAY: ignored
	}
	c.lastStream = id // under mu, as goAway reads it: a GOAWAY names no stream it drops
	if uint32(len(c.streams)+c.zombiesLocked()) >= c.srv.maxStreams() {
		c.out = appendRSTStream(c.out, id, errRefusedStream)
		c.mu.Unlock()
		c.refused++
		if c.refused > maxRefused {
			return connError{errEnhanceYourCalm, "too many streams refused"}
		}
		return nil
	}
	st := &stream{id: id, window: c.peerWindow, recvWindow: defaultWindow, declared: -1, recvEnd: end}
	st.pend = st.pend0[:0]
	c.streams[id] = st
	c.mu.Unlock()
	// One validation for both paths; the *http.Request only for the
	// Handler.
	var h head
	if code := c.validate(st, fields, &h); code != 0 {
		if code < 1000 {
			return c.streamError(id, uint32(code))
		}
		c.respondStatus(st, code-1000)
		return nil
	}
	if c.srv.Fast != nil && c.serveFast(st, &h) {
		return nil
	}
	c.startHandler(st, c.request(st, fields, &h))
	return nil
}

// maxKeptFields: a connection keeps the slice of a header list this long
// for the next.
const maxKeptFields = 64

// decode decodes the header block in c.block, as hpack's DecodeFull
// does, into c.fields: valid until the next block.
func (c *conn) decode() ([]hpack.HeaderField, error) {
	if c.repeatable && bytes.Equal(c.block, c.lastBlock) {
		// The last block again, and that one changed nothing in the
		// decoder's table: the same fields.
		return c.fields, nil
	}
	c.repeatable = false
	if cap(c.fields) > maxKeptFields {
		c.fields = nil // an unusually long list: not kept for the connection's life
	} else {
		clear(c.fields) // nothing kept alive from the last block
		c.fields = c.fields[:0]
	}
	if _, err := c.dec.Write(c.block); err != nil {
		return nil, err
	}
	if err := c.dec.Close(); err != nil {
		return nil, err
	}
	if len(c.block) <= maxRepeatBlock && tableNeutral(c.block) {
		c.lastBlock = append(c.lastBlock[:0], c.block...)
		c.repeatable = true
	}
	return c.fields, nil
}
