package web

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/web/cgi"
	"github.com/gotwistd/gotwistd/web/static"
)

// Defaults of the options that have one.
const (
	// DefaultListen is the endpoint served when no --listen, --port or
	// --https is given, as in twistd.
	DefaultListen = "tcp:8080"
	// DefaultCertificate is the default of -c/--certificate and
	// -k/--privkey, the files --https uses.
	DefaultCertificate = "server.pem"
	// DefaultReadHeaderTimeout bounds how long a client may take to send
	// a request's headers (slowloris protection).
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection that has been idle
	// this long.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultSendTimeout closes a TCP connection whose client has accepted
	// no byte of its response for this long (slow-read protection).
	DefaultSendTimeout = 60 * time.Second
	// EngineGotwistd and EngineNetHTTP are the values of
	// Config.HTTP1Engine.
	EngineGotwistd = "gotwistd"
	EngineNetHTTP  = "net/http"
	// DefaultMetricsPath is where --metrics-listen serves the metrics
	// when --metrics gives no path.
	DefaultMetricsPath = "/metrics"
	// DefaultMaxHeaderBytes bounds the size of a request's headers,
	// request line included; larger requests get 431.
	DefaultMaxHeaderBytes = 64 << 10
)

// hint is the second line of every usage error.
const hint = "gotwistd web --help"

