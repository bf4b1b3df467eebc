package static

import (
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// fileKind is what a path names.
type fileKind uint8

const (
	kindOther fileKind = iota // device, FIFO, socket: never served
	kindRegular
	kindDir
	kindSymlink // only seen when links are not followed
)

// fileID identifies one version of a file: a cached entry is reused only
// while the file's identity is unchanged. ctime moves on chmod and on
// writes that restore mtime, so permission changes are seen too.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

// fileInfo is the part of stat(2) the handler uses.
type fileInfo struct {
	id   fileID
	kind fileKind
}

// Cache limits. Small files are kept in memory with their headers
// pre-rendered, so a cached GET costs one stat(2) and no open(2).
const (
	cacheMaxFile    = 128 << 10
	cacheMaxBytes   = 64 << 20
	cacheMaxEntries = 1 << 14
	// racyWindow: a file changed this recently may change again within
	// the same timestamp tick without its identity changing, so its
	// content is not cached yet (git's "racy clean" rule).
	racyWindow = 2 * time.Second
	// entryOverhead approximates an entry's memory beyond its data.
	entryOverhead = 320
	// siblingTTL is how long a missing x.br, x.zst or x.gz is not looked
	// for again.
	siblingTTL = time.Second
)

// entry is a served file version with its response headers rendered.
// Entries are immutable once published in the cache.
type entry struct {
	id      fileID
	modSecs int64  // Last-Modified in whole seconds (mtime rounded up, as twistd)
	clamped bool   // modSecs is the present, earlier than the mtime rounded up: renew once that is past
	lastMod string // Last-Modified value
	etag    string // strong ETag
	ctype   string

	hdrType, hdrEnc, hdrLastMod, hdrETag, hdrLen []string

	// hdrCC is the Cache-Control of the first rule matching the file's
	// path: nil when none matches, noCacheControl for an empty value.
	hdrCC []string

	// squeeze: the file is compressed on the fly (see squeezable), so
	// its responses vary with Accept-Encoding.
	squeeze bool
	// noGain marks the entry of a coding that does not shrink the file:
	// the file is sent as it is (see compressedEntry).
	noGain bool

	data []byte // whole content, nil when not cached
	fast []byte // header lines of a 200 to a plain GET, with data (see Cached)

	// trust is what the change watcher knows of this file version; shared
	// by the entry's copies.
	trust *trust

	// sibAbsent records the precompressed siblings (precompressed[].bit)
	// found missing, in its low 3 bits, and when (the other bits, in
	// nanoseconds). Shared by the copies of an entry.
	sibAbsent *atomic.Uint64
}

func (h *Handler) newEntry(fi fileInfo, ctype, enc string) *entry {
	secs := ceilSeconds(fi.id.mtime)
	// Rounded up, the mtime of a file changed within the last second is
	// in the future, later than the response's Date: send the present
	// instead, until the rounded mtime is past (RFC 9110 section 8.8.2.1).
	clamped := false
	if now := h.now().Unix(); secs > now {
		secs, clamped = now, true
	}
	e := &entry{
		clamped: clamped,
		id:      fi.id,
		modSecs: secs,
		lastMod: time.Unix(secs, 0).UTC().Format(http.TimeFormat),
		etag: `"` + strconv.FormatUint(fi.id.ino, 16) + "-" + strconv.FormatInt(fi.id.size, 16) +
			"-" + strconv.FormatInt(fi.id.mtime, 16) + `"`,
		ctype: ctype,
	}
	e.squeeze = enc == "" && h.squeezable(fi.id.size, ctype)
	e.sibAbsent = new(atomic.Uint64)
	e.trust = new(trust)
	e.hdrType = []string{ctype}
	if enc != "" {
		e.hdrEnc = codingHeaders[enc]
		if e.hdrEnc == nil {
			e.hdrEnc = []string{enc}
		}
	}
	e.hdrLastMod = []string{e.lastMod}
	e.hdrETag = []string{e.etag}
	e.hdrLen = []string{strconv.FormatInt(fi.id.size, 10)}
	return e
}

// ceilSeconds rounds a nanosecond time up to whole seconds, as twistd's
// setLastModified does with math.ceil.
func ceilSeconds(ns int64) int64 {
	s := ns / 1e9
	if ns%1e9 > 0 {
		s++
	}
	return s
}

// cacheable reports whether a file's content may be kept in memory now.
func (h *Handler) cacheable(fi fileInfo) bool {
	return fi.id.size <= cacheMaxFile && h.settled(fi)
}

// settled reports whether a file version is out of the racy window, so
// that what is made of its content (the content itself, its compressed
// bytes) may be kept.
func (h *Handler) settled(fi fileInfo) bool {
	changed := max(fi.id.mtime, fi.id.ctime)
	return h.now().UnixNano()-changed >= int64(racyWindow)
}

// loadData reads a whole small file for the cache, or returns nil when the
// file changed while being read.
func loadData(f *os.File, fi fileInfo) []byte {
	buf := make([]byte, fi.id.size)
	if n, err := f.ReadAt(buf, 0); int64(n) != fi.id.size || (err != nil && n != len(buf)) {
		return nil
	}
	after, err := fstat(f)
	if err != nil || after.id != fi.id {
		return nil
	}
	return buf
}

// fileCache maps a path (plus "\x00coding" for a precompressed variant,
// "\x00~coding" for one compressed on the fly) to its entry.
type fileCache struct {
	mu    sync.RWMutex
	m     map[string]*entry
	bytes int64
}

func (c *fileCache) get(key string) *entry {
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	return e
}

func (c *fileCache) put(key string, e *entry) {
	cost := int64(len(e.data) + len(key) + entryOverhead)
	if cost > cacheMaxBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*entry)
	}
	if old, ok := c.m[key]; ok {
		c.bytes -= int64(len(old.data) + len(key) + entryOverhead)
		delete(c.m, key)
	}
	// Evict arbitrary entries (map order is random) until the new one fits.
	for k, old := range c.m {
		if c.bytes+cost <= cacheMaxBytes && len(c.m) < cacheMaxEntries {
			break
		}
		c.bytes -= int64(len(old.data) + len(k) + entryOverhead)
		delete(c.m, k)
	}
	c.m[key] = e
	c.bytes += cost
}
