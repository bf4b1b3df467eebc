package h2

import (
	"encoding/binary"
	"fmt"
)

// Frame types (RFC 9113 section 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9
)

// Frame flags.
const (
	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

// Settings (RFC 9113 section 6.5.2).
const (
	settingHeaderTableSize      = 0x1
	settingEnablePush           = 0x2
	settingMaxConcurrentStreams = 0x3
	settingInitialWindowSize    = 0x4
	settingMaxFrameSize         = 0x5
	settingMaxHeaderListSize    = 0x6
)

// Error codes (RFC 9113 section 7).
const (
	errNo                 = 0x0
	errProtocol           = 0x1
	errInternal           = 0x2
	errFlowControl        = 0x3
	errStreamClosed       = 0x5
	errFrameSize          = 0x6
	errRefusedStream      = 0x7
	errCancel             = 0x8
	errCompression        = 0x9
	errEnhanceYourCalm    = 0xb
	frameHeaderLen        = 9
	defaultMaxFrameSize   = 16384
	maxFrameSizeLimit     = 1<<24 - 1
	defaultWindow         = 65535
	maxWindow             = 1<<31 - 1
	clientPreface         = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	defaultHeaderTableLen = 4096
)

// frameHeader is the 9-byte header of a frame.
type frameHeader struct {
	length uint32
	typ    uint8
	flags  uint8
	stream uint32
}

func parseFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:    b[3],
		flags:  b[4],
		stream: binary.BigEndian.Uint32(b[5:]) & (1<<31 - 1),
	}
}

// appendFrameHeader appends a frame header for a payload of length bytes.
func appendFrameHeader(b []byte, length int, typ, flags uint8, stream uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), typ, flags,
		byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream))
}

func appendUint32(b []byte, v uint32) []byte {
	return binary.BigEndian.AppendUint32(b, v)
}

// appendRSTStream appends a RST_STREAM frame.
func appendRSTStream(b []byte, stream uint32, code uint32) []byte {
	b = appendFrameHeader(b, 4, frameRSTStream, 0, stream)
	return appendUint32(b, code)
}

// appendGoAway appends a GOAWAY frame.
func appendGoAway(b []byte, last uint32, code uint32) []byte {
	b = appendFrameHeader(b, 8, frameGoAway, 0, 0)
	b = appendUint32(b, last)
	return appendUint32(b, code)
}

// appendWindowUpdate appends a WINDOW_UPDATE frame.
func appendWindowUpdate(b []byte, stream uint32, n uint32) []byte {
	b = appendFrameHeader(b, 4, frameWindowUpdate, 0, stream)
	return appendUint32(b, n)
}

// setting is one SETTINGS parameter.
type setting struct {
	id  uint16
	val uint32
}

// appendSettings appends a SETTINGS frame.
func appendSettings(b []byte, s ...setting) []byte {
	b = appendFrameHeader(b, 6*len(s), frameSettings, 0, 0)
	for _, x := range s {
		b = append(b, byte(x.id>>8), byte(x.id))
		b = appendUint32(b, x.val)
	}
	return b
}

// connError is a connection error: the connection ends with a GOAWAY
// carrying code.
type connError struct {
	code uint32
	why  string
}

func (e connError) Error() string {
	return fmt.Sprintf("http2: connection error %s: %s", codeName(e.code), e.why)
}

// codeName names an error code for logs.
func codeName(code uint32) string {
	switch code {
	case errNo:
		return "NO_ERROR"
	case errProtocol:
		return "PROTOCOL_ERROR"
	case errInternal:
		return "INTERNAL_ERROR"
	case errFlowControl:
		return "FLOW_CONTROL_ERROR"
	case errStreamClosed:
		return "STREAM_CLOSED"
	case errFrameSize:
		return "FRAME_SIZE_ERROR"
	case errRefusedStream:
		return "REFUSED_STREAM"
	case errCancel:
		return "CANCEL"
	case errCompression:
		return "COMPRESSION_ERROR"
	case errEnhanceYourCalm:
		return "ENHANCE_YOUR_CALM"
	}
	return fmt.Sprintf("0x%x", code)
}

// stripPadding returns a PADDED frame's payload without its pad length
// byte and padding, or false when the padding is longer than the frame.
func stripPadding(p []byte, flags uint8) ([]byte, bool) {
	if flags&flagPadded == 0 {
		return p, true
	}
	if len(p) < 1 {
		return nil, false
	}
	pad := int(p[0])
	p = p[1:]
	if pad > len(p) {
		return nil, false
	}
	return p[:len(p)-pad], true
}