// Config is everything `gotwistd web` can be told on its command line;
// ParseArgs fills one from the arguments and New serves it. The zero value
// is not useful: start from DefaultConfig.
type Config struct {
	// Listen holds the endpoint strings to serve on, in order: every
	// --listen, then --port, then the ssl endpoint --https makes.
	// Default [DefaultListen].
	Listen []string
	// Root is the directory served (--path), made absolute. Empty: serve
	// the built-in welcome page.
	Root string
	// Indexes are the file names tried for a directory (-i/--index, in
	// order). Nil: the static handler's defaults.
	Indexes []string
	// DefaultType is the Content-Type of files whose type is unknown
	// (-m/--mime-type). Empty: the static handler's default.
	DefaultType string
	// IgnoreExt are extensions tried, in order, for a path that does not
	// exist (--ignore-ext): with ".html", /about serves about.html.
	IgnoreExt []string
	// AllowIgnoreExt makes /foo serve any foo.* (--allow-ignore-ext).
	AllowIgnoreExt bool
	// Headers are added to every response (--add-header), in order.
	Headers [][2]string
	// CacheControl gives files a Cache-Control header by name or URL path
	// (--cache-control GLOB=VALUE, in order; the first match counts; see
	// static.CacheRule). Needs Root.
	CacheControl []static.CacheRule
	// CORS are the origins whose pages may read the files (--cors): "*",
	// or origins such as https://app.example.com. Needs Root.
	CORS []string
	// ErrorPages maps a status to the URL path of the file under Root that
	// answers it instead of twistd's page (--error-page STATUS=PATH).
	ErrorPages map[int]string
	// SPAFallback is the URL path of the file under Root answering, with
	// 200, missing paths whose last segment has no extension
	// (--spa-fallback). Empty: none.
	SPAFallback string
	// Listing is the page of a directory without an index (--listing):
	// static.ListingGotwistd (default), static.ListingTwistd (twistd's
	// page) or static.ListingOff (404). Empty: the default.
	Listing string
	// NoCompress turns off on-the-fly compression of text files
	// (--no-compress); see static.Config.NoCompress.
	NoCompress bool
	// CompressMinSize is the smallest file compressed on the fly
	// (--compress-min-size). 0: static.DefaultCompressMinSize.
	CompressMinSize int64
	// AccessLog is the file access lines go to (-l/--logfile), made
	// absolute. Empty: the main log.
	AccessLog string
	// NoAccessLog turns access lines off (--no-access-log); twistd has no
	// such option.
	NoAccessLog bool
	// ServeDotfiles serves files and directories whose name starts with a
	// dot (--serve-dotfiles); by default they are 404, except
	// /.well-known/.
	ServeDotfiles bool
	// NoFollowSymlinks refuses symbolic links under Root
	// (--no-follow-symlinks); by default they are followed, as twistd does.
	NoFollowSymlinks bool
	// ReadHeaderTimeout bounds reading a request's headers
	// (--read-header-timeout). Default DefaultReadHeaderTimeout; 0: none.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (--idle-timeout).
	// Default DefaultIdleTimeout; 0: none.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one response, from the end of its
	// request's headers (--write-timeout). Default 0: none, so large files
	// reach slow clients.
	WriteTimeout time.Duration
	// SendTimeout closes a TCP connection whose client accepts no byte of
	// its response for this long: one that stopped reading, or vanished
	// (--send-timeout; Linux's TCP_USER_TIMEOUT, so sendfile keeps
	// working; elsewhere it has no effect). A client that keeps reading,
	// however slowly, is not cut off. Default DefaultSendTimeout; 0: none.
	SendTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (--max-header-bytes).
	// Default DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxConnections caps the open TCP and UNIX connections over all
	// listeners (--max-connections); a connection over the cap is closed
	// at once. HTTP/3 (QUIC) connections are not counted. Default 0: no
	// cap.
	MaxConnections int
	// HealthPath is the path that answers 200 "ok" while the server
	// serves and passes the self-check systemd's watchdog uses, and 503
	// once it is stopping (--health). Empty: none.
	HealthPath string
	// DrainTime is how long the server goes on serving after SIGTERM with
	// HealthPath answering 503, before it stops accepting (--drain-time);
	// it counts against the runner's --shutdown-timeout. Default 0.
	DrainTime time.Duration
	// MetricsPath is the path of the Prometheus metrics (--metrics): on
	// every listener, or only on MetricsListen when that is set. Empty:
	// DefaultMetricsPath on MetricsListen, nowhere without it.
	MetricsPath string
	// MetricsListen is an endpoint serving only the metrics and the health
	// path (--metrics-listen), such as tcp:9100:interface=127.0.0.1.
	// Empty: none.
	MetricsListen string
	// ExitIdleTime makes the server exit (status 0) once no connection
	// has been open for this long (--exit-idle-time), so that systemd,
	// which holds the sockets, starts it again on the next one. Every
	// endpoint must then come from systemd. Default 0: never.
	ExitIdleTime time.Duration
	// Handover says when Shutdown parks idle HTTP/1.1 keep-alive
	// connections in systemd's file descriptor store for the next instance
	// (--handover): HandoverAuto (default) when systemd says the store is
	// enabled ($FDSTORE > 0, set by systemd >= 254 or by the unit's
	// Environment=; else FileDescriptorStoreMax= > 0 as systemd tells it
	// over D-Bus), HandoverOn whenever NOTIFY_SOCKET is set, HandoverOff
	// never.
	Handover string
	// HTTP1Engine chooses what serves HTTP/1.x on stream endpoints
	// (--http1-engine): EngineGotwistd (default), gotwistd's own engine
	// (web/h1) with its cache fast path and stricter parser, or
	// EngineNetHTTP, Go's net/http. On TLS endpoints gotwistd's engine
	// serves HTTP/1.1 when HTTP2Engine is gotwistd's too; otherwise
	// net/http serves both there. quic endpoints use quic-go.
	HTTP1Engine string
	// HTTP2Engine chooses what serves HTTP/2 on TLS endpoints
	// (--http2-engine): EngineGotwistd (default), gotwistd's own (web/h2), or
	// EngineNetHTTP, Go's net/http. gotwistd's answers cached files
	// on the connection's goroutine and writes the responses to the
	// requests a client sent together at once.
	HTTP2Engine string
	// CGI runs the *.cgi files under Root as CGI/1.1 scripts (--cgi), as
	// twistd does; by default they are refused (403), never sent as
	// files. See package web/cgi.
	CGI bool
	// CGITimeout is how long a CGI script may run (--cgi-timeout).
	// Default cgi.DefaultTimeout; 0: no limit.
	CGITimeout time.Duration
	// CGIMaxBody is the largest request body a CGI script gets
	// (--cgi-max-body); larger ones are 413. Default cgi.DefaultMaxBody.
	CGIMaxBody int64
	// ACMECA is the ACME directory URL of le: and lets: endpoints that
	// give no ca= (--acme-ca). Default "": Let's Encrypt's production
	// directory for le:, its staging directory for lets:.
	ACMECA string
	// ACMEEmail is the contact address of the ACME account of le: and
	// lets: endpoints that give no email= (--acme-email). Default "": none.
	ACMEEmail string
	// NoHTTPSRedirect keeps plain HTTP listeners serving the site when an
	// le: endpoint is served too (--no-https-redirect); by default they
	// redirect to HTTPS, except for ACME http-01 challenges.
	NoHTTPSRedirect bool
	// HSTS, when positive, adds Strict-Transport-Security with this
	// max-age to every response (--hsts). Default 0: none.
	HSTS time.Duration
	// CGIMaxProcs is how many CGI scripts may run at once
	// (--cgi-max-procs); more get 503. Default cgi.DefaultMaxProcs.
	CGIMaxProcs int
	// DisplayTracebacks is accepted for twistd compatibility
	// (--display-tracebacks) and ignored: gotwistd never shows internal
	// errors to clients.
	DisplayTracebacks bool
}

