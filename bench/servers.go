package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// serverDef describes how to run one server with the bench's settings: the
// same files, 2 workers or threads, loopback only, access log off or on.
type serverDef struct {
	name string
	// peer is true for the servers gotwistd is compared against; ratios are
	// to the best peer, never to gotwistd itself.
	peer bool
	// bin is the executable's path; empty when it is not installed.
	bin string
	// versionArgs print the version (first line of stdout+stderr is kept).
	versionArgs []string
	// workers says in words how the server was told to use the 2 cores.
	workers string
	// noAccessLog is set for a gotwistd whose web plugin has
	// --no-access-log: access logs off then means off, not /dev/null.
	noAccessLog bool
	// launch writes the server's config files into dir and returns its
	// command line and extra environment.
	launch func(e *benchEnv, dir string, o launchOpts) (launchSpec, error)
	// h3 is set for a server that serves HTTP/3 on the UDP port of its
	// HTTPS port number (gotwistd's quic: endpoint, caddy's h3).
	h3 bool
	// extra marks a column that is gotwistd again, another build or
	// engine (gotwistd@REV, the net/http engines): not a peer, run with
	// access logs off only, compared with gotwistd in a table of its own.
	extra bool
	// args are added to gotwistd's web plugin (the engine columns).
	args []string
	// only lists the throughput cases this server is run in; nil: all.
	only map[string]bool
	// compression says what the server was told to compress, for the report.
	compression string
}

// applies reports whether case c is run against the server: not the
// HTTP/3 cases for a server without HTTP/3, and only its own cases for an
// engine column.
func (d *serverDef) applies(c string) bool {
	if isH3(c) && !d.h3 {
		return false
	}
	return d.only == nil || d.only[c]
}

// launchOpts are the settings that vary between starts.
type launchOpts struct {
	httpPort  int
	httpsPort int    // 0: no HTTPS listener
	accessLog string // empty: access log off
}

// launchSpec is a command line ready to run.
type launchSpec struct {
	argv    []string
	env     []string
	configs map[string]string // config file name -> content, as written
}

func serverNames() []string {
	return []string{"gotwistd", "h2o", "lighttpd", "nginx", "caddy", "twistd3"}
}

// serverDefs returns every server, gotwistd first, with bin set when found.
func serverDefs(gotwistdBin string) []*serverDef {
	look := func(name string) string {
		p, err := exec.LookPath(name)
		if err != nil {
			// Debian installs some daemons in sbin, which a non-root PATH lacks.
			for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
				if st, err := os.Stat(filepath.Join(d, name)); err == nil && !st.IsDir() {
					return filepath.Join(d, name)
				}
			}
			return ""
		}
		return p
	}
	gotwistd := gotwistdDef("gotwistd", gotwistdBin, nil)
	twistd := &serverDef{name: "twistd3", peer: true, bin: look("twistd3"), versionArgs: []string{"--version"},
		workers:     "1 (Twisted's reactor is single-threaded; it cannot use a second core)",
		compression: "none (twistd's web plugin has no compression)"}
	twistd.launch = launchTwistdLike(&twistd, false)
	return []*serverDef{
		gotwistd,
		{name: "h2o", peer: true, bin: look("h2o"), versionArgs: []string{"--version"},
			workers: "num-threads: 2", launch: launchH2O,
			compression: "`compress: ON` (brotli and gzip at h2o's default qualities, per request)"},
		{name: "lighttpd", peer: true, bin: look("lighttpd"), versionArgs: []string{"-v"},
			workers: "server.max-worker = 2 (2 forked single-threaded processes)", launch: launchLighttpd,
			compression: "mod_deflate (package lighttpd-mod-deflate): brotli and gzip, text types, its default levels, with `deflate.cache-dir` as Debian's 20-deflate.conf (compressed once per file, then served from the cache)"},
		{name: "nginx", peer: true, bin: look("nginx"), versionArgs: []string{"-v"},
			workers: "worker_processes 2", launch: launchNginx,
			compression: "`gzip on` for text types, per request (nginx has no brotli without a third-party module), `gzip_comp_level` default 1, `gzip_min_length` default 20"},
		{name: "caddy", peer: true, bin: look("caddy"), versionArgs: []string{"version"},
			workers: "GOMAXPROCS=2", launch: launchCaddy, h3: true,
			compression: "`encode zstd gzip`, per request (caddy has no brotli encoder; its default levels, from 512 bytes)"},
		twistd,
	}
}

