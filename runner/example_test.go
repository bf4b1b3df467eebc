package runner_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/runner"
	"github.com/gotwistd/gotwistd/service"
)

// A Daemon that greets each client and closes: the runner binds --listen,
// and Run accepts until the runner stops it. A program runs it with
//
//	func main() { os.Exit(runner.Main(os.Args[1:], greeter.Plugin())) }
//
// Here the example drives the plugin the way the runner does, to show what
// a client sees.
func ExampleDaemon() {
	greeter := &runner.Daemon{
		Name:     "greet",
		Synopsis: "Say hello and hang up.",
		Listen:   []string{"tcp:7001"},
		Options:  []runner.Option{{Long: "name", Meta: "NAME", Help: "Who to greet.", Default: "world"}},
		Run: func(ctx context.Context, in *runner.Input) error {
			ln := runner.Accepting(in.Listeners[0])
			for {
				c, err := ln.Accept()
				if err != nil {
					return nil // stopping: the runner closed the listener
				}
				fmt.Fprintf(c, "hello, %s\n", in.Options.Get("name"))
				c.Close()
			}
		},
	}

	// What runner.Main does with `greet --listen unix:DIR/greet.sock --name gopher`:
	dir, _ := os.MkdirTemp("", "greet-example-")
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "greet.sock")
	svc, err := greeter.Plugin().New([]string{"--listen", "unix:" + sock, "--name", "gopher"}, service.Env{})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = svc.Listen(context.Background())
	go svc.Serve()
	fmt.Println(strings.Replace(svc.Status(), dir, "DIR", 1))

	c, _ := net.Dial("unix", sock)
	line, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(line)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(svc.Shutdown(ctx))
	// Output:
	// serving on unix:DIR/greet.sock
	// hello, gopher
	// <nil>
}