// DefaultConfig returns the configuration of `gotwistd web` with no
// options, except that Listen is empty: ParseArgs adds DefaultListen when
// no endpoint is given, and New does the same.
func DefaultConfig() Config {
	return Config{
		Handover:          HandoverAuto,
		HTTP1Engine:       EngineGotwistd,
		HTTP2Engine:       EngineGotwistd,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		SendTimeout:       DefaultSendTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		CGITimeout:        cgi.DefaultTimeout,
		CGIMaxBody:        cgi.DefaultMaxBody,
		CGIMaxProcs:       cgi.DefaultMaxProcs,
	}
}

// cmdLine is what ParseArgs builds while it reads the options: the Config,
// and the deprecated --port, --https, --certificate and --privkey, which
// become endpoints once every option is read.
type cmdLine struct {
	cfg         Config
	port, https string
	cert, key   string
}

// specs are the options of `gotwistd web`, in the order --help shows, each
// with what it does to the command line being read.
var specs = getopt.Specs[cmdLine]{
	{Option: getopt.Option{Long: "listen", Arg: true, Meta: "ENDPOINT", Help: "Add an endpoint to serve on, such as tcp:8080, ssl:8443:privateKey=key.pem:certKey=cert.pem, quic:8443:privateKey=key.pem (HTTP/3), unix:/run/www.sock or systemd:domain=INET:name=web. Repeatable.", Default: DefaultListen},
		Set: func(a *cmdLine, r getopt.Result) error { a.cfg.Listen = append(a.cfg.Listen, r.Value); return nil }},
	{Option: getopt.Option{Long: "port", Short: 'p', Arg: true, Meta: "ENDPOINT", Help: "(DEPRECATED: use --listen) Endpoint to serve on; a bare number means tcp:NUMBER. The last one given counts."},
		Set: func(a *cmdLine, r getopt.Result) error { a.port = r.Value; return nil }},
	{Option: getopt.Option{Long: "https", Arg: true, Meta: "PORT", Help: "(DEPRECATED: use --listen) Port to serve HTTPS on, with --certificate and --privkey."},
		Set: func(a *cmdLine, r getopt.Result) error { a.https = r.Value; return nil }},
	{Option: getopt.Option{Long: "certificate", Short: 'c', Arg: true, Meta: "FILE", Help: "(DEPRECATED: use --listen) Certificate file for --https.", Default: DefaultCertificate},
		Set: func(a *cmdLine, r getopt.Result) error { a.cert = r.Value; return nil }},
	{Option: getopt.Option{Long: "privkey", Short: 'k', Arg: true, Meta: "FILE", Help: "(DEPRECATED: use --listen) Private key file for --https.", Default: DefaultCertificate},
		Set: func(a *cmdLine, r getopt.Result) error { a.key = r.Value; return nil }},
	{Option: getopt.Option{Long: "path", Arg: true, Meta: "DIR", Help: "Serve the files under DIR. Without it, a welcome page is served."},
		Set: setRoot},
	{Option: getopt.Option{Long: "index", Short: 'i', Arg: true, Meta: "NAME", Help: "Add the name of a file used as a directory's index; the first one given replaces the default list. Repeatable.", Default: strings.Join(static.DefaultIndexes, ", ")},
		Set: func(a *cmdLine, r getopt.Result) error { a.cfg.Indexes = append(a.cfg.Indexes, r.Value); return nil }},
	{Option: getopt.Option{Long: "mime-type", Short: 'm', Arg: true, Meta: "TYPE", Help: "The Content-Type of files of unknown type (after --path only).", Default: "text/html"},
		Set: afterPath(func(c *Config, v string) { c.DefaultType = v })},
	{Option: getopt.Option{Long: "ignore-ext", Arg: true, Meta: "EXT", Help: "Add an extension to try for paths that do not exist, in order: with .html, /about serves about.html (after --path only)."},
		Set: afterPath(func(c *Config, v string) { c.IgnoreExt = append(c.IgnoreExt, v) })},
	{Option: getopt.Option{Long: "allow-ignore-ext", Help: "Let /foo serve any foo.* file (after --path only)."},
		Set: afterPath(func(c *Config, _ string) { c.AllowIgnoreExt = true })},
	{Option: getopt.Option{Long: "add-header", Arg: true, Meta: "'NAME: VALUE'", Help: "Add a header to every response. Repeatable."},
		Set: setHeader},
	{Option: getopt.Option{Long: "cache-control", Arg: true, Meta: "GLOB=VALUE", Help: "Send Cache-Control: VALUE with the files GLOB matches: a GLOB without / matches the file's name (*.css), one with / its URL path (/assets/** for everything below /assets/). The first matching rule counts, and replaces --add-header's Cache-Control; an empty VALUE sends none. Repeatable."},
		Set: siteSet(setCacheControl)},
	{Option: getopt.Option{Long: "cors", Arg: true, Meta: "ORIGIN", Help: "Let pages from ORIGIN read the files (CORS): * for any site, or origins such as https://app.example.com (comma-separated, repeatable). OPTIONS preflight requests are then answered 204."},
		Set: siteSet(setCORS)},
	{Option: getopt.Option{Long: "error-page", Arg: true, Meta: "STATUS=PATH", Help: "Answer with the file at URL path PATH under --path (such as 404=/404.html), and status STATUS, where twistd's error page would be sent: 403, 404, 405, 412, 414, 416, 500 and the HTTP/1.1 engine's 400, 431, 501. Repeatable."},
		Set: siteSet(setErrorPage)},
	{Option: getopt.Option{Long: "spa-fallback", Arg: true, Meta: "PATH", Help: "Answer a path that does not exist and whose last segment has no extension (/users/42, not /app.js) with the file at URL path PATH (such as /index.html) and status 200, as single-page apps need."},
		Set: siteSet(setSPAFallback)},
	{Option: getopt.Option{Long: "listing", Arg: true, Meta: "gotwistd|twistd|off", Help: "The page of a directory without an index file: gotwistd's (sizes, dates, types, sortable, JSON with Accept: application/json or ?format=json), twistd's own, or off (404).", Default: static.ListingGotwistd},
		Set: siteSet(setListing)},
	{Option: getopt.Option{Long: "no-compress", Help: "Send files as they are. By default text files (HTML, CSS, JavaScript, JSON, SVG, XML, WebAssembly...) of --compress-min-size bytes up to 1 MiB are sent compressed with br, zstd or gzip, as the client's Accept-Encoding prefers, unless a precompressed x.br, x.zst or x.gz answers or the request has a Range."},
		Set: flagSet(func(c *Config) { c.NoCompress = true })},
	{Option: getopt.Option{Long: "compress-min-size", Arg: true, Meta: "BYTES", Help: "Smallest file compressed on the fly.", Default: "256"},
		Set: setCompressMinSize},
	{Option: getopt.Option{Long: "logfile", Short: 'l', Arg: true, Meta: "FILE", Help: "Write access lines (combined log format) to FILE instead of the main log; reopened on SIGUSR1 and SIGHUP."},
		Set: setAccessLog},
	{Option: getopt.Option{Long: "no-access-log", Help: "Write no access lines at all."},
		Set: flagSet(func(c *Config) { c.NoAccessLog = true })},
	{Option: getopt.Option{Long: "serve-dotfiles", Help: "Serve files whose name starts with a dot; by default they are 404, except /.well-known/."},
		Set: flagSet(func(c *Config) { c.ServeDotfiles = true })},
	{Option: getopt.Option{Long: "no-follow-symlinks", Help: "Refuse symbolic links under --path; by default they are followed, as twistd does."},
		Set: flagSet(func(c *Config) { c.NoFollowSymlinks = true })},
	{Option: getopt.Option{Long: "cgi", Help: "Run the *.cgi files under --path as CGI scripts, as twistd does; without it they are refused (403), never sent. Scripts never run as root: use -u/--uid."},
		Set: flagSet(func(c *Config) { c.CGI = true })},
	{Option: getopt.Option{Long: "cgi-timeout", Arg: true, Meta: "DURATION", Help: "Kill a CGI script (its whole process group) that runs this long; 0 for no limit.", Default: "1m0s"},
		Set: durationSet(func(c *Config) *time.Duration { return &c.CGITimeout })},
	{Option: getopt.Option{Long: "cgi-max-body", Arg: true, Meta: "BYTES", Help: "Largest request body passed to a CGI script; larger ones get 413.", Default: "10485760"},
		Set: setCGIMaxBody},
	{Option: getopt.Option{Long: "cgi-max-procs", Arg: true, Meta: "N", Help: "Most CGI scripts running at once; requests for more get 503.", Default: "100"},
		Set: setCGIMaxProcs},
	{Option: getopt.Option{Long: "read-header-timeout", Arg: true, Meta: "DURATION", Help: "Time a client may take to send a request's headers; 0 for none. A number is seconds; 1m30s also works.", Default: "10s"},
		Set: durationSet(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout })},
	{Option: getopt.Option{Long: "idle-timeout", Arg: true, Meta: "DURATION", Help: "Close keep-alive connections idle this long; 0 for never.", Default: "2m0s"},
		Set: durationSet(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{Option: getopt.Option{Long: "write-timeout", Arg: true, Meta: "DURATION", Help: "Time allowed to write one response; 0 for none.", Default: "0"},
		Set: durationSet(func(c *Config) *time.Duration { return &c.WriteTimeout })},
	{Option: getopt.Option{Long: "send-timeout", Arg: true, Meta: "DURATION", Help: "Close a TCP connection whose client accepts no byte of its response for this long (it stopped reading, or vanished); 0 for never.", Default: "1m0s"},
		Set: durationSet(func(c *Config) *time.Duration { return &c.SendTimeout })},
	{Option: getopt.Option{Long: "max-header-bytes", Arg: true, Meta: "BYTES", Help: "Largest request headers accepted; larger ones get 431.", Default: "65536"},
		Set: setMaxHeaderBytes},
	{Option: getopt.Option{Long: "max-connections", Arg: true, Meta: "N", Help: "Close connections beyond N open TCP and UNIX connections at once; 0 for no limit.", Default: "0"},
		Set: setMaxConnections},
	{Option: getopt.Option{Long: "health", Arg: true, Meta: "/PATH", Help: "Answer PATH with 200 \"ok\" while the server serves (the self-check systemd's watchdog uses), and 503 once it is stopping, for load balancers, e.g. --health /healthz."},
		Set: urlPathSet("healthz", func(c *Config) *string { return &c.HealthPath })},
	{Option: getopt.Option{Long: "drain-time", Arg: true, Meta: "DURATION", Help: "On SIGTERM, go on serving this long with --health answering 503 before stopping, so load balancers take the server out first; counts against --shutdown-timeout.", Default: "0"},
		Set: durationSet(func(c *Config) *time.Duration { return &c.DrainTime })},
	{Option: getopt.Option{Long: "metrics", Arg: true, Meta: "/PATH", Help: "Serve Prometheus metrics at PATH on every listener (or, with --metrics-listen, only there), e.g. --metrics /metrics."},
		Set: urlPathSet("metrics", func(c *Config) *string { return &c.MetricsPath })},
	{Option: getopt.Option{Long: "metrics-listen", Arg: true, Meta: "ENDPOINT", Help: "Serve the metrics (at /metrics or --metrics PATH) and --health on this endpoint only, e.g. tcp:9100:interface=127.0.0.1."},
		Set: func(a *cmdLine, r getopt.Result) error { a.cfg.MetricsListen = r.Value; return nil }},
	{Option: getopt.Option{Long: "exit-idle-time", Arg: true, Meta: "DURATION", Help: "Exit once no connection has been open this long; systemd, which holds the sockets, starts gotwistd again on the next one. Every endpoint must be systemd:; 0 for never.", Default: "0"},
		Set: durationSet(func(c *Config) *time.Duration { return &c.ExitIdleTime })},
	{Option: getopt.Option{Long: "handover", Arg: true, Meta: "auto|on|off", Help: "On stop, park idle keep-alive connections in systemd's file descriptor store (FileDescriptorStoreMax=) so the next instance serves them and a restart loses none. auto: when $FDSTORE is set, or systemd reports the unit's FileDescriptorStoreMax= over D-Bus (systemd 252-253).", Default: HandoverAuto},
		Set: setHandover},
	{Option: getopt.Option{Long: "http1-engine", Arg: true, Meta: "gotwistd|net/http", Help: "What serves HTTP/1.1 on TCP, UNIX and TLS endpoints: gotwistd's own engine (faster, stricter parser) or Go's net/http. With --http2-engine=net/http, net/http serves HTTP/1.1 on TLS endpoints too.", Default: EngineGotwistd},
		Set: engineSet(func(c *Config) *string { return &c.HTTP1Engine })},
	{Option: getopt.Option{Long: "http2-engine", Arg: true, Meta: "gotwistd|net/http", Help: "What serves HTTP/2 on TLS endpoints: gotwistd's own engine (answers cached files without a goroutine per request, one write for the responses a client asked for together) or Go's net/http.", Default: EngineGotwistd},
		Set: engineSet(func(c *Config) *string { return &c.HTTP2Engine })},
	{Option: getopt.Option{Long: "acme-ca", Arg: true, Meta: "URL", Help: "ACME directory of le: endpoints without ca= (lets: endpoints: Let's Encrypt's staging directory, https://acme-staging-v02.api.letsencrypt.org/directory).", Default: "https://acme-v02.api.letsencrypt.org/directory"},
		Set: setACMECA},
	{Option: getopt.Option{Long: "acme-email", Arg: true, Meta: "ADDRESS", Help: "Contact address of the ACME account of le: endpoints without email=."},
		Set: setACMEEmail},
	{Option: getopt.Option{Long: "no-https-redirect", Help: "With an le: endpoint, keep plain HTTP listeners serving the site instead of redirecting to HTTPS."},
		Set: flagSet(func(c *Config) { c.NoHTTPSRedirect = true })},
	{Option: getopt.Option{Long: "hsts", Arg: true, Meta: "DURATION", Help: "Add Strict-Transport-Security with this max-age (such as 8760h, or seconds) to every response; 0 for none.", Default: "0"},
		Set: durationSet(func(c *Config) *time.Duration { return &c.HSTS })},
	{Option: getopt.Option{Long: "display-tracebacks", Help: "Accepted for twistd compatibility; gotwistd never shows internal errors to clients."},
		Set: flagSet(func(c *Config) { c.DisplayTracebacks = true })},
	{Option: getopt.Option{Long: "notracebacks", Short: 'n', Help: "(DEPRECATED) Accepted for twistd compatibility; does nothing."},
		Set: flagSet(func(*Config) {})}, // twistd deprecated it and does nothing with it either.
	{Option: getopt.Option{Long: "help", Help: "Display this help and exit."},
		Set: flagSet(func(*Config) {})}, // ParseArgs answers --help before applying any option.
}

// options is the command line of `gotwistd web`.
var options = specs.Parser(hint)

// ParseArgs parses the arguments that follow `web` into a Config, by
// twistd's rules (long options may be abbreviated to a unique prefix).
// With --help it returns flag.ErrHelp; WriteHelp prints the help. Any other
// error satisfies errors.Is(err, getopt.ErrUsage) and is one line.
func ParseArgs(args []string) (Config, error) {
	a := cmdLine{cfg: DefaultConfig(), cert: DefaultCertificate, key: DefaultCertificate}
	results, rest, err := options.Parse(args)
	if err != nil {
		return a.cfg, err
	}
	if len(rest) > 0 {
		return a.cfg, getopt.Usagef(hint, "unexpected argument %q: web takes only options", rest[0])
	}
	for _, r := range results {
		if r.Name == "help" {
			return a.cfg, flag.ErrHelp
		}
	}
	if err := specs.Apply(&a, results); err != nil {
		return a.cfg, err
	}
	cfg := a.cfg
	if err := checkOptions(&cfg); err != nil {
		return cfg, err
	}
	if a.port != "" {
		cfg.Listen = append(cfg.Listen, a.port)
	}
	if a.https != "" {
		cfg.Listen = append(cfg.Listen, "ssl:port="+escapeField(a.https)+":privateKey="+escapeField(a.key)+":certKey="+escapeField(a.cert))
	}
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{DefaultListen}
	}
	return cfg, nil
}

