package static

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
)

// systemMIMEFile is read by New, when present, as twistd does through
// Python's mimetypes module (unless a test's Config says otherwise: see
// seams).
const systemMIMEFile = "/etc/mime.types"

// pythonTypes is Python 3.11's built-in mimetypes table (strict types), the
// base of twistd's File.contentTypes before mime.types files are read.
var pythonTypes = []mimeEntry{ // sorted by ext
	{".3g2", "audio/3gpp2"},
	{".3gp", "audio/3gpp"},
	{".3gpp", "audio/3gpp"},
	{".3gpp2", "audio/3gpp2"},
	{".a", "application/octet-stream"},
	{".aac", "audio/aac"},
	{".adts", "audio/aac"},
	{".ai", "application/postscript"},
	{".aif", "audio/x-aiff"},
	{".aifc", "audio/x-aiff"},
	{".aiff", "audio/x-aiff"},
	{".ass", "audio/aac"},
	{".au", "audio/basic"},
	{".avi", "video/x-msvideo"},
	{".avif", "image/avif"},
	{".bat", "text/plain"},
	{".bcpio", "application/x-bcpio"},
	{".bin", "application/octet-stream"},
	{".bmp", "image/bmp"},
	{".c", "text/plain"},
	{".cdf", "application/x-netcdf"},
	{".cpio", "application/x-cpio"},
	{".csh", "application/x-csh"},
	{".css", "text/css"},
	{".csv", "text/csv"},
	{".dll", "application/octet-stream"},
	{".doc", "application/msword"},
	{".dot", "application/msword"},
	{".dvi", "application/x-dvi"},
	{".eml", "message/rfc822"},
	{".eps", "application/postscript"},
	{".etx", "text/x-setext"},
	{".exe", "application/octet-stream"},
	{".gif", "image/gif"},
	{".gtar", "application/x-gtar"},
	{".h", "text/plain"},
	{".h5", "application/x-hdf5"},
	{".hdf", "application/x-hdf"},
	{".heic", "image/heic"},
	{".heif", "image/heif"},
	{".htm", "text/html"},
	{".html", "text/html"},
	{".ico", "image/vnd.microsoft.icon"},
	{".ief", "image/ief"},
	{".jpe", "image/jpeg"},
	{".jpeg", "image/jpeg"},
	{".jpg", "image/jpeg"},
	{".js", "application/javascript"},
	{".json", "application/json"},
	{".ksh", "text/plain"},
	{".latex", "application/x-latex"},
	{".loas", "audio/aac"},
	{".m1v", "video/mpeg"},
	{".m3u", "application/vnd.apple.mpegurl"},
	{".m3u8", "application/vnd.apple.mpegurl"},
	{".man", "application/x-troff-man"},
	{".me", "application/x-troff-me"},
	{".mht", "message/rfc822"},
	{".mhtml", "message/rfc822"},
	{".mif", "application/x-mif"},
	{".mjs", "application/javascript"},
	{".mov", "video/quicktime"},
	{".movie", "video/x-sgi-movie"},
	{".mp2", "audio/mpeg"},
	{".mp3", "audio/mpeg"},
	{".mp4", "video/mp4"},
	{".mpa", "video/mpeg"},
	{".mpe", "video/mpeg"},
	{".mpeg", "video/mpeg"},
	{".mpg", "video/mpeg"},
	{".ms", "application/x-troff-ms"},
	{".n3", "text/n3"},
	{".nc", "application/x-netcdf"},
	{".nq", "application/n-quads"},
	{".nt", "application/n-triples"},
	{".nws", "message/rfc822"},
	{".o", "application/octet-stream"},
	{".obj", "application/octet-stream"},
	{".oda", "application/oda"},
	{".opus", "audio/opus"},
	{".p12", "application/x-pkcs12"},
	{".p7c", "application/pkcs7-mime"},
	{".pbm", "image/x-portable-bitmap"},
	{".pdf", "application/pdf"},
	{".pfx", "application/x-pkcs12"},
	{".pgm", "image/x-portable-graymap"},
	{".pl", "text/plain"},
	{".png", "image/png"},
	{".pnm", "image/x-portable-anymap"},
	{".pot", "application/vnd.ms-powerpoint"},
	{".ppa", "application/vnd.ms-powerpoint"},
	{".ppm", "image/x-portable-pixmap"},
	{".pps", "application/vnd.ms-powerpoint"},
	{".ppt", "application/vnd.ms-powerpoint"},
	{".ps", "application/postscript"},
	{".pwz", "application/vnd.ms-powerpoint"},
	{".py", "text/x-python"},
	{".pyc", "application/x-python-code"},
	{".pyo", "application/x-python-code"},
	{".qt", "video/quicktime"},
	{".ra", "audio/x-pn-realaudio"},
	{".ram", "application/x-pn-realaudio"},
	{".ras", "image/x-cmu-raster"},
	{".rdf", "application/xml"},
	{".rgb", "image/x-rgb"},
	{".roff", "application/x-troff"},
	{".rtx", "text/richtext"},
	{".sgm", "text/x-sgml"},
	{".sgml", "text/x-sgml"},
	{".sh", "application/x-sh"},
	{".shar", "application/x-shar"},
	{".snd", "audio/basic"},
	{".so", "application/octet-stream"},
	{".src", "application/x-wais-source"},
	{".srt", "text/plain"},
	{".sv4cpio", "application/x-sv4cpio"},
	{".sv4crc", "application/x-sv4crc"},
	{".svg", "image/svg+xml"},
	{".swf", "application/x-shockwave-flash"},
	{".t", "application/x-troff"},
	{".tar", "application/x-tar"},
	{".tcl", "application/x-tcl"},
	{".tex", "application/x-tex"},
	{".texi", "application/x-texinfo"},
	{".texinfo", "application/x-texinfo"},
	{".tif", "image/tiff"},
	{".tiff", "image/tiff"},
	{".tr", "application/x-troff"},
	{".trig", "application/trig"},
	{".tsv", "text/tab-separated-values"},
	{".txt", "text/plain"},
	{".ustar", "application/x-ustar"},
	{".vcf", "text/x-vcard"},
	{".vtt", "text/vtt"},
	{".wasm", "application/wasm"},
	{".wav", "audio/x-wav"},
	{".webm", "video/webm"},
	{".webmanifest", "application/manifest+json"},
	{".wiz", "application/msword"},
	{".wsdl", "application/xml"},
	{".xbm", "image/x-xbitmap"},
	{".xlb", "application/vnd.ms-excel"},
	{".xls", "application/vnd.ms-excel"},
	{".xml", "text/xml"},
	{".xpdl", "application/xml"},
	{".xpm", "image/x-xpixmap"},
	{".xsl", "application/xml"},
	{".xwd", "image/x-xwindowdump"},
	{".zip", "application/zip"},
}

