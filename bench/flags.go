package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// errHelp is returned by parseFlags when --help was asked for and printed.
var errHelp = errors.New("help requested")

// The cases a run can measure. The throughput cases run against every
// server with its access log off and, in the same rounds, against a second
// instance with it on, unless "logs" is left out.
const (
	caseSmall      = "small"      // wrk, keep-alive, the 160-byte page
	case100k       = "100k"       // wrk, keep-alive, the 100 KB file
	case10m        = "10m"        // wrk, keep-alive, the 10 MB file
	caseClose      = "close"      // wrk, Connection: close, the 160-byte page
	caseH2         = "h2"         // h2load, HTTPS + HTTP/2, the 160-byte page
	caseTLS        = "tls"        // wrk, HTTPS + HTTP/1.1 keep-alive, the 160-byte page
	caseTLS10m     = "tls-10m"    // wrk, HTTPS + HTTP/1.1 keep-alive, the 10 MB file
	caseH2100k     = "h2-100k"    // h2load, HTTPS + HTTP/2, the 100 KB file
	caseH3         = "h3"         // h3load, HTTP/3 over QUIC, the 160-byte page
	caseH3100k     = "h3-100k"    // h3load, HTTP/3 over QUIC, the 100 KB file
	caseBr         = "br"         // wrk, keep-alive, Accept-Encoding: br, gzip, the 160-byte page
	caseBrJS       = "br-js"      // wrk, keep-alive, Accept-Encoding: br, gzip, a 30 KB JavaScript file
	caseLogs       = "logs"       // a second instance per server, access logs on
	caseRSS        = "rss"        // idle RSS and RSS holding N keep-alive connections
	caseReady      = "ready"      // exec -> READY=1 / first response, gotwistd vs twistd3
	caseActivation = "activation" // cold socket activation, connect -> first byte
	caseSystemd    = "systemd"    // cold socket activation under a real systemd (the e2e box)
)

// throughputCases are the wrk/h2load cases, in the order they are run and shown.
var throughputCases = []string{caseSmall, case100k, case10m, caseClose, caseTLS, caseTLS10m, caseH2, caseH2100k, caseH3, caseH3100k, caseBr, caseBrJS}

var allCases = []string{caseSmall, case100k, case10m, caseClose, caseTLS, caseTLS10m, caseH2, caseH2100k, caseH3, caseH3100k, caseBr, caseBrJS,
	caseLogs, caseRSS, caseReady, caseActivation, caseSystemd}

// isH3 reports whether c is loaded over HTTP/3 (by h3load).
func isH3(c string) bool { return c == caseH3 || c == caseH3100k }

// isH2 reports whether c is loaded over HTTPS + HTTP/2 (by h2load).
func isH2(c string) bool { return c == caseH2 || c == caseH2100k }

// isTLS1 reports whether c is loaded by wrk over HTTPS (HTTP/1.1).
func isTLS1(c string) bool { return c == caseTLS || c == caseTLS10m }

// inGBs reports whether c is shown in GB/s (the 10 MB cases) rather than req/s.
func inGBs(c string) bool { return c == case10m || c == caseTLS10m }

// isBr reports whether c sends a browser's Accept-Encoding.
func isBr(c string) bool { return c == caseBr || c == caseBrJS }

// acceptEncoding is what the br cases send, as browsers do (Chromium sends
// "gzip, deflate, br, zstd"; the issue asks for the two every peer knows).
const acceptEncoding = "br, gzip"

// config is what the command line asks for.
type config struct {
	quick          bool
	rounds         int
	duration       time.Duration // per wrk/h2load run
	warmup         time.Duration // per server instance before the first round
	conns          int
	threads        int
	h2Streams      int
	holdConns      int
	maxNoise       float64 // re-run a load run when other processes took more than this share of the CPU
	retries        int     // at most this many times
	startupRuns    int
	activationRuns int
	systemdRuns    int
	cases          map[string]bool
	servers        map[string]bool // empty: all
	gotwistd       string          // path of the gotwistd binary; empty: skip it
	h3load         string          // path of the built bench/h3load; empty: the HTTP/3 cases are skipped
	baselineBin    string          // a gotwistd built from baselineRev, run as an extra column; empty: none
	baselineRev    string          // the git revision baselineBin was built from
	engines        bool            // add gotwistd columns with --http1-engine/--http2-engine=net/http
	yardsticks     string          // dir of the built bench/yardstick programs; empty: none
	out            string          // results are written to out+".md" and out+".png"
	pgidFile       string          // every process group started is appended here
	keep           bool            // keep the temp dir
}

func (c *config) want(name string) bool { return c.cases[name] }

func (c *config) wantServer(name string) bool {
	return len(c.servers) == 0 || c.servers[name]
}

