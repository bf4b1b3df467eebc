// Command gotwistd is a Go re-implementation of Twisted's twistd runner and
// its web plugin, made for systemd deployment:
//
//	gotwistd --nodaemon --pidfile= web --listen tcp:8080 --path .
//
// Run gotwistd --help for the runner's options and gotwistd web --help for
// the web server's.
package main

import (
	"os"

	"github.com/gotwistd/gotwistd/internal/cli"
	"github.com/gotwistd/gotwistd/internal/portforward"
	"github.com/gotwistd/gotwistd/internal/stackgrow"
	"github.com/gotwistd/gotwistd/internal/units"
	"github.com/gotwistd/gotwistd/web"
)

func main() {
	// Start-up goes 16 KB deep (logging, time zones): one stack copy
	// now instead of three later (internal/stackgrow).
	stackgrow.To16K()
	os.Exit(cli.Main(os.Args[1:], web.NewPlugin(), portforward.NewPlugin(), units.NewPlugin()))
}
