package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

func (b *bench) writeLogCost(w func(string, ...any)) {
	r := b.res
	p0, p1 := r.passes[0], r.passes[1]
	if p0 == nil {
		return
	}
	w("What the access log costs each server (logs-on median ÷ logs-off median − 1; the issue's goal for")
	w("gotwistd is at most 10%%), in parentheses the 95%% bootstrap interval of that figure from the rounds")
	w("(how far the spread of the rounds alone could move it), and the bytes it wrote per request (a check")
	w("that logging was really on):")
	w("")
	head, sep := "| server |", "|---|"
	for _, c := range p1.cases {
		head += " " + caseColumn[c] + " |"
		sep += "---:|"
	}
	w("%s", head)
	w("%s", sep)
	for _, d := range r.defs {
		row := "| " + d.name + " |"
		for _, c := range p1.cases {
			off, on := p0.cell(c, d.name), p1.cell(c, d.name)
			if !off.ok || !on.ok {
				row += " n/a |"
				continue
			}
			var reqs int64
			for _, x := range p1.load[c][d.name] {
				reqs += x.Requests
			}
			per := ""
			if reqs > 0 {
				per = fmt.Sprintf(", %.0f B/req", float64(p1.logBytes[c][d.name])/float64(reqs))
			}
			row += fmt.Sprintf(" %+.1f%%%s%s |", (on.med/off.med-1)*100, costInterval(on, off), per)
		}
		w("%s", row)
	}
	w("")
}

// costBounds is the 95% bootstrap interval of on.med/off.med − 1 (the
// access log's cost as a change of the rate); ok is false with fewer than
// 3 counted runs on either side.
func costBounds(on, off stat) (lo, hi float64, ok bool) {
	if len(on.values) < 3 || len(off.values) < 3 {
		return 0, 0, false
	}
	lo, hi = ratioInterval(on.values, off.values)
	return lo - 1, hi - 1, true
}

// costInterval is costBounds as " (−20.1 … +3.2%)", or "".
func costInterval(on, off stat) string {
	lo, hi, ok := costBounds(on, off)
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (%+.1f … %+.1f%%)", lo*100, hi*100)
}

func (b *bench) writeMemory(w func(string, ...any)) {
	r := b.res
	n := r.cfg.holdConns
	w("## Memory")
	w("")
	w("Sum over each server's processes, read from /proc right after start (idle) and while holding")
	w("%s idle keep-alive connections (each sent one request for the small page and stays open; one", groupDigits(float64(n)))
	w("server at a time). RSS counts pages shared between a server's workers once per process; PSS")
	w("splits them. Anon is the part no file holds (heap, stacks, written data); the rest of RSS is")
	w("pages of the executable and its files mapped from the page cache, which the kernel maps 64 KB")
	w("around each page touched (fault-around) and can drop and read again under memory pressure.")
	w("Lower is better; the ratio is to the lowest peer.")
	w("")
	idle := func(name string) (float64, bool) {
		m := r.mem[name]
		return float64(m.Idle.RSS), m != nil && m.Idle.RSS > 0
	}
	held := func(name string) (float64, bool) {
		m := r.mem[name]
		return float64(m.Held.RSS), m != nil && m.Held.RSS > 0 && m.Hold.Opened > 0
	}
	bi, _, okI := bestPeer(r.defs, func(n string) (float64, bool) {
		if r.mem[n] == nil {
			return 0, false
		}
		return idle(n)
	}, true)
	bh, _, okH := bestPeer(r.defs, func(n string) (float64, bool) {
		if r.mem[n] == nil {
			return 0, false
		}
		return held(n)
	}, true)
	w("| server | processes | idle RSS | idle PSS | idle anon | × best peer (idle RSS) | RSS, %s conns | PSS, %s conns | × best peer | KB per conn (RSS) | held / still open |",
		groupDigits(float64(n)), groupDigits(float64(n)))
	w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, d := range r.defs {
		m := r.mem[d.name]
		if m == nil || m.Idle.RSS == 0 {
			why := "not run"
			if r.isSkipped(d.name) {
				why = "not available"
			} else if m != nil && m.Err != "" {
				why = m.Err
			}
			w("| %s | %s | | | | | | | | | |", d.name, why)
			continue
		}
		ri := ""
		if okI {
			ri = fmtRatio(float64(m.Idle.RSS), bi)
		}
		hRSS, hPSS, rh, per := "n/a", "n/a", "", ""
		if m.Hold.Opened > 0 {
			hRSS, hPSS = fmtMB(m.Held.RSS), fmtMB(m.Held.PSS)
			if okH {
				rh = fmtRatio(float64(m.Held.RSS), bh)
			}
			per = fmt.Sprintf("%.1f", float64(m.Held.RSS-m.Idle.RSS)/1024/float64(m.Hold.Opened))
		}
		heldCol := fmt.Sprintf("%s / %s", groupDigits(float64(m.Hold.Opened)), groupDigits(float64(m.StillOpn)))
		if m.Hold.Failed > 0 {
			heldCol += fmt.Sprintf(" (%d failed: %s)", m.Hold.Failed, mdEscape(shorten(m.Err, 80)))
		}
		w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |", d.name, m.Idle.Procs, fmtMB(m.Idle.RSS), fmtMB(m.Idle.PSS), fmtMB(m.Idle.Anon), ri,
			hRSS, hPSS, rh, per, heldCol)
	}
	w("")
}