// gotwistdDef is a gotwistd column: the build under test, a baseline build
// or an engine, with args added to its web plugin.
func gotwistdDef(name, bin string, args []string) *serverDef {
	d := &serverDef{name: name, bin: bin, versionArgs: []string{"--version"}, workers: "GOMAXPROCS=2", h3: true,
		args:        args,
		compression: "its default: br, zstd or gzip by Accept-Encoding for text types from 256 bytes, compressed once per file version and cached (brotli 9, gzip 9)"}
	d.launch = launchTwistdLike(&d, true)
	if bin != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _ := exec.CommandContext(ctx, bin, "web", "--help").CombinedOutput()
		cancel()
		d.noAccessLog = strings.Contains(string(out), "--no-access-log")
	}
	return d
}

// The cases each HTTP engine of gotwistd serves: the HTTP/1.1 engine every
// plain-HTTP case and HTTPS HTTP/1.1; the HTTP/2 engine HTTPS HTTP/2 and,
// set to net/http, HTTPS HTTP/1.1 as well (net/http then owns the TLS
// listener).
var (
	http1EngineCases = map[string]bool{caseSmall: true, case100k: true, case10m: true, caseClose: true,
		caseTLS: true, caseTLS10m: true, caseBr: true, caseBrJS: true}
	http2EngineCases = map[string]bool{caseTLS: true, caseTLS10m: true, caseH2: true, caseH2100k: true}
)

// extraDefs returns the extra gotwistd columns the configuration asks for:
// gotwistd@REV (--baseline) and the net/http engines (--engines).
func extraDefs(cfg *config) []*serverDef {
	var ds []*serverDef
	if cfg.baselineRev != "" {
		d := gotwistdDef("gotwistd@"+cfg.baselineRev, cfg.baselineBin, nil)
		d.extra = true
		ds = append(ds, d)
	}
	if cfg.engines && cfg.gotwistd != "" {
		h1 := gotwistdDef("gotwistd h1=net/http", cfg.gotwistd, []string{"--http1-engine=net/http"})
		h1.extra, h1.h3, h1.only = true, false, http1EngineCases
		h2 := gotwistdDef("gotwistd h2=net/http", cfg.gotwistd, []string{"--http2-engine=net/http"})
		h2.extra, h2.h3, h2.only = true, false, http2EngineCases
		ds = append(ds, h1, h2)
	}
	return ds
}