// twistedTypes are the entries twisted.web.static.loadMimeTypes adds on top
// of the mime.types files; they win over the files, as in twistd.
var twistedTypes = []mimeEntry{ // sorted by ext
	{".conf", "text/plain"},
	{".diff", "text/plain"},
	{".flac", "audio/x-flac"},
	{".java", "text/plain"},
	{".oz", "text/x-oz"},
	{".patch", "text/plain"},
	{".swf", "application/x-shockwave-flash"},
	{".wml", "text/vnd.wap.wml"},
	{".xul", "application/vnd.mozilla.xul+xml"},
}

// modernTypes fill gaps of Python's table for machines without
// /etc/mime.types (minimal containers), so fonts, images and modules do not
// fall back to the default type there. A mime.types file overrides them.
// twistd has no such fallback; with Debian's /etc/mime.types the result is
// the same.
var modernTypes = []mimeEntry{ // sorted by ext
	{".7z", "application/x-7z-compressed"},
	{".apng", "image/apng"},
	{".atom", "application/atom+xml"},
	{".epub", "application/epub+zip"},
	{".flv", "video/x-flv"},
	{".gpx", "application/gpx+xml"},
	{".ics", "text/calendar"},
	{".jsonld", "application/ld+json"},
	{".jxl", "image/jxl"},
	{".m4a", "audio/mp4"},
	{".m4v", "video/mp4"},
	{".markdown", "text/markdown"},
	{".md", "text/markdown"},
	{".mkv", "video/x-matroska"},
	{".oga", "audio/ogg"},
	{".ogg", "audio/ogg"},
	{".ogv", "video/ogg"},
	{".otf", "font/otf"},
	{".rss", "application/rss+xml"},
	{".svgz", "image/svg+xml"},
	{".ttf", "font/ttf"},
	{".weba", "audio/webm"},
	{".webp", "image/webp"},
	{".woff", "font/woff"},
	{".woff2", "font/woff2"},
	{".xht", "application/xhtml+xml"},
	{".xhtml", "application/xhtml+xml"},
	{".xz", "application/x-xz"},
	{".yaml", "application/yaml"},
	{".yml", "application/yaml"},
	{".zst", "application/zstd"},
}

