package static

import (
	"bytes"
	"compress/gzip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// On-the-fly compression (Config.NoCompress, Config.CompressMinSize).
//
// A file of a text type (see compressibleType) between the minimum size
// and compressMaxFile is sent compressed with the coding the request's
// Accept-Encoding prefers (highest q; br, then zstd, then gzip at equal
// q), unless a precompressed sibling answers or the request has a Range.
// The compressed bytes are computed once per file version and coding and
// kept in the file cache (bounded by its limits) under rel+compressed[i].key;
// while a file is in the racy window they are computed per request at a
// faster level and not kept. Larger files are sent as they are: compressing
// them per request would cost CPU on every transfer and lose sendfile(2)
// and ranges; precompressed siblings (x.br, x.zst, x.gz) serve them.
const (
	// DefaultCompressMinSize is the size below which files are sent as
	// they are when Config.CompressMinSize is 0: smaller bodies gain
	// less than the coding's framing and a packet costs the same.
	DefaultCompressMinSize = 256
	// compressMaxFile is the largest file compressed on the fly.
	compressMaxFile = 1 << 20
)

// compressed lists the codings compressed on the fly, in the server's
// order of preference at equal q (that of the precompressed siblings).
var compressed = [...]struct {
	coding string // Content-Encoding
	etag   string // ETag suffix, inside the quotes
	key    string // cache key suffix; "\x00" never occurs in a path
}{
	{"br", "-br", "\x00~br"},
	{"zstd", "-zst", "\x00~zst"},
	{"gzip", "-gz", "\x00~gz"},
}

// codingQ parses Accept-Encoding field values (RFC 9110 section 12.5.3)
// into the q of each coding of compressed, in thousandths: 0 when it is
// not acceptable. A coding listed by name takes its own q, the others
// "*"'s; "x-gzip" counts as gzip; a repeated coding's last q counts. An
// element with a malformed q is ignored.
func codingQ(values []string) [len(compressed)]int {
	var q [len(compressed)]int
	var listed [len(compressed)]bool
	star := 0
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
			if name == "" {
				continue
			}
			qv, ok := parseQ(params)
			if !ok {
				continue
			}
			i := -1
			switch {
			case strings.EqualFold(name, "br"):
				i = 0
			case strings.EqualFold(name, "zstd"):
				i = 1
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				i = 2
			case name == "*":
				star = qv
				continue
			default:
				continue
			}
			q[i], listed[i] = qv, true
		}
	}
	for i := range q {
		if !listed[i] {
			q[i] = star
		}
	}
	return q
}

// chooseCoding returns the index in compressed of the coding q prefers,
// or -1 when none is acceptable.
func chooseCoding(q [len(compressed)]int) int {
	best := -1
	for i, v := range q {
		if v > 0 && (best < 0 || v > q[best]) {
			best = i
		}
	}
	return best
}

// compressibleType reports whether a Content-Type is text that
// compression shrinks: text/*, JSON, XML, SVG, JavaScript, WebAssembly and
// a few uncompressed font and image formats.
func compressibleType(ctype string) bool {
	t, _, _ := strings.Cut(ctype, ";")
	t = strings.ToLower(strings.TrimSpace(t))
	if strings.HasPrefix(t, "text/") || strings.HasSuffix(t, "+json") || strings.HasSuffix(t, "+xml") {
		return true
	}
	switch t {
	case "application/javascript", "application/x-javascript", "application/ecmascript",
		"application/json", "application/xml", "application/wasm", "application/x-sh",
		"application/x-tar", "application/vnd.ms-fontobject", "application/x-font-ttf",
		"font/ttf", "font/otf", "image/svg+xml", "image/bmp", "image/x-icon",
		"image/vnd.microsoft.icon":
		return true
	}
	return false
}

// squeezable reports whether a file version of type ctype is compressed
// on the fly (and so its responses vary with Accept-Encoding).
func (h *Handler) squeezable(size int64, ctype string) bool {
	return !h.noCompress && size >= h.compressMin && size <= compressMaxFile && compressibleType(ctype)
}

// compressedEntry returns the entry of e's file compressed with
// compressed[ci], from the cache or made now, or nil when the file is
// better sent as it is (compression does not shrink it, or it changed
// while being read). f is the open file when e holds no data.
func (h *Handler) compressedEntry(rel string, e *entry, f *os.File, ci int) *entry {
	key := rel + compressed[ci].key
	if c := h.cache.get(key); c != nil && c.id == e.id && c.lastMod == e.lastMod {
		if c.noGain {
			return nil
		}
		return c
	}
	data := e.data
	if data == nil {
		if f == nil {
			return nil
		}
		if data = loadData(f, fileInfo{id: e.id, kind: kindRegular}); data == nil {
			return nil
		}
	}
	keep := h.settled(fileInfo{id: e.id, kind: kindRegular})
	z := compress(compressed[ci].coding, data, keep)
	c := *e
	c.squeeze = false
	if z == nil || len(z) >= len(data) {
		if keep {
			c.data, c.fast, c.noGain = nil, nil, true
			h.cache.put(key, &c)
		}
		return nil
	}
	c.data = z
	c.etag = e.etag[:len(e.etag)-1] + compressed[ci].etag + `"`
	c.hdrETag = []string{c.etag}
	c.hdrEnc = codingHeaders[compressed[ci].coding]
	c.hdrLen = []string{strconv.Itoa(len(z))}
	c.fast = nil
	if keep {
		if e.fast != nil {
			c.fast = h.renderFast(&c)
		}
		h.cache.put(key, &c)
	}
	return &c
}

// Compression levels: cached bytes are made once per file version, so
// they get a denser level; bytes made per request a fast one.
const (
	brotliCached, brotliFast = 9, 4
	gzipCached, gzipFast     = gzip.BestCompression, 5
)

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
)

// compress returns data compressed with coding, or nil on an error.
// Windows are sized to data: no larger than the file needs, they keep
// the encoders' memory small.
func compress(coding string, data []byte, dense bool) []byte {
	switch coding {
	case "zstd":
		zstdOnce.Do(func() {
			// Made on first use, so idle servers do not pay for it; one
			// at a time (compressions are once per file version), with
			// the smaller tables.
			zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
				zstd.WithWindowSize(compressMaxFile), zstd.WithEncoderCRC(false),
				zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		})
		if zstdEnc == nil {
			return nil
		}
		return zstdEnc.EncodeAll(data, make([]byte, 0, len(data)/2))
	case "br":
		var b bytes.Buffer
		b.Grow(len(data) / 2)
		q := brotliFast
		if dense {
			q = brotliCached
		}
		lgwin := 10
		for lgwin < 24 && 1<<lgwin-16 < len(data) {
			lgwin++
		}
		w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: q, LGWin: lgwin})
		if _, err := w.Write(data); err != nil || w.Close() != nil {
			return nil
		}
		return b.Bytes()
	case "gzip":
		var b bytes.Buffer
		b.Grow(len(data) / 2)
		lvl := gzipFast
		if dense {
			lvl = gzipCached
		}
		w, err := gzip.NewWriterLevel(&b, lvl)
		if err != nil {
			return nil
		}
		if _, err := w.Write(data); err != nil || w.Close() != nil {
			return nil
		}
		return b.Bytes()
	}
	return nil
}
