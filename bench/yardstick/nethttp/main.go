// Command nethttp is the net/http floor of the cold socket-activation case:
// an http.Server on the listening socket systemd passes as fd 3, answering
// every request with one file read at start. The gap between it and
// rawaccept is what net/http (its packages' start-up and its first request)
// costs before a first byte; the gap between it and gotwistd is what
// gotwistd adds (the runner, logging, a file server, HTTP/2 and HTTP/3).
//
//	systemd-socket-activate -l 127.0.0.1:8080 -- nethttp /srv/www/small.html
//
// It is a yardstick for ./bench/run, not a server: it ignores what the
// request asks for. (net/http's FileServer would read all of
// /etc/mime.types on its first request, which on Debian costs several
// milliseconds more.)
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: nethttp FILE (with a listening socket as fd 3)")
		os.Exit(2)
	}
	body, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(2)
	}
	l, err := net.FileListener(os.NewFile(3, "LISTEN_FDS socket"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "nethttp: fd 3 is not a listening socket (%v): start it as systemd-socket-activate does\n", err)
		os.Exit(2)
	}
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "nethttp:", err)
	os.Exit(1)
}