func (b *bench) writeStartup(w func(string, ...any)) {
	r := b.res
	w("## Start-up: exec → READY=1 and exec → first response (gotwistd vs twistd3)")
	w("")
	w("Each run execs the server on a fresh port with `NOTIFY_SOCKET` pointing at a unixgram socket the")
	w("harness made (what systemd does for `Type=notify`), then times the `READY=1` datagram and the")
	w("first `200` to `GET /small.html` (polled every 1 ms), both from just before exec. twistd3 has no")
	w("sd_notify, so only its first response is shown. Median (min – max) in ms.")
	w("")
	w("| server | exec → READY=1 | exec → first response | × twistd3 (first response) | runs |")
	w("|---|---:|---:|---:|---:|")
	tw := median(durs(pick(r.startup["twistd3"], func(s startupResult) time.Duration { return s.FirstResp })))
	for _, name := range []string{"gotwistd", "twistd3"} {
		if !b.ran(name) {
			continue
		}
		runs := r.startup[name]
		if len(runs) == 0 {
			w("| %s | failed: %s | | | |", name, mdEscape(shorten(r.startErr[name], 160)))
			continue
		}
		ready := pick(runs, func(s startupResult) time.Duration { return s.Ready })
		first := pick(runs, func(s startupResult) time.Duration { return s.FirstResp })
		readyCol := "never (no sd_notify)"
		if rs := durs(ready); len(rs) > 0 {
			readyCol = fmtMedRange(rs)
			if len(rs) < len(runs) {
				readyCol += fmt.Sprintf(" (%d of %d runs)", len(rs), len(runs))
			}
		}
		fm := median(durs(first))
		w("| %s | %s | %s | %s | %d |", name, readyCol, fmtMedRange(durs(first)), fmtRatio(fm, tw), len(runs))
	}
	w("")
	for _, name := range []string{"gotwistd", "twistd3"} {
		if argv := r.cmds["startup "+name]; argv != nil {
			w("- `NOTIFY_SOCKET=… %s`", strings.Join(quoteArgs(argv), " "))
		}
	}
	w("")
}

func (b *bench) writeActivation(w func(string, ...any)) {
	r := b.res
	w("## Cold socket activation: connect → first byte (gotwistd vs twistd3)")
	w("")
	w("`systemd-socket-activate -l 127.0.0.1:PORT` holds the listening socket and execs the server only")
	w("when the first connection arrives, passing the socket as fd 3 (`LISTEN_FDS=1`), as systemd does")
	w("for a `.socket` unit. The harness connects, sends `GET /small.html` and times the first byte of the")
	w("response. This approximates the real-systemd case (no cgroup, no unit start-up by PID 1); the")
	w("end-to-end suite in test/e2e runs the real thing. Median (min – max) in ms.")
	w("")
	w("| server | connect → first byte | connect → whole response | × twistd3 | runs |")
	w("|---|---:|---:|---:|---:|")
	tw := median(durs(pick(r.activ["twistd3"], func(a activationResult) time.Duration { return a.FirstByte })))
	for _, name := range []string{"gotwistd", "twistd3"} {
		if !b.ran(name) {
			continue
		}
		runs := r.activ[name]
		if len(runs) == 0 {
			w("| %s | failed: %s | | | |", name, mdEscape(shorten(r.activErr[name], 160)))
			continue
		}
		fb := durs(pick(runs, func(a activationResult) time.Duration { return a.FirstByte }))
		tot := durs(pick(runs, func(a activationResult) time.Duration { return a.Total }))
		w("| %s | %s | %s | %s | %d |", name, fmtMedRange(fb), fmtMedRange(tot), fmtRatio(median(fb), tw), len(runs))
	}
	var ys []string
	for _, name := range yardstickNames {
		if runs := r.activ[name]; len(runs) > 0 {
			fb := durs(pick(runs, func(a activationResult) time.Duration { return a.FirstByte }))
			tot := durs(pick(runs, func(a activationResult) time.Duration { return a.Total }))
			w("| *%s* (yardstick) | %s | %s | %s | %d |", name, fmtMedRange(fb), fmtMedRange(tot), fmtRatio(median(fb), tw), len(runs))
			ys = append(ys, name)
		} else if msg, failed := r.activErr[name]; failed {
			w("| *%s* (yardstick) | failed: %s | | | |", name, mdEscape(shorten(msg, 160)))
		}
	}
	w("")
	if len(ys) > 0 {
		w("The yardsticks are not peers; they are timed in the same rounds to show the floor under")
		w("gotwistd's number on this machine:")
		w("")
		for _, name := range ys {
			w("- *%s*: %s.", name, yardstickWhat[name])
		}
		w("")
	}
	for _, name := range append([]string{"gotwistd", "twistd3"}, ys...) {
		if argv := r.cmds["activation "+name]; argv != nil {
			w("- `%s`", strings.Join(quoteArgs(argv), " "))
		}
	}
	w("")
}

