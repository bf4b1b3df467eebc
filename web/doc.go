// Package web is gotwistd's `web` plugin, the counterpart of `twistd web`:
// a static file server (or, without --path, a welcome page) on any number
// of endpoints, with twistd's options and log lines.
//
//	gotwistd --nodaemon --pidfile= web --listen tcp:8080 --path /srv/www
//
// Every endpoint string of package endpoint works with --listen: plain
// streams (tcp:, tcp6:, unix:, systemd:) serve HTTP/1.1; ssl: endpoints
// serve HTTP/2 and HTTP/1.1 (ALPN); quic: endpoints serve HTTP/3, and
// responses on ssl: endpoints then carry `Alt-Svc: h3=":PORT"; ma=86400` so
// browsers find it. A quic: endpoint's UDP socket is bound at start;
// quic-go's HTTP/3 server is set up on it when the first datagram comes,
// which waits in the socket until then. A unit file for socket activation:
//
//	[Service]
//	ExecStart=/usr/bin/gotwistd --nodaemon --pidfile= \
//	    web --listen systemd:domain=INET:name=web --path /srv/www
//	User=www-data
//
// Access lines use twistd's combined log format, to -l/--logfile or else
// the main log:
//
//	"127.0.0.1" - - [23/Nov/2026:20:00:49 +0000] "GET /a.txt HTTP/1.1" 200 6 "http://r/" "UA"
//
// The Server implements service.Service: SIGHUP (Reload) reloads TLS
// certificates and reopens the access log without dropping a connection,
// SIGUSR1 (ReopenLogs) reopens the access log, SIGTERM (Shutdown) finishes
// in-flight requests first.
package web