func parseFlags(args []string, stdout io.Writer) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		cfg      config
		only     string
		servers  string
		duration string
	)
	fs.BoolVar(&cfg.quick, "quick", false, "smoke run: 1 round, 1 s per case, fewer startup runs; writes results-quick.md/png")
	fs.IntVar(&cfg.rounds, "rounds", 5, "rounds of the throughput cases, interleaved across servers")
	fs.StringVar(&duration, "duration", "5s", "length of each wrk/h2load run")
	fs.IntVar(&cfg.conns, "connections", 50, "wrk/h2load connections")
	fs.IntVar(&cfg.threads, "threads", 2, "wrk/h2load threads")
	fs.IntVar(&cfg.h2Streams, "streams", 10, "h2load concurrent streams per connection (-m)")
	fs.IntVar(&cfg.holdConns, "hold", 10000, "idle keep-alive connections held for the RSS case")
	fs.Float64Var(&cfg.maxNoise, "max-noise", 0.15, "re-run a load run if other processes used more than this share (0-1) of all CPUs during it")
	fs.IntVar(&cfg.retries, "retries", 2, "how many times a noisy load run is re-run (the quietest is kept)")
	fs.IntVar(&cfg.startupRuns, "startup-runs", 10, "runs of the exec->READY=1 case, per server")
	fs.IntVar(&cfg.activationRuns, "activation-runs", 10, "runs of the cold socket-activation case, per server")
	fs.IntVar(&cfg.systemdRuns, "systemd-runs", 150, "runs of the cold activation case under a real systemd, per server (systemd's own fork -> exec spreads the starts over 5-50 ms: one binary's median of 40 moved 1.2 ms between two columns of a run)")
	fs.StringVar(&only, "only", "", "comma-separated cases to run (default all): "+strings.Join(allCases, ","))
	fs.StringVar(&servers, "servers", "", "comma-separated servers to run (default all): "+strings.Join(serverNames(), ","))
	fs.StringVar(&cfg.gotwistd, "gotwistd", "", "path of a built gotwistd binary (./bench/run builds it); empty skips gotwistd")
	fs.StringVar(&cfg.h3load, "h3load", "", "path of the built bench/h3load (./bench/run builds it), the HTTP/3 cases' load client; empty skips those cases")
	fs.StringVar(&cfg.baselineRev, "baseline", "", "git revision REV: ./bench/run builds gotwistd from it and runs it as an extra column gotwistd@REV in every case, in the same rounds; the report shows after/before per case")
	fs.StringVar(&cfg.baselineBin, "baseline-bin", "", "path of the gotwistd built from --baseline (./bench/run passes it)")
	fs.BoolVar(&cfg.engines, "engines", false, "add columns for gotwistd with --http1-engine=net/http and with --http2-engine=net/http, in the cases each engine serves")
	fs.StringVar(&cfg.yardsticks, "yardsticks", "", "dir holding the built bench/yardstick programs (./bench/run builds them), timed beside gotwistd in the activation case; empty: none")
	fs.StringVar(&cfg.out, "out", "", "results file prefix (default bench/results, or bench/results-quick with --quick)")
	fs.StringVar(&cfg.pgidFile, "pgid-file", "", "append the id of every process group started to this file (for ./bench/run's cleanup trap)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temp dir with configs, logs and server output")
	help := fs.Bool("help", false, "show this help")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *help {
		fmt.Fprintln(stdout, "usage: ./bench/run [flags]   (or: go run ./bench [flags], with the peers installed)")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil, errHelp
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every option is a flag", fs.Arg(0))
	}
	d, err := time.ParseDuration(duration)
	if err != nil {
		if n, err2 := time.ParseDuration(duration + "s"); err2 == nil {
			d = n
		} else {
			return nil, fmt.Errorf("--duration %q: want a duration such as 5s", duration)
		}
	}
	cfg.duration = d
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.quick {
		if !set["rounds"] {
			cfg.rounds = 1
		}
		if !set["duration"] {
			cfg.duration = time.Second
		}
		if !set["startup-runs"] {
			cfg.startupRuns = 3
		}
		if !set["activation-runs"] {
			cfg.activationRuns = 3
		}
		if !set["systemd-runs"] {
			cfg.systemdRuns = 3
		}
		if !set["retries"] {
			cfg.retries = 1
		}
	}
	if cfg.out == "" {
		cfg.out = "bench/results"
		if cfg.quick {
			cfg.out = "bench/results-quick"
		}
	}
	cfg.warmup = time.Second
	if cfg.duration < cfg.warmup {
		cfg.warmup = cfg.duration / 2
	}
	if cfg.rounds < 1 || cfg.duration < 100*time.Millisecond || cfg.conns < 1 || cfg.threads < 1 ||
		cfg.holdConns < 1 || cfg.startupRuns < 1 || cfg.activationRuns < 1 || cfg.systemdRuns < 1 || cfg.h2Streams < 1 ||
		cfg.retries < 0 || cfg.maxNoise <= 0 {
		return nil, errors.New("--rounds, --connections, --threads, --streams, --hold and the run counts must be at least 1, --duration at least 100ms")
	}
	if cfg.threads > cfg.conns {
		return nil, errors.New("--threads must not exceed --connections (wrk refuses it)")
	}
	if cfg.baselineBin != "" && cfg.baselineRev == "" {
		return nil, errors.New("--baseline-bin needs --baseline REV, the revision it was built from")
	}
	if strings.ContainsAny(cfg.baselineRev, " \t\n,:") {
		return nil, fmt.Errorf("--baseline %q: want a git revision such as 4b2cce7 or v1.2 (no spaces, commas or colons)", cfg.baselineRev)
	}
	cfg.cases, err = parseList(only, allCases, "case")
	if err != nil {
		return nil, err
	}
	cfg.servers, err = parseList(servers, serverNames(), "server")
	if err != nil {
		return nil, err
	}
	if len(cfg.servers) == len(serverNames()) {
		cfg.servers = nil
	}
	return &cfg, nil
}

// parseList turns "a,b" into a set, checking every word against known. An
// empty list means all of known.
func parseList(s string, known []string, what string) (map[string]bool, error) {
	set := map[string]bool{}
	if strings.TrimSpace(s) == "" {
		for _, k := range known {
			set[k] = true
		}
		return set, nil
	}
	ok := map[string]bool{}
	for _, k := range known {
		ok[k] = true
	}
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if !ok[w] {
			k := append([]string(nil), known...)
			sort.Strings(k)
			return nil, fmt.Errorf("unknown %s %q: choose from %s", what, w, strings.Join(k, ","))
		}
		set[w] = true
	}
	return set, nil
}