// ran reports whether name was asked for and available.
func (b *bench) ran(name string) bool {
	for _, d := range b.res.defs {
		if d.name == name {
			return !b.res.isSkipped(name)
		}
	}
	return false
}

func pick[T any](xs []T, f func(T) time.Duration) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func fmtMedRange(ms []float64) string {
	if len(ms) == 0 {
		return "n/a"
	}
	lo, hi := minMax(ms)
	return fmt.Sprintf("%.1f (%.1f – %.1f)", median(ms), lo, hi)
}

func (b *bench) writeSettings(w func(string, ...any)) {
	r := b.res
	cfg := r.cfg
	w("## How it was measured")
	w("")
	w("- Files, the same directory for every server: `small.html` (160 bytes of HTML), `100k.bin`")
	w("  (102,400 random bytes), `10m.bin` (10,485,760 random bytes), in a fresh temp dir; a self-signed")
	w("  ECDSA P-256 certificate for 127.0.0.1. Every server listens on 127.0.0.1 only, on ports picked")
	w("  free at start, plain HTTP and HTTPS (HTTP/2 by ALPN) in the same process.")
	w("- Two cores for each server: see the workers column above. Open-files limit raised to 65,536 for")
	w("  the harness and the servers it starts; nginx `worker_connections 20000`, h2o `max-connections:")
	w("  20000`, lighttpd `server.max-connections = 20000`, keep-alive idle time ≥ 60 s where the default")
	w("  was shorter (h2o, lighttpd), so the held connections stay open; no cap on requests per")
	w("  connection (nginx `keepalive_requests 1000000`, lighttpd `server.max-keep-alive-requests = 65535`,")
	w("  its maximum; with nginx's default of 1000 every HTTP/2 connection ends in a GOAWAY that h2load")
	w("  does not reconnect after). Other settings are each server's defaults (nginx with Debian's usual")
	w("  `sendfile on; tcp_nopush on;`).")
	w("- Access logs off: twistd3 cannot turn them off, so it runs with no `--logfile` and writes its")
	w("  access lines into its main log, a file in the temp dir (not /dev/null: twistd rotates its log")
	w("  every 1 MB, and would rename the device away); gotwistd gets `-l /dev/null` plus")
	w("  `--no-access-log` when its web plugin has that flag.")
	if len(r.mem) > 0 {
		w("- Memory is measured first, right after the logs-off instances start, with only them running.")
	}
	if p1 := r.passes[passLogsOn]; p1 != nil && len(p1.cases) > 0 {
		w("- Access logs on: then a second instance of every server is started beside the first, on its own")
		w("  ports and in its own directory, writing its usual format to a file in the temp dir (`--logfile")
		w("  FILE` for twistd3 and gotwistd; truncated after each run). Both instances run side by side for")
		w("  the rest of the run (an idle one costs nothing), and each round loads a server's logs-off and")
		w("  logs-on instances back to back, which goes first alternating from round to round and from one")
		w("  server to the next. Drift of the machine over the run thus hits both alike, which is why the")
		w("  access-log cost column compares like with like.")
	}
	w("- Throughput: wrk with %d threads and %d connections for %s per run; after a %s warm-up per", cfg.threads, cfg.conns, durationArg(cfg.duration), cfg.warmup)
	w("  server instance, %d round(s), each round running every case against every server in turn, the", cfg.rounds)
	w("  order of servers rotated each round. HTTPS + HTTP/2 with h2load, %d connections × %d streams, %d", cfg.conns, cfg.h2Streams, cfg.threads)
	w("  threads.")
	w("  HTTP/3 with bench/h3load (%s), as many connections and streams as h2load gets, against the", r.tools["h3load"])
	w("  servers that serve HTTP/3: gotwistd with a `quic:` endpoint on the UDP port of its HTTPS port's")
	w("  number (same certificate), caddy with `protocols h1 h2 h3`. The br cases are wrk with")
	w("  `-H 'Accept-Encoding: %s'`, every server with its compression on (see Compression).", acceptEncoding)
	w("  \"client CPU\" is the load generator's own share of both cores.")
	w("- Extra gotwistd columns (`--baseline REV`, `--engines`) are not peers: they run with access logs")
	w("  off only, in the same rounds as the rest, and are compared with gotwistd in tables of their own.")
	w("  A run with more than 1%% errors or non-2xx responses is not counted. \"other CPU\" is the share of")
	w("  both cores that processes other than the server and the load generator used during a run (from")
	w("  /proc/stat and /proc/PID/stat, steal included); a run above %.0f%% was re-run up to %d times and", cfg.maxNoise*100, cfg.retries)
	w("  the quietest attempt kept.")
	w("")
	w("Load commands (PORT is the server's port):")
	w("")
	seen := map[string]bool{}
	for _, p := range r.passes {
		if p == nil {
			continue
		}
		for _, c := range p.cases {
			cmd := p.loadCmd[c]
			if cmd == "" || seen[c] {
				continue
			}
			seen[c] = true
			w("- %s: `%s`", c, cmd)
		}
	}
	w("")
	if r.passes[passLogsOn] != nil {
		w("Server command lines (the logs-on instance adds the access log):")
	} else {
		w("Server command lines:")
	}
	w("")
	for _, d := range r.defs {
		for i, p := range r.passes {
			if p == nil || p.cmdlines[d.name] == "" {
				continue
			}
			w("- %s, access logs %s: `%s`", d.name, logsState(i), p.cmdlines[d.name])
		}
	}
	w("")
	for _, d := range r.defs {
		p := r.passes[0]
		if p == nil || len(p.configs[d.name]) == 0 {
			continue
		}
		names := make([]string, 0, len(p.configs[d.name]))
		for n := range p.configs[d.name] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			w("<details><summary>%s: %s (access logs off)</summary>", d.name, n)
			w("")
			w("```")
			w("%s", strings.TrimRight(p.configs[d.name][n], "\n"))
			w("```")
			w("</details>")
			w("")
		}
	}
}

