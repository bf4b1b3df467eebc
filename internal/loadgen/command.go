package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit statuses of Main.
const (
	ExitOK     = 0 // every request succeeded
	ExitFailed = 1 // some requests failed
	ExitUsage  = 2 // bad arguments; nothing was sent
)

// jsonResult is Result as Main prints it with -json.
type jsonResult struct {
	Mode         string           `json:"mode"`
	Requests     int64            `json:"requests"`
	OK           int64            `json:"ok"`
	Failed       int64            `json:"failed"`
	Causes       map[string]int64 `json:"causes"`
	Errors       []string         `json:"errors,omitempty"`
	Connections  int64            `json:"connections"`
	MaxLatencyMS float64          `json:"max_latency_ms"`
	ElapsedS     float64          `json:"elapsed_s"`
}

// Main is the gotwistd-load command: it parses args (without the program
// name) into a Config, runs it until its bound or SIGINT/SIGTERM, and
// prints the counts. It returns the exit status: ExitOK, ExitFailed or
// ExitUsage.
//
//	gotwistd-load [-mode close|keepalive] [-c 8] [-d 10s] [-n 0] [-pause 0]
//	              [-timeout 10s] [-status 200] [-body FILE] [-netns PATH] [-json] URL
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, asJSON, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "gotwistd-load: %v\n", err)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "gotwistd-load: %v\n", err)
		return ExitUsage
	}
	if asJSON {
		j := jsonResult{
			Mode: res.Mode.String(), Requests: res.Requests, OK: res.OK, Failed: res.Failures(),
			Causes: map[string]int64{}, Errors: res.Errors(), Connections: res.Conns,
			MaxLatencyMS: float64(res.MaxLatency) / float64(time.Millisecond),
			ElapsedS:     res.Elapsed.Seconds(),
		}
		for _, c := range Causes() {
			j.Causes[c.String()] = res.Failed[c]
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(j)
	} else {
		fmt.Fprintln(stdout, res)
		for _, e := range res.Errors() {
			fmt.Fprintln(stdout, "  "+e)
		}
	}
	if res.Failures() > 0 {
		return ExitFailed
	}
	return ExitOK
}

func parseArgs(args []string, stderr io.Writer) (Config, bool, error) {
	var cfg Config
	fs := flag.NewFlagSet("gotwistd-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gotwistd-load [options] http://127.0.0.1[:PORT]/PATH")
		fmt.Fprintln(stderr, "Sends GET requests to a loopback address for a bounded time or count and")
		fmt.Fprintln(stderr, "counts every failed request by cause. Exit status: 0 none failed, 1 some")
		fmt.Fprintln(stderr, "failed, 2 bad arguments.")
		fs.PrintDefaults()
	}
	mode := fs.String("mode", "close", "close: a new connection per request (Connection: close); keepalive: reuse connections")
	fs.IntVar(&cfg.Clients, "c", DefaultClients, "concurrent clients")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "stop starting requests after this long (0: only -n bounds the run)")
	fs.Int64Var(&cfg.MaxRequests, "n", 0, "stop after this many requests (0: only -d bounds the run)")
	fs.DurationVar(&cfg.Pause, "pause", 0, "pause of each client between two requests")
	fs.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "bound on each request, connect included")
	fs.IntVar(&cfg.Status, "status", DefaultStatus, "the status every response must have")
	body := fs.String("body", "", "a file whose content every response body must equal")
	fs.StringVar(&cfg.Netns, "netns", "", "send from this network namespace (/proc/PID/ns/net; needs root)")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() != 1 {
		return cfg, false, fmt.Errorf("want one URL, got %d arguments (try -h)", fs.NArg())
	}
	cfg.URL = fs.Arg(0)
	m, err := ParseMode(*mode)
	if err != nil {
		return cfg, false, err
	}
	cfg.Mode = m
	if *body != "" {
		b, err := os.ReadFile(*body)
		if err != nil {
			return cfg, false, fmt.Errorf("-body: %w", err)
		}
		cfg.Body = b
	}
	return cfg, *asJSON, nil
}