// version runs the server's version command and returns its first line.
func (d *serverDef) version() string {
	if d.bin == "" {
		return "not installed"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, d.bin, d.versionArgs...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" && err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return s
}

// running is a started server.
type running struct {
	def       *serverDef
	proc      *proc
	dir       string // its configs, pid file, logs and the load outputs
	http      int
	https     int // 0: no HTTPS listener
	quic      int // UDP port of the HTTP/3 listener; 0: none
	accessLog string
	argv      []string
	env       []string
	configs   map[string]string
	note      string // e.g. why HTTPS is missing
}

// cmdline renders the command as a person would type it.
func (r *running) cmdline() string {
	parts := append([]string(nil), r.env...)
	for _, a := range r.argv {
		if a == "" || strings.ContainsAny(a, " '\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// startServer starts def with HTTP and HTTPS listeners on fresh ports and
// waits until it serves the small page. If it does not come up with HTTPS,
// it is tried once more without (the h2 case then skips it).
func (b *bench) startServer(ctx context.Context, def *serverDef, logs bool) (*running, error) {
	r, err := b.tryStart(ctx, def, logs, true)
	if err == nil || ctx.Err() != nil {
		return r, err
	}
	r2, err2 := b.tryStart(ctx, def, logs, false)
	if err2 != nil {
		return nil, err
	}
	r2.note = "no HTTPS: " + err.Error()
	return r2, nil
}

// instanceDir names the directory of a server's instance under the run's
// temp dir. The logs-on instance runs beside the logs-off one, so it gets a
// directory of its own: every server keeps its pid file, temp files, data
// and logs in the directory it is given, and the two must not share them.
func instanceDir(name string, logs bool) string {
	// gotwistd@REV may name a branch such as origin/main.
	name = strings.NewReplacer("/", "_", "@", "_at_").Replace(name)
	if logs {
		return name + "-logs"
	}
	return name
}

func (b *bench) tryStart(ctx context.Context, def *serverDef, logs, withTLS bool) (*running, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	dir, err := b.env.serverDir(instanceDir(def.name, logs))
	if err != nil {
		return nil, fmt.Errorf("make the directory of %s: %w", def.name, err)
	}
	o := launchOpts{httpPort: ports[0]}
	if withTLS {
		o.httpsPort = ports[1]
	}
	if logs {
		o.accessLog = filepath.Join(dir, "access.log")
	}
	spec, err := def.launch(b.env, dir, o)
	if err != nil {
		return nil, err
	}
	argv := append([]string{def.bin}, spec.argv...)
	p, err := b.procs.start(def.name, argv, spec.env, filepath.Join(dir, "output.log"))
	if err != nil {
		return nil, err
	}
	r := &running{def: def, proc: p, dir: dir, http: o.httpPort, https: o.httpsPort, accessLog: o.accessLog,
		argv: argv, env: spec.env, configs: spec.configs}
	if def.h3 && o.httpsPort != 0 {
		r.quic = o.httpsPort
	}
	if err := waitServing(ctx, r, 20*time.Second); err != nil {
		p.stop(2 * time.Second)
		return nil, err
	}
	return r, nil
}

// waitServing polls until the server answers GET /small.html with the page
// (and completes a TLS handshake on its HTTPS port), or gives up.
func waitServing(ctx context.Context, r *running, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := fmt.Sprintf("http://127.0.0.1:%d/%s", r.http, smallName)
	var last error
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r.proc.exited() {
			return fmt.Errorf("exited at start: %s", r.proc.outputTail(3))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not serving after %v: %v; output: %s", limit, last, r.proc.outputTail(3))
		}
		last = getSmall(client, url)
		if last == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.https == 0 {
		return nil
	}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := &net.Dialer{Timeout: 2 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", r.https),
			&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		if r.proc.exited() || time.Now().After(deadline) {
			return fmt.Errorf("HTTPS listener not up: %v", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getSmall(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || len(body) != smallSize {
		return fmt.Errorf("GET %s: %s, %d bytes (want 200, %d bytes)", url, resp.Status, len(body), smallSize)
	}
	return nil
}

// yardstick names, in the order they are reported.
var yardstickNames = []string{"rawaccept", "nethttp"}

// yardstickWhat says what each yardstick is, for the report.
var yardstickWhat = map[string]string{
	"rawaccept": "the floor: a Go program that accepts on fd 3 and writes one file with the syscall package alone (bench/yardstick/rawaccept)",
	"nethttp":   "the net/http floor: an http.Server on fd 3 writing the same file, read at start, to every request (bench/yardstick/nethttp)",
}

// yardstickDefs returns the yardstick programs built into dir: not peers
// but the floor under gotwistd's cold start on this machine, timed in the
// activation case only. A missing binary is left out.
func yardstickDefs(dir string, e *benchEnv) []*serverDef {
	if dir == "" {
		return nil
	}
	var ds []*serverDef
	for _, name := range yardstickNames {
		bin := filepath.Join(dir, name)
		if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
			continue
		}
		arg := filepath.Join(e.docroot, smallName)
		ds = append(ds, &serverDef{name: name, bin: bin,
			launch: func(*benchEnv, string, launchOpts) (launchSpec, error) {
				return launchSpec{argv: []string{arg}, env: []string{"GOMAXPROCS=2"}}, nil
			}})
	}
	return ds
}
