// Command bench compares gotwistd with the servers a user would pick
// instead (h2o, lighttpd, nginx, caddy and Twisted's twistd3), all on
// loopback on this machine, and writes the numbers to bench/results.md and a
// chart to bench/results.png.
//
// It is a benchmark, not a test: it prints numbers and asserts nothing. Run it
// through ./bench/run, which installs the peers and load generators from
// Debian, builds gotwistd when it builds, and then runs this program:
//
//	./bench/run                     # full run: 5 rounds of 5 s per case
//	./bench/run --quick             # smoke run: 1 round of 1 s per case
//	./bench/run --only small,h2 --rounds 5 --duration 10s
//
// A server that is missing or does not start is skipped with a line saying
// why; the rest of the run goes on.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses the arguments, runs the benchmark and returns the exit code.
// It decides the exit code; besides main, only the signal handler's last
// resort (a second signal, or a shutdown that hangs) calls os.Exit.
func run(args []string) int {
	cfg, err := parseFlags(args, os.Stdout)
	if err != nil {
		if err == errHelp {
			return 0
		}
		fmt.Fprintf(os.Stderr, "bench: error: %v\nTry: ./bench/run --help\n", err)
		return 2
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	procs := newProcTable(cfg.pgidFile)
	defer procs.killAll()

	b := &bench{cfg: cfg, procs: procs, out: os.Stdout}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "\nbench: %v: stopping every server and exiting\n", s)
		cancel()
		// Ctrl-C reaches both ./bench/run and this program, and the script
		// passes a SIGTERM on: signals in the first seconds are that echo.
		grace := time.After(2 * time.Second)
		for {
			select {
			case <-grace:
				grace = nil
				continue
			case <-sigs:
				if grace != nil {
					continue
				}
			case <-time.After(10 * time.Second):
			}
			break
		}
		procs.killAll()
		if dir := b.tempDir.Load(); dir != nil && !cfg.keep {
			os.RemoveAll(*dir)
		}
		os.Exit(130)
	}()

	if err := b.run(ctx); err != nil {
		procs.killAll()
		if ctx.Err() != nil {
			return 130
		}
		fmt.Fprintf(os.Stderr, "bench: error: %v\n", err)
		return 1
	}
	return 0
}