func (b *bench) writeCaveats(w func(string, ...any)) {
	w("## Caveats")
	w("")
	w("- wrk and h2load run on the same 2-core machine as the server they load, so load generator and")
	w("  server compete for the same two cores; absolute numbers are lower than on separate machines, and")
	w("  a server that needs less CPU per request also leaves more to wrk. Ratios within one run are what")
	w("  this measures; compare runs only on the same kind of machine.")
	w("- h3load is Go, like gotwistd and caddy, and an HTTP/3 client costs more CPU per request than wrk:")
	w("  in the HTTP/3 columns the client takes about as much of the two cores as the server (see \"client")
	w("  CPU\"), so those absolute numbers are lower still; the ratio gotwistd ÷ caddy is what counts.")
	w("- Everything is on loopback: no network latency, no packet loss, MTU 65536.")
	w("- twistd3 is single-threaded Python and uses one core; the others were told to use two. It speaks")
	w("  HTTP/2 only with python3-h2 installed, which Debian's python3-twisted does not pull in, so it has")
	w("  no HTTP/2 number here. Its access log is buffered, so its bytes per request read low.")
	w("- Access log formats differ: nginx, h2o, lighttpd, twistd3 and gotwistd write one combined-format")
	w("  line (~90 bytes here); caddy writes a JSON object of ~1.7 KB per request, and far more per")
	w("  counted request in the 10 MB case (not looked into).")
	w("- The 10 MB case's p99 is wrk's as much as the server's: wrk reads a readable socket until it is")
	w("  empty, so on loopback a connection whose receive buffer the kernel grew gets most of wrk's time")
	w("  and one whose buffer stayed small can wait seconds. `go run ./bench/fairness -addr 127.0.0.1:PORT")
	w("  -path /10m.bin` gives each connection its own reader and shows how evenly the server shares.")
	w("- lighttpd's `server.max-worker` forks workers after start; lighttpd's docs discourage it, but it is")
	w("  the only way to give lighttpd a second core.")
	w("- Medians of %d round(s); with few rounds one noisy run moves a median. Look at min – max.", b.res.cfg.rounds)
	w("- The `activation` case uses systemd-socket-activate, not PID 1: no cgroup set-up and no unit")
	w("  start; the `systemd` case has them, and its spread is mostly systemd's own.")
	w("")
}
