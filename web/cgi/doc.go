// Package cgi runs CGI/1.1 scripts (RFC 3875) for the static file handler,
// as twistd's web plugin runs *.cgi files (twisted.web.twcgi). It is used
// through static.Config.CGI, so scripts are found by the handler's own
// path rules; `gotwistd web --path DIR --cgi` turns it on.
//
// A script runs with its own directory as working directory, its own
// process group, a minimal environment (the meta-variables of RFC 3875
// section 4.1, the HTTP_ variables of the request's headers but Proxy,
// and PATH, TZ, LANG and LC_ALL of the server's), and the request body,
// read in full first and bounded by Config.MaxBody, on its stdin. Its
// stdout is parsed up to the blank line after its headers (at most
// MaxHeaderBytes): Status, Location (a client redirect, or a local one
// for a lone "Location: /path"), Content-Type and any other field; then
// the body is streamed to the client as it comes. Its stderr goes to the
// log line by line (bounded). A script named nph-*.cgi starts its output
// with an HTTP status line, which is parsed like the rest of its headers.
//
// When the script exits, is timed out (Config.Timeout) or its client goes
// away, its whole process group is killed (SIGKILL), children it forked
// included. Output that is not a valid header block, or that ends before
// one, is a 502 to the client, with the reason only in the log. Scripts
// never run as root: when the server still has a user id of 0 (no
// -u/--uid, or --euid only), every script is answered 500 and the log
// says to use -u.
package cgi
