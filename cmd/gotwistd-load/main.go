// Command gotwistd-load is a small, bounded HTTP/1.1 load generator for
// loopback addresses that counts every failed request by cause (refused,
// reset, eof, truncated, timeout, status, body). The reliability suite
// (scripts/reliability) uses it to show that restarts lose no request:
//
//	gotwistd-load -mode keepalive -c 16 -d 60s http://127.0.0.1/
//
// Inside a network namespace (a test box): -netns /proc/PID/ns/net.
package main

import (
	"os"

	"github.com/gotwistd/gotwistd/internal/loadgen"
)

func main() {
	os.Exit(loadgen.Main(os.Args[1:], os.Stdout, os.Stderr))
}
