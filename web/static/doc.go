// Package static serves a directory over HTTP with the semantics of
// Twisted's twisted.web.static.File, the resource behind
// "twistd web --path DIR", plus what a production server needs.
//
//	h, err := static.New(static.Config{Root: "/srv/www", ServerHeader: "gotwistd/0.1.0"})
//	if err != nil {
//		return err // root directory "/srv/www" does not exist: ...
//	}
//	http.ListenAndServe(":8080", h)
//
// # What twistd does, kept
//
// MIME types from /etc/mime.types on top of Python's built-in table plus
// Twisted's additions (the same table twistd3 builds), sent without charset,
// DefaultType for unknown extensions; a file named x.gz or x.bz2 gets
// Content-Encoding gzip or bzip2 and the type of x. GET and HEAD only; any
// other method gets twistd's 405 page with "Allow: HEAD, GET". A directory
// without the trailing slash is redirected (302) to "dir/", keeping the
// query, with twistd's redirect page; with the slash, the first index file
// (index, index.html, index.htm) is served, otherwise twistd's listing page:
// "Directory listing for <uri>", columns Filename, Size, Content type,
// Content encoding, directories first then files, each sorted, sizes as
// %iB/%iK/%iM/%iG, names HTML-escaped and percent-encoded in links,
// "text/html; charset=utf-8" (Config.Listing = ListingTwistd; the default
// is gotwistd's page, below). "/file/" is 404. Byte ranges: one range gives
// 206 with Content-Range, several give multipart/byteranges, none
// satisfiable gives 416 with "Content-Range: bytes */size", a malformed
// Range header is ignored (200); HEAD ignores Range. Last-Modified is the
// mtime rounded up to the second, as twistd, and If-Modified-Since at or
// after it gives 304. twistd's 404 page for missing files and 403 page for
// permission errors, byte for byte. --ignore-ext and --allow-ignore-ext
// (Config.IgnoreExt, Config.AllowIgnoreExt) and --add-header
// (Config.Headers).
//
// # What it adds
//
//   - Site rules: Cache-Control by file name or URL path
//     (Config.CacheControl, rendered once per cached file), CORS
//     (Config.CORS: "*" or a list of origins, preflights answered), files
//     answering error statuses in place of twistd's pages
//     (Config.ErrorPages), and a fallback file for the routes of a
//     single-page app (Config.SPAFallback).
//   - A directory listing people read (Config.Listing, the default
//     ListingGotwistd): name, size in binary units and bytes, modification
//     time, type; directories first; sorted by ?sort=name|size|mtime|type
//     and ?order=asc|desc without JavaScript; fits a phone; no external
//     asset; hostile names shown safely; JSON for ?format=json or an
//     Accept header preferring application/json. ListingOff makes it 404.
//   - A strong ETag from inode, size and mtime, with If-None-Match (304),
//     If-Match and If-Unmodified-Since (412) and If-Range, evaluated in
//     RFC 9110's order.
//   - Precompressed siblings: for a request of x accepting br, zstd or gzip
//     (q > 0, "*" and "x-gzip" understood), x.br, x.zst or x.gz, in that order
//     of preference, is served with Content-Encoding and x's type when it
//     exists and is not older than x; "Vary: Accept-Encoding" is sent
//     whenever such a sibling exists. Ranges then apply to the compressed
//     bytes. A sibling found missing is not looked for again for one second.
//   - On-the-fly compression (unless Config.NoCompress): a text file from
//     Config.CompressMinSize bytes to 1 MiB with no sibling answering is
//     sent br, zstd or gzip as the request's q-values prefer, with an ETag
//     ending in -br, -zst or -gz and "Vary: Accept-Encoding"; a Range gets
//     ranges of the file as it is. The compressed bytes are cached per file
//     version and coding (see compress.go).
//   - Safety: the URL path is mapped lexically; a "." or ".." segment, an
//     encoded "/" inside a segment, a backslash, a NUL byte or invalid UTF-8
//     (overlong encodings included) is 404; empty segments are merged.
//     Dotfiles are 404 and not listed, except /.well-known/, unless
//     Config.ServeDotfiles. Symbolic links are followed, even out of the root
//     (as twistd and nginx do), unless Config.NoFollowSymlinks, which refuses
//     (404) every path through a link below the root. Devices, FIFOs and
//     sockets are never opened. Internal errors are logged to
//     Config.ErrorLog, never sent: the client gets twistd's "Processing
//     Failed" page.
//   - Range abuse: more than 16 ranges, or several ranges adding up to more
//     than the file (overlaps), and the whole file is sent with 200, as
//     nginx does beyond max_ranges.
//   - Speed: files up to 128 KiB are kept in memory (64 MiB in all) with
//     their headers rendered once; every request still stats the file, and
//     an entry is used only while device, inode, size, mtime and ctime are
//     unchanged. A file changed less than 2 s ago is served from disk until
//     it has been stable that long, so an in-place rewrite within one
//     timestamp tick cannot be missed. A cached GET makes one statx(2) and
//     no allocation in the handler. Larger files, on a ResponseWriter
//     with a WriteSyscall method (gotwistd's HTTP/1.1 engine on a plain
//     socket), are written from a read-only mapping kept while in use (up
//     to 64 files, 1 GiB, 10 s idle), handed only to write(2), so a file
//     truncated meanwhile ends the response short instead of raising
//     SIGBUS; elsewhere they are sent with sendfile(2) by net/http. A
//     ResponseWriter wrapper (an access log) should pass WriteSyscall and
//     io.ReaderFrom through to keep these.
//
// # Where it differs from twistd on purpose
//
//   - Every method but GET and HEAD is 405, OPTIONS included and whatever
//     the path (twistd: 405 for POST, 501 for other methods, 404 before
//     either for a missing file, and a listing answers any method). net/http
//     itself answers "OPTIONS *".
//   - A permission error anywhere on the path is 403 (twistd: 404 for an
//     unsearchable directory, 500 for an unreadable one).
//   - Ranges: every range unsatisfiable in a multi-range request is 416
//     (twistd: 500); one satisfiable range among several gives a plain 206
//     (twistd: one-part multipart); a suffix longer than the file means the
//     whole file (twistd: a negative offset); "bytes=" without a range is
//     ignored (twistd: 416). Multipart parts use "Content-Type" and
//     "Content-Range" spelt so, and no leading CRLF.
//   - 304 carries no Content-Length (twistd: "Content-Length: 0").
//   - Dotfiles, names that are not UTF-8, special files and (with
//     NoFollowSymlinks) links are left out of listings; twistd lists all.
//   - ETag and, for precompressed siblings and compressed files, Vary are
//     sent; twistd sends neither, nor compresses.
//   - The Server header is Config.ServerHeader ("gotwistd" by default).
package static
