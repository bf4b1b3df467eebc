// Command nethttp is the "bare Go server" of the cold socket-activation
// case: net/http's FileServer on the listening socket systemd passes as
// fd 3, and nothing else. The gap between it and rawaccept is what net/http
// costs before a first byte; the gap between it and gotwistd is what
// gotwistd adds (logging, options, HTTP/2 and HTTP/3, the runner).
//
//	systemd-socket-activate -l 127.0.0.1:8080 -- nethttp /srv/www
//
// It is a yardstick for ./bench/run, not a server to deploy.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: nethttp DIR (with a listening socket as fd 3)")
		os.Exit(2)
	}
	l, err := net.FileListener(os.NewFile(3, "LISTEN_FDS socket"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "nethttp: fd 3 is not a listening socket (%v): start it as systemd-socket-activate does\n", err)
		os.Exit(2)
	}
	err = http.Serve(l, http.FileServer(http.Dir(os.Args[1])))
	fmt.Fprintln(os.Stderr, "nethttp:", err)
	os.Exit(1)
}