// checkOptions refuses the combinations of options that cannot work.
func checkOptions(cfg *Config) error {
	if err := checkSiteOptions(cfg); err != nil {
		return err
	}
	if cfg.NoAccessLog && cfg.AccessLog != "" {
		return getopt.Usagef(hint, "--no-access-log and --logfile contradict each other: give one of them")
	}
	if cfg.CGI && cfg.Root == "" {
		return getopt.Usagef(hint, "--cgi needs --path: give the directory holding the scripts, such as --path /srv/www")
	}
	if cfg.HealthPath != "" && cfg.HealthPath == cfg.MetricsPath {
		return getopt.Usagef(hint, "--health and --metrics both give %s: give them different paths", cfg.HealthPath)
	}
	if cfg.DrainTime > 0 && cfg.HealthPath == "" {
		return getopt.Usagef(hint, "--drain-time without --health: nothing would tell load balancers to stop sending; add --health /healthz")
	}
	return nil
}

// escapeField escapes a value for an endpoint string field.
func escapeField(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	return r.Replace(s)
}

// parseHeader splits "Name: Value" at the first ':' and trims both sides,
// as twistd does, and checks that the result is a valid header.
func parseHeader(s string) ([2]string, error) {
	name, value, ok := strings.Cut(s, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" {
		return [2]string{}, getopt.Usagef(hint, "bad --add-header %q: write it as \"Name: Value\"", s)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return [2]string{}, getopt.Usagef(hint, "bad --add-header %q: the name %q may hold only letters, digits and !#$%%&'*+-.^_`|~", s, name)
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return [2]string{}, getopt.Usagef(hint, "bad --add-header %q: the value holds a control character", s)
		}
	}
	return [2]string{name, value}, nil
}

