// Package h1 is gotwistd's HTTP/1.1 server engine for stream listeners,
// plain or TLS: a drop-in for net/http's Server there, with the same
// handler semantics, that answers cached files without building an
// *http.Request. On a TLS listener (tls.NewListener, or this package's
// NewTLSListener) it makes each handshake on the connection's goroutine
// and hands the connections that chose another protocol by ALPN ("h2")
// to Server.NextProto; HTTP/1.1 goes through crypto/tls, never around it
// (no writev, WriteSyscall or sendfile there), and over NewTLSListener
// its idle connections wait in the event loops as plain ones do (below).
//
// A connection starts on a goroutine of its own, on Go's netpoller. Its
// request heads are parsed in place in the connection's read buffer,
// without allocating; a fast.Handler (gotwistd's static file cache) is
// shown each plain request (see web/fast: the engine fills a fast.Request
// with views of the head) and can answer it with pre-rendered header
// lines and a body, to which the engine adds the status line, Date and,
// when needed, Connection. Pipelined requests are answered in order,
// their responses written together. What the fast.Handler declines, and
// every request that is not plain, goes to an
// ordinary http.Handler, through a ResponseWriter that behaves as
// net/http's: Content-Length for small bodies, chunked encoding otherwise
// (close-delimited for HTTP/1.0), sniffed Content-Type, Date, HEAD, 1xx
// interim responses, Flush, ReadFrom with sendfile(2) for files,
// WriteSyscall for bodies only write(2) may read (file mappings), and
// http.ResponseController's deadlines. Request bodies (Content-Length or
// chunked) are read on demand, with Expect: 100-continue; what a handler
// leaves unread is read and dropped (up to 256 KiB) or the connection is
// closed.
//
// # Event loops (Linux)
//
// A keep-alive connection whose last request the fast.Handler answered,
// and whose socket the engine may read itself (see below), is handed to
// one of GOMAXPROCS event loops when it goes idle: its goroutine ends,
// and the socket joins the loop's epoll set (level-triggered), on which
// the loop's goroutine waits in epoll_pwait(2) itself (after yielding a
// few times to find work without sleeping, and, when its last look found
// requests already waiting, after polling for up to 30 µs with
// sched_yield(2) between looks). A loop reads what arrives and, when
// the fast.Handler answers every request in it and the answers can be
// written without waiting, keeps the connection: one read(2) and one
// write(2) per request, none of the reads that find nothing a goroutine
// needs before it can wait, and no goroutine, stack or buffer held by an
// idle connection. Anything else (a request for the Handler, a partial
// head, a body, a short write, an error) hands the connection back to a
// new goroutine with the input read and the output not yet written; the
// socket stays registered with the netpoller throughout, so that costs one
// epoll_ctl(2). A connection the Handler answered last waits on its
// goroutine for a second first (its client often asks again at once), then
// goes to a loop too. Loops close connections idle longer than IdleTimeout
// (to the second), and Shutdown's idle ones.
//
// An HTTP/1.1 connection over TLS from NewTLSListener goes to a loop the
// same way, once nothing its client sent waits above the socket, decrypted
// or not: NewTLSListener puts a layer under crypto/tls that hands it one
// record at a time (the rest of a read waits in the layer), so the engine
// can tell. The loop reads through the tls.Conn, the layer reading the
// socket without waiting and answering a read that finds nothing with a
// timeout, after which crypto/tls keeps the part of a record it has, as
// when a deadline passes; records that came together are decrypted one
// after the other before the loop waits again. Writes do not wait either:
// what the socket does not take waits in the layer (crypto/tls ends a
// connection at any write error) and the connection goes to a goroutine,
// which writes it first. A close_notify, the end of the input or an error
// closes the connection once what came before is answered; a client's
// KeyUpdate crypto/tls handles wherever the connection is; anything else
// goes to a goroutine as from a plain connection's loop. Over
// tls.NewListener, TLS connections keep their goroutines.
//
// A fast.Handler that is also a fast.Watcher lends the loops a descriptor to
// watch (gotwistd's static handler: inotify on its cached files); a loop
// calls Refresh when it is readable, before serving requests that arrived
// with it, and marks the requests it serves Watched, so the handler can
// trust what it knows without a stat(2) per request.
//
// A new connection whose request is already readable when Serve accepts
// it (gotwistd's own TCP listeners have TCP_DEFER_ACCEPT, so it usually
// is) is answered the same way by the accepting goroutine: after a
// "Connection: close" answer it is closed there, with no goroutine of its
// own; a kept-alive one goes to a loop; anything else to its goroutine, as
// from a loop. One with nothing to read yet gets its goroutine, and the
// timeouts of a new connection, as before.
//
// # Accepting (Linux)
//
// On a TCP listener that is bare or wrapped only by AcceptHooks (gotwistd's
// plain listeners: accept retries, --send-timeout, --max-connections,
// metrics; not TLS, haproxy: or handover listeners, nor a Server with a
// ConnState hook), Serve does not call Accept: it waits for the listening
// socket through a duplicate of it that Go's netpoller watches, then calls
// accept4(2) until the queue is empty, up to 16 connections at a time,
// for which it refreshes the fast.Watcher once (what changed before they
// were accepted counts, as for an event loop's batch of reads). A
// connection whose request is there is read, answered and, after
// "Connection: close", closed with raw
// read(2), write(2) and close(2), before any net.Conn exists: no netpoller
// registration (two epoll_ctl(2)), getsockname(2), TCP_NODELAY, the
// hooks' socket options (gotwistd's --send-timeout: set in RawWrap), finalizer
// or address allocations, and no system call the scheduler is told of,
// which would keep its monitor thread (sysmon) waking every 20 us. The
// hooks are told of it by descriptor (see AcceptHook). Every other
// connection (for an event loop, for the Handler, not readable yet)
// becomes a net.Conn as cheaply as net's accept makes one (its socket as a
// pollable *os.File, with its RawConn, deadlines, writev and sendfile),
// wrapped by the hooks, and goes on as above. An accept4 error other than
// an empty queue goes to the listener's Accept, whose wrappers handle it
// as before (the open-files limit: pauses, a log line). Shutdown and
// Close close the duplicate with the listener, so a socket another
// process holds keeps the connections that come after, for the next
// server, and one only this process had is closed.
//
// On a connection's own goroutine, reads of a bare socket go through
// syscall.RawConn, and the read buffer is given back when a read finds no
// data.
//
// # The parser is strict
//
// It follows RFC 9112 and refuses, with 400 and the connection closed,
// what net/http lets through or repairs, where accepting it could let a
// client smuggle a request past a proxy or confuse a log:
//
//   - obsolete line folding (a header line starting with a space or tab);
//   - a CR anywhere but before an LF; NUL and other control characters in
//     field values; anything but token characters in field names, and
//     whitespace before the colon;
//   - more than one Content-Length, even with equal values; a
//     Content-Length with a sign, a list, or more than 18 digits;
//   - Transfer-Encoding together with Content-Length; more than one
//     Transfer-Encoding header; Transfer-Encoding in an HTTP/1.0 request;
//     a coding other than a lone "chunked" gets 501;
//   - in chunked bodies: line ends other than CRLF, chunk sizes with a
//     sign, more than 15 hex digits, or malformed trailers;
//   - a method of more than 32 characters; a request target that is not
//     origin-form ("/..."), absolute-form ("http://..."), "*" for OPTIONS
//     or an authority for CONNECT, or holding a '#'; a major version
//     other than 1 (505 for a well-formed one; HTTP/1.2 and later
//     minors are served as HTTP/1.1);
//   - more than 4 empty lines before a request line.
//
// Unlike net/http, every status line says HTTP/1.1, also to HTTP/1.0
// requests (RFC 9110 section 2.5; nginx does the same), with
// "Connection: close" when the connection ends after the answer; no 1xx
// is sent to an HTTP/1.0 client; and its own error responses carry Date
// and, if Server.ServerHeader is set, Server.
//
// As net/http, it accepts a bare LF as a line end (RFC 9112 section 2.2),
// requires exactly one valid Host header in HTTP/1.1 requests, and
// answers 417 to an Expect other than 100-continue. A head larger than
// Server.MaxHeaderBytes gets 431, a request target longer than
// Server.MaxTargetBytes 414, both as soon as the bytes that break the
// limit arrive. Error responses are followed by a lingering close: the
// engine half-closes the connection and reads what the client still
// sends for up to half a second, so the client reads the response
// instead of a connection reset.
//
// # Connection wrappers
//
// Listeners may wrap connections (connection limits, handover tracking).
// A wrapper with a Handshake method (Handshaker: endpoint.ProxyConn, which
// reads a PROXY protocol header) has it called first, on the connection's
// goroutine, before RemoteAddr is asked.
// A wrapper that has an Unwrap() net.Conn method must pass writes through
// unchanged: the engine writes header and body together with writev(2) on
// the socket under it. Reads go through the wrapper, unless it is
// Transparent (it also passes reads through, as a connection limit does):
// only then can the connection be served from an event loop. A handover
// tracker, which watches reads, keeps its connections on goroutines.
// A wrapper with a BetweenRequests method (handover.Boundary: a handover
// tracker's connections) has it called each time the connection is
// between requests with no unread byte buffered, before the read that
// waits for the next one, on the connection's goroutine or on its event
// loop: that is how the tracker knows where it may park the connection.
package h1
