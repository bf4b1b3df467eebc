// Command echod is a complete daemon on gotwistd's runner: an echo server
// that says hello first. The runner gives it twistd's options, logging,
// sd_notify, the watchdog, privileges and sockets from systemd; echod only
// echoes.
//
//	echod --nodaemon --pidfile= echo --listen tcp:7000 --greeting 'hi'
//
// Socket-activated under systemd, with echod.socket and echod.service from
// this directory:
//
//	echod --nodaemon --pidfile= echo --listen systemd:domain=INET:index=0
package main

import (
	"context"
	"io"
	"os"
	"sync"

	"github.com/gotwistd/gotwistd/runner"
)

var echo = &runner.Daemon{
	Name:     "echo",
	Synopsis: "Echo every line back, after a greeting.",
	Listen:   []string{"tcp:7000"},
	Options: []runner.Option{
		{Long: "greeting", Short: 'g', Meta: "TEXT", Help: "The line sent first.", Default: "hello"},
	},
	Run: func(ctx context.Context, in *runner.Input) error {
		var loops, conns sync.WaitGroup
		for _, l := range in.Listeners {
			loops.Go(func() {
				ln := runner.Accepting(l)
				for {
					c, err := ln.Accept()
					if err != nil {
						return // the runner closed it: we are stopping
					}
					conns.Go(func() {
						defer c.Close()
						// Past the grace period, close what is still open.
						defer context.AfterFunc(in.Hard, func() { c.Close() })()
						io.WriteString(c, in.Options.Get("greeting")+"\n")
						io.Copy(c, c)
					})
				}
			})
		}
		<-ctx.Done() // SIGTERM: the runner has closed the listeners
		loops.Wait() // no connection is accepted after this
		conns.Wait() // open ones finish, until the grace period ends
		return nil
	},
}

func main() { os.Exit(runner.Main(os.Args[1:], echo.Plugin())) }