// contentEncodings is twistd's File.contentEncodings: a file named x.gz is
// served with Content-Encoding gzip and the type of x.
var contentEncodings = map[string]string{
	".gz":  "gzip",
	".bz2": "bzip2",
}

// mimeEntry maps an extension (with its dot, lower case) to a type.
type mimeEntry struct{ ext, typ string }

// search finds ext in a table sorted by ext.
func search(table []mimeEntry, ext string) (string, bool) {
	i, ok := slices.BinarySearchFunc(table, ext, func(e mimeEntry, ext string) int {
		return strings.Compare(e.ext, ext)
	})
	if !ok {
		return "", false
	}
	return table[i].typ, true
}

// mimeTable answers what twistd's extension table would: Python's built-in
// types, then the system mime.types file (later lines win), then
// Twisted's own additions, then extra (the user's). It never builds that
// table (~2,000 entries, a noticeable part of start-up), nor keeps the
// file (~80 KB on Debian, resident for the life of the process): the file
// is read through a small buffer for each extension not seen before, and
// what was found is kept. A site's files have a few distinct extensions,
// so that is a few reads of a file in the page cache.
type mimeTable struct {
	extra map[string]string // keys lower case, with the dot
	path  string            // the system mime.types file, or ""

	mu    sync.RWMutex
	known map[string]mimeFound
}

// mimeFound is a lookup's outcome.
type mimeFound struct {
	typ string
	ok  bool
}

// maxKnown bounds the lookups kept. File names come from the disk, not
// from clients, so this is generous.
const maxKnown = 1 << 14

func newMIMETable(path string, extra map[string]string) *mimeTable {
	m := &mimeTable{path: path, extra: make(map[string]string, len(extra))}
	for k, v := range extra {
		k = strings.ToLower(k)
		if !strings.HasPrefix(k, ".") {
			k = "." + k
		}
		m.extra[k] = v
	}
	return m
}

// lookup returns the type for ext (with its dot, lower case).
func (m *mimeTable) lookup(ext string) (string, bool) {
	if t, ok := m.extra[ext]; ok {
		return t, true
	}
	if t, ok := search(twistedTypes, ext); ok {
		return t, true
	}
	m.mu.RLock()
	f, seen := m.known[ext]
	m.mu.RUnlock()
	if seen {
		return f.typ, f.ok
	}
	f.typ, f.ok = m.fromFile(ext)
	if !f.ok {
		if f.typ, f.ok = search(pythonTypes, ext); !f.ok {
			f.typ, f.ok = search(modernTypes, ext)
		}
	}
	m.mu.Lock()
	if m.known == nil || len(m.known) >= maxKnown {
		m.known = make(map[string]mimeFound)
	}
	m.known[ext] = f
	m.mu.Unlock()
	return f.typ, f.ok
}

