// Package h2 is gotwistd's HTTP/2 engine (RFC 9113) for TLS connections
// that negotiated "h2": handed over by gotwistd's HTTP/1.1 engine (web/h1,
// Server.NextProto, calling ServeConn and GoAway), or by net/http's Server
// through http.Server.TLSNextProto (ConfigureServer sets it up).
//
// Each connection has one goroutine that reads frames; on Linux, over
// gotwistd's HTTP/1.1 engine's TLS listener (h1.NewTLSListener), a
// connection that has nothing to do but wait for its client waits in one
// of the Server's event loops instead, its goroutine parked, and the loop
// reads and answers it (see loop_linux.go). A request a
// fast.Handler answers (gotwistd's static file cache: a plain GET or HEAD
// of a file held in memory) is answered right there, without a goroutine:
// its pre-rendered header lines are HPACK-encoded and its body queued,
// with no *http.Request made (no header map, no URL) and nothing
// allocated but the stream. Every request's header fields go through the
// same validation first, whichever path answers it. Every other request
// runs Server.Handler on a goroutine of its own with a streaming
// http.ResponseWriter. Output from both goes to one buffer per connection
// that whoever finds no write in progress writes out, so the responses to
// the requests that one read brought leave in one TLS record and one
// write(2), where net/http's server writes each response on its own.
//
// What the engine enforces:
//
//   - flow control both ways: a stream's data waits for the client's
//     windows; a request body's window is given back as the handler reads
//     it, the connection's at once, so unread bodies stall nothing;
//   - RFC 9113's rules for frames and header fields, with its error codes
//     (h2spec passes);
//   - limits: SETTINGS_MAX_CONCURRENT_STREAMS (streams reset while their
//     handler runs still count, and a connection that gets 1,000 streams
//     refused is ended: rapid reset, CVE-2023-44487), the header list size
//     (431) and its encoded size across CONTINUATION frames, 16 KiB
//     frames;
//   - Shutdown (through http.Server.RegisterOnShutdown): GOAWAY, then the
//     streams already open are finished; IdleTimeout for connections
//     without streams.
//
// Not implemented: server push (disabled in SETTINGS), priorities (read
// and ignored, as RFC 9113 allows), trailers in responses, a per-response
// write timeout (gotwistd's --send-timeout, TCP_USER_TIMEOUT on the
// socket, ends connections whose client stops reading).
package h2