// isTokenChar reports whether c may appear in an HTTP header name
// (RFC 9110 token).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseDuration reads a timeout: a Go duration ("1m30s") or a number of
// seconds ("90", "0.5").
func parseDuration(name, v string) (time.Duration, error) {
	bad := getopt.Usagef(hint, "--%s %q: give a duration such as 30s, 1m30s or 90 (seconds), or 0 for none", name, v)
	if isDecimal(v) {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n > float64(math.MaxInt64/int64(time.Second)) {
			return 0, bad
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}

// isDecimal reports whether s is digits with at most one '.'.
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// WriteHelp writes `gotwistd web --help`.
func WriteHelp(w io.Writer) error {
	if _, err := fmt.Fprint(w, "Usage: gotwistd [options] web [web options]\nOptions:\n"); err != nil {
		return err
	}
	if err := options.WriteHelp(w); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, `
This starts a web server. With --path it serves the files under a
directory; without it, a welcome page. Endpoints are Twisted's strings
(tcp:, tcp6:, unix:, ssl:, systemd:, haproxy: behind a load balancer
sending the PROXY protocol) plus quic: for HTTP/3; an ssl endpoint speaks
HTTP/2 and HTTP/1.1. An le: endpoint, such as
le:/var/lib/gotwistd/certs:tcp:443:hosts=example.com, gets and renews its
certificate from an ACME CA (--acme-ca; Let's Encrypt by default).
`)
	return err
}