// fromFile searches the system mime.types file for ext; an unreadable
// file has no types, as for Python's mimetypes.
func (m *mimeTable) fromFile(ext string) (string, bool) {
	if m.path == "" {
		return "", false
	}
	f, err := os.Open(m.path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	return fileType(f, ext)
}

// fileType finds ext (with its dot) in a mime.types file the way Python's
// mimetypes.MimeTypes.readfp reads one: whitespace-separated words, a word
// starting with '#' ends the line, the first word is the type and every
// other word an extension; a later line wins. Whitespace is ASCII's (no
// mime.types file has other kinds). A read error ends the file there.
//
// The file is read a buffer at a time and searched for the extension's
// letters; only the few lines they are on are split into words. A cold
// start's first response waits for one lookup: in Debian's 74 KB file,
// read from memory (BenchmarkFileType), 67-96 µs a line at a time, 10 µs
// so.
func fileType(r io.Reader, ext string) (typ string, ok bool) {
	if len(ext) < 2 {
		return "", false // no extension, or a bare dot
	}
	want := []byte(ext[1:])
	// 32 KB: Debian's file in 3 reads, not 19 (a syscall costs 2-3 µs
	// in the VMs measured here, and a cold start's first response waits
	// for this lookup).
	buf := make([]byte, 32<<10)
	n := 0 // bytes in buf: a part of a line, then what the last read added
	for {
		m, err := r.Read(buf[n:])
		n += m
		end := n // the whole lines in buf; at the end of the file, all of it
		if err == nil {
			end = bytes.LastIndexByte(buf[:n], '\n') + 1
			if end == 0 {
				if n == len(buf) { // a line longer than buf
					buf = append(buf, make([]byte, len(buf))...)
				}
				continue
			}
		}
		if t, found := linesType(buf[:end], want); found {
			typ, ok = t, true
		}
		if err != nil {
			return typ, ok // io.EOF, or the file could not be read further
		}
		n = copy(buf, buf[end:n])
	}
}

// linesType returns the type the last of lines (whole lines of a
// mime.types file) that names the extension want (without its dot) gives
// it.
func linesType(lines, want []byte) (typ string, ok bool) {
	for i := 0; i < len(lines); {
		j := bytes.Index(lines[i:], want)
		if j < 0 {
			break
		}
		j += i
		start := bytes.LastIndexByte(lines[:j], '\n') + 1
		stop := len(lines)
		if k := bytes.IndexByte(lines[j:], '\n'); k >= 0 {
			stop = j + k + 1
		}
		if t, found := lineType(lines[start:stop], want); found {
			typ, ok = t, true
		}
		i = stop
	}
	return typ, ok
}

// lineType returns the type a mime.types line gives the extension want
// (without its dot), if it names it.
func lineType(line, want []byte) (string, bool) {
	// Most lines do not mention want at all.
	if !bytes.Contains(line, want) {
		return "", false
	}
	var first []byte
	found := false
	for word := range words(line) {
		if word[0] == '#' {
			break
		}
		if first == nil {
			first = word
		} else if bytes.Equal(word, want) {
			found = true
		}
	}
	if !found {
		return "", false
	}
	return string(first), true
}

// words yields line's whitespace-separated words.
func words(line []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for i := 0; i < len(line); {
			for i < len(line) && isSpace(line[i]) {
				i++
			}
			j := i
			for j < len(line) && !isSpace(line[j]) {
				j++
			}
			if i == j || !yield(line[i:j]) {
				return
			}
			i = j
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// splitExt is Python's os.path.splitext on a base name: the extension starts
// at the last dot that is not part of the name's leading dots.
func splitExt(name string) (root, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	// Leading dots do not start an extension (".bashrc", "..x").
	if strings.TrimLeft(name[:i], ".") == "" {
		return name, ""
	}
	return name[:i], name[i:]
}

// typeAndEncoding is twistd's getTypeAndEncoding: the Content-Type and
// Content-Encoding for a file name. encoding is "" when the name has no
// encoding extension. Directory listings show it, as twistd's do; files
// are served with fileType.
func (h *Handler) typeAndEncoding(name string) (ctype, encoding string) {
	root, ext := splitExt(name)
	ext = lowerASCII(ext)
	if enc, ok := contentEncodings[ext]; ok {
		encoding = enc
		_, ext = splitExt(root)
		ext = lowerASCII(ext)
	}
	if t, ok := h.types.lookup(ext); ok {
		return t, encoding
	}
	return h.defaultType, encoding
}

// archiveTypes are the types of compressed files and archives whose
// extension the type tables may lack.
var archiveTypes = map[string]string{
	".gz":  "application/gzip",
	".tgz": "application/gzip",
	".bz2": "application/x-bzip2",
	".zst": "application/zstd",
	".br":  "application/x-brotli",
	".xz":  "application/x-xz",
}

// fileType is the Content-Type a requested file is sent with: the type of
// its own extension. Unlike twistd (typeAndEncoding), a compressed file
// asked for by name (release.tar.gz, x.tgz, x.gz, x.zst, x.br) is sent as
// itself, with its own type and no Content-Encoding: told "gzip", browsers,
// curl --compressed and Python's requests would unpack it and save a plain
// tar under the .tar.gz name. Precompressed siblings (x.gz for a request
// of x) are another matter: serveFile sends those with Content-Encoding.
func (h *Handler) fileType(name string) string {
	_, ext := splitExt(name)
	ext = lowerASCII(ext)
	if t, ok := h.types.lookup(ext); ok {
		return t
	}
	if t, ok := archiveTypes[ext]; ok {
		return t
	}
	return h.defaultType
}

// lowerASCII lower-cases s as Python's str.lower does for extensions,
// without allocating in the common all-lower-case ASCII case.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}
