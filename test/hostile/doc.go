// Package hostile attacks a real gotwistd binary on loopback and checks
// that it keeps serving normal clients and never serves a byte from outside
// --path.
//
// TestMain builds ./cmd/gotwistd once into a temporary directory; every
// test starts its own `gotwistd --nodaemon web` on 127.0.0.1 with a port
// picked by the kernel, over a tree that holds a secret file next to the
// served directory (and symbolic links and dotfiles pointing at it), and
// stops it when done. Requests are written as raw bytes on a TCP
// connection wherever the client must not normalise them.
//
// What is covered:
//
//   - slow clients: Slowloris (slow headers), slow body, slow read and the
//     Apache range attack, each with slowhttptest against a server with
//     default settings while a normal client keeps fetching a page; the
//     header, idle and send timeouts, each on its own;
//   - malformed and hostile requests: oversized headers (431), long
//     request targets (414), bodies on GET, conflicting or duplicate
//     Content-Length and Transfer-Encoding (400, with a smuggled request
//     that must not run), hundreds of overlapping ranges, invalid methods,
//     HTTP/0.9, garbage and NUL bytes;
//   - --max-connections: excess connections are closed at once, service
//     resumes when slots free up;
//   - path traversal: every encoding of "..", backslashes, NUL, overlong
//     UTF-8, absolute paths, symbolic links out of the root with
//     --no-follow-symlinks, dotfiles;
//   - least privilege (root only): -u nobody -g nogroup on tcp:80 binds,
//     then runs with every uid, gid and group 65534 and no capability, and
//     a 0600 root file under --path answers 403;
//   - faults: the access log's disk full (a 64 KiB tmpfs, root only):
//     every request answered, and each one either a whole access line or
//     counted in the main log as dropped; the open-files limit (prlimit):
//     no busy accept loop, one line at the limit and one after, the
//     request queued meanwhile served; a --path that -u nobody cannot
//     enter (root only): one warning naming the user and the directory;
//   - TLS: TLS 1.0/1.1, CBC, RSA key exchange and other weak suites are
//     refused; with GOTWISTD_FULL=1, testssl.sh audits an ssl: endpoint.
//
// Running:
//
//	go test ./test/hostile                    # the CI set, about a minute
//	GOTWISTD_FULL=1 go test -v -timeout 30m ./test/hostile   # longer attacks and testssl.sh
//
// Tests print the latency figures they measure with -v. Tools that are
// missing (slowhttptest, testssl.sh, unshare) make their test skip with a
// message; ./scripts/test installs them.
package hostile
