package web

import (
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
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

// options is the command line of `gotwistd web`, in the order --help shows.
var options = &getopt.Parser{
	Hint: hint,
	Options: []getopt.Option{
		{Long: "listen", Arg: true, Meta: "ENDPOINT", Help: "Add an endpoint to serve on, such as tcp:8080, ssl:8443:privateKey=key.pem:certKey=cert.pem, quic:8443:privateKey=key.pem (HTTP/3), unix:/run/www.sock or systemd:domain=INET:name=web. Repeatable.", Default: DefaultListen},
		{Long: "port", Short: 'p', Arg: true, Meta: "ENDPOINT", Help: "(DEPRECATED: use --listen) Endpoint to serve on; a bare number means tcp:NUMBER. The last one given counts."},
		{Long: "https", Arg: true, Meta: "PORT", Help: "(DEPRECATED: use --listen) Port to serve HTTPS on, with --certificate and --privkey."},
		{Long: "certificate", Short: 'c', Arg: true, Meta: "FILE", Help: "(DEPRECATED: use --listen) Certificate file for --https.", Default: DefaultCertificate},
		{Long: "privkey", Short: 'k', Arg: true, Meta: "FILE", Help: "(DEPRECATED: use --listen) Private key file for --https.", Default: DefaultCertificate},
		{Long: "path", Arg: true, Meta: "DIR", Help: "Serve the files under DIR. Without it, a welcome page is served."},
		{Long: "index", Short: 'i', Arg: true, Meta: "NAME", Help: "Add the name of a file used as a directory's index; the first one given replaces the default list. Repeatable.", Default: strings.Join(static.DefaultIndexes, ", ")},
		{Long: "mime-type", Short: 'm', Arg: true, Meta: "TYPE", Help: "The Content-Type of files of unknown type (after --path only).", Default: "text/html"},
		{Long: "ignore-ext", Arg: true, Meta: "EXT", Help: "Add an extension to try for paths that do not exist, in order: with .html, /about serves about.html (after --path only)."},
		{Long: "allow-ignore-ext", Help: "Let /foo serve any foo.* file (after --path only)."},
		{Long: "add-header", Arg: true, Meta: "'NAME: VALUE'", Help: "Add a header to every response. Repeatable."},
		{Long: "cache-control", Arg: true, Meta: "GLOB=VALUE", Help: "Send Cache-Control: VALUE with the files GLOB matches: a GLOB without / matches the file's name (*.css), one with / its URL path (/assets/** for everything below /assets/). The first matching rule counts, and replaces --add-header's Cache-Control; an empty VALUE sends none. Repeatable."},
		{Long: "cors", Arg: true, Meta: "ORIGIN", Help: "Let pages from ORIGIN read the files (CORS): * for any site, or origins such as https://app.example.com (comma-separated, repeatable). OPTIONS preflight requests are then answered 204."},
		{Long: "error-page", Arg: true, Meta: "STATUS=PATH", Help: "Answer with the file at URL path PATH under --path (such as 404=/404.html), and status STATUS, where twistd's error page would be sent: 403, 404, 405, 412, 414, 416, 500 and the HTTP/1.1 engine's 400, 431, 501. Repeatable."},
		{Long: "spa-fallback", Arg: true, Meta: "PATH", Help: "Answer a path that does not exist and whose last segment has no extension (/users/42, not /app.js) with the file at URL path PATH (such as /index.html) and status 200, as single-page apps need."},
		{Long: "listing", Arg: true, Meta: "gotwistd|twistd|off", Help: "The page of a directory without an index file: gotwistd's (sizes, dates, types, sortable, JSON with Accept: application/json or ?format=json), twistd's own, or off (404).", Default: static.ListingGotwistd},
		{Long: "no-compress", Help: "Send files as they are. By default text files (HTML, CSS, JavaScript, JSON, SVG, XML, WebAssembly...) of --compress-min-size bytes up to 1 MiB are sent compressed with br, zstd or gzip, as the client's Accept-Encoding prefers, unless a precompressed x.br, x.zst or x.gz answers or the request has a Range."},
		{Long: "compress-min-size", Arg: true, Meta: "BYTES", Help: "Smallest file compressed on the fly.", Default: "256"},
		{Long: "logfile", Short: 'l', Arg: true, Meta: "FILE", Help: "Write access lines (combined log format) to FILE instead of the main log; reopened on SIGUSR1 and SIGHUP."},
		{Long: "no-access-log", Help: "Write no access lines at all."},
		{Long: "serve-dotfiles", Help: "Serve files whose name starts with a dot; by default they are 404, except /.well-known/."},
		{Long: "no-follow-symlinks", Help: "Refuse symbolic links under --path; by default they are followed, as twistd does."},
		{Long: "cgi", Help: "Run the *.cgi files under --path as CGI scripts, as twistd does; without it they are refused (403), never sent. Scripts never run as root: use -u/--uid."},
		{Long: "cgi-timeout", Arg: true, Meta: "DURATION", Help: "Kill a CGI script (its whole process group) that runs this long; 0 for no limit.", Default: "1m0s"},
		{Long: "cgi-max-body", Arg: true, Meta: "BYTES", Help: "Largest request body passed to a CGI script; larger ones get 413.", Default: "10485760"},
		{Long: "cgi-max-procs", Arg: true, Meta: "N", Help: "Most CGI scripts running at once; requests for more get 503.", Default: "100"},
		{Long: "read-header-timeout", Arg: true, Meta: "DURATION", Help: "Time a client may take to send a request's headers; 0 for none. A number is seconds; 1m30s also works.", Default: "10s"},
		{Long: "idle-timeout", Arg: true, Meta: "DURATION", Help: "Close keep-alive connections idle this long; 0 for never.", Default: "2m0s"},
		{Long: "write-timeout", Arg: true, Meta: "DURATION", Help: "Time allowed to write one response; 0 for none.", Default: "0"},
		{Long: "send-timeout", Arg: true, Meta: "DURATION", Help: "Close a TCP connection whose client accepts no byte of its response for this long (it stopped reading, or vanished); 0 for never.", Default: "1m0s"},
		{Long: "max-header-bytes", Arg: true, Meta: "BYTES", Help: "Largest request headers accepted; larger ones get 431.", Default: "65536"},
		{Long: "max-connections", Arg: true, Meta: "N", Help: "Close connections beyond N open TCP and UNIX connections at once; 0 for no limit.", Default: "0"},
		{Long: "health", Arg: true, Meta: "/PATH", Help: "Answer PATH with 200 \"ok\" while the server serves (the self-check systemd's watchdog uses), and 503 once it is stopping, for load balancers, e.g. --health /healthz."},
		{Long: "drain-time", Arg: true, Meta: "DURATION", Help: "On SIGTERM, go on serving this long with --health answering 503 before stopping, so load balancers take the server out first; counts against --shutdown-timeout.", Default: "0"},
		{Long: "metrics", Arg: true, Meta: "/PATH", Help: "Serve Prometheus metrics at PATH on every listener (or, with --metrics-listen, only there), e.g. --metrics /metrics."},
		{Long: "metrics-listen", Arg: true, Meta: "ENDPOINT", Help: "Serve the metrics (at /metrics or --metrics PATH) and --health on this endpoint only, e.g. tcp:9100:interface=127.0.0.1."},
		{Long: "exit-idle-time", Arg: true, Meta: "DURATION", Help: "Exit once no connection has been open this long; systemd, which holds the sockets, starts gotwistd again on the next one. Every endpoint must be systemd:; 0 for never.", Default: "0"},
		{Long: "handover", Arg: true, Meta: "auto|on|off", Help: "On stop, park idle keep-alive connections in systemd's file descriptor store (FileDescriptorStoreMax=) so the next instance serves them and a restart loses none. auto: when $FDSTORE is set, or systemd reports the unit's FileDescriptorStoreMax= over D-Bus (systemd 252-253).", Default: HandoverAuto},
		{Long: "http1-engine", Arg: true, Meta: "gotwistd|net/http", Help: "What serves HTTP/1.1 on TCP, UNIX and TLS endpoints: gotwistd's own engine (faster, stricter parser) or Go's net/http. With --http2-engine=net/http, net/http serves HTTP/1.1 on TLS endpoints too.", Default: EngineGotwistd},
		{Long: "http2-engine", Arg: true, Meta: "gotwistd|net/http", Help: "What serves HTTP/2 on TLS endpoints: gotwistd's own engine (answers cached files without a goroutine per request, one write for the responses a client asked for together) or Go's net/http.", Default: EngineGotwistd},
		{Long: "acme-ca", Arg: true, Meta: "URL", Help: "ACME directory of le: endpoints without ca= (lets: endpoints: Let's Encrypt's staging directory, https://acme-staging-v02.api.letsencrypt.org/directory).", Default: "https://acme-v02.api.letsencrypt.org/directory"},
		{Long: "acme-email", Arg: true, Meta: "ADDRESS", Help: "Contact address of the ACME account of le: endpoints without email=."},
		{Long: "no-https-redirect", Help: "With an le: endpoint, keep plain HTTP listeners serving the site instead of redirecting to HTTPS."},
		{Long: "hsts", Arg: true, Meta: "DURATION", Help: "Add Strict-Transport-Security with this max-age (such as 8760h, or seconds) to every response; 0 for none.", Default: "0"},
		{Long: "display-tracebacks", Help: "Accepted for twistd compatibility; gotwistd never shows internal errors to clients."},
		{Long: "notracebacks", Short: 'n', Help: "(DEPRECATED) Accepted for twistd compatibility; does nothing."},
		{Long: "help", Help: "Display this help and exit."},
	},
}

// ParseArgs parses the arguments that follow `web` into a Config, by
// twistd's rules (long options may be abbreviated to a unique prefix).
// With --help it returns flag.ErrHelp; WriteHelp prints the help. Any other
// error satisfies errors.Is(err, getopt.ErrUsage) and is one line.
func ParseArgs(args []string) (Config, error) {
	cfg := DefaultConfig()
	results, rest, err := options.Parse(args)
	if err != nil {
		return cfg, err
	}
	if len(rest) > 0 {
		return cfg, getopt.Usagef(hint, "unexpected argument %q: web takes only options", rest[0])
	}
	var port, https string
	cert, key := DefaultCertificate, DefaultCertificate
	for _, r := range results {
		if r.Name == "help" {
			return cfg, flag.ErrHelp
		}
	}
	for _, r := range results {
		v := r.Value
		switch r.Name {
		case "listen":
			cfg.Listen = append(cfg.Listen, v)
		case "port":
			port = v
		case "https":
			https = v
		case "certificate":
			cert = v
		case "privkey":
			key = v
		case "path":
			if v == "" {
				return cfg, getopt.Usagef(hint, "--path is empty: give a directory, such as --path .")
			}
			abs, err := filepath.Abs(v)
			if err != nil {
				return cfg, getopt.Usagef(hint, "--path %s: %w", v, err)
			}
			cfg.Root = abs
		case "index":
			cfg.Indexes = append(cfg.Indexes, v)
		case "mime-type", "ignore-ext", "allow-ignore-ext":
			if cfg.Root == "" {
				return cfg, getopt.Usagef(hint, "You can only use --%s after --path.", r.Name)
			}
			switch r.Name {
			case "mime-type":
				cfg.DefaultType = v
			case "ignore-ext":
				cfg.IgnoreExt = append(cfg.IgnoreExt, v)
			default:
				cfg.AllowIgnoreExt = true
			}
		case "add-header":
			h, err := parseHeader(v)
			if err != nil {
				return cfg, err
			}
			cfg.Headers = append(cfg.Headers, h)
		case "cache-control", "cors", "error-page", "spa-fallback", "listing":
			if err := parseSiteOption(&cfg, r.Name, v); err != nil {
				return cfg, err
			}
		case "logfile":
			if v == "" {
				return cfg, getopt.Usagef(hint, "--logfile is empty: give a file name, or leave the option out to log to the main log")
			}
			abs, err := filepath.Abs(v)
			if err != nil {
				return cfg, getopt.Usagef(hint, "--logfile %s: %w", v, err)
			}
			cfg.AccessLog = abs
		case "no-compress":
			cfg.NoCompress = true
		case "compress-min-size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return cfg, getopt.Usagef(hint, "--compress-min-size %q: give a number of bytes of at least 1, such as 256", v)
			}
			cfg.CompressMinSize = n
		case "no-access-log":
			cfg.NoAccessLog = true
		case "serve-dotfiles":
			cfg.ServeDotfiles = true
		case "no-follow-symlinks":
			cfg.NoFollowSymlinks = true
		case "cgi":
			cfg.CGI = true
		case "cgi-timeout":
			d, err := parseDuration(r.Name, v)
			if err != nil {
				return cfg, err
			}
			cfg.CGITimeout = d
		case "cgi-max-body":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return cfg, getopt.Usagef(hint, "--cgi-max-body %q: give a number of bytes, such as 10485760", v)
			}
			cfg.CGIMaxBody = n
		case "cgi-max-procs":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return cfg, getopt.Usagef(hint, "--cgi-max-procs %q: give a number of scripts, such as 100", v)
			}
			cfg.CGIMaxProcs = n
		case "read-header-timeout", "idle-timeout", "write-timeout", "send-timeout":
			d, err := parseDuration(r.Name, v)
			if err != nil {
				return cfg, err
			}
			switch r.Name {
			case "read-header-timeout":
				cfg.ReadHeaderTimeout = d
			case "idle-timeout":
				cfg.IdleTimeout = d
			case "send-timeout":
				cfg.SendTimeout = d
			default:
				cfg.WriteTimeout = d
			}
		case "max-header-bytes":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1024 {
				return cfg, getopt.Usagef(hint, "--max-header-bytes %q: give a number of bytes of at least 1024, such as 65536", v)
			}
			cfg.MaxHeaderBytes = n
		case "max-connections":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return cfg, getopt.Usagef(hint, "--max-connections %q: give a number of connections, or 0 for no limit", v)
			}
			cfg.MaxConnections = n
		case "health", "metrics":
			if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "?#") {
				return cfg, getopt.Usagef(hint, "--%s %q: give a path starting with /, such as /%s", r.Name, v, map[string]string{"health": "healthz", "metrics": "metrics"}[r.Name])
			}
			if r.Name == "health" {
				cfg.HealthPath = v
			} else {
				cfg.MetricsPath = v
			}
		case "metrics-listen":
			cfg.MetricsListen = v
		case "drain-time", "exit-idle-time":
			d, err := parseDuration(r.Name, v)
			if err != nil {
				return cfg, err
			}
			if r.Name == "drain-time" {
				cfg.DrainTime = d
			} else {
				cfg.ExitIdleTime = d
			}
		case "handover":
			switch v {
			case HandoverAuto, HandoverOn, HandoverOff:
				cfg.Handover = v
			default:
				return cfg, getopt.Usagef(hint, "--handover %q: give auto, on or off", v)
			}
		case "http1-engine", "http2-engine":
			if v != EngineGotwistd && v != EngineNetHTTP {
				return cfg, getopt.Usagef(hint, "--%s %q: give gotwistd or net/http", r.Name, v)
			}
			if r.Name == "http1-engine" {
				cfg.HTTP1Engine = v
			} else {
				cfg.HTTP2Engine = v
			}
		case "acme-ca":
			if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
				return cfg, getopt.Usagef(hint, "--acme-ca %q: give the URL of the CA's ACME directory, such as https://acme-staging-v02.api.letsencrypt.org/directory", v)
			}
			cfg.ACMECA = v
		case "acme-email":
			if !strings.Contains(v, "@") || strings.ContainsAny(v, " ,<>:") {
				return cfg, getopt.Usagef(hint, "--acme-email %q: give an e-mail address, such as --acme-email ops@example.com", v)
			}
			cfg.ACMEEmail = v
		case "no-https-redirect":
			cfg.NoHTTPSRedirect = true
		case "hsts":
			d, err := parseDuration(r.Name, v)
			if err != nil {
				return cfg, err
			}
			cfg.HSTS = d
		case "display-tracebacks":
			cfg.DisplayTracebacks = true
		case "notracebacks":
			// twistd deprecated it and does nothing with it either.
		}
	}
	if err := checkSiteOptions(&cfg); err != nil {
		return cfg, err
	}
	if cfg.NoAccessLog && cfg.AccessLog != "" {
		return cfg, getopt.Usagef(hint, "--no-access-log and --logfile contradict each other: give one of them")
	}
	if cfg.CGI && cfg.Root == "" {
		return cfg, getopt.Usagef(hint, "--cgi needs --path: give the directory holding the scripts, such as --path /srv/www")
	}
	if cfg.HealthPath != "" && cfg.HealthPath == cfg.MetricsPath {
		return cfg, getopt.Usagef(hint, "--health and --metrics both give %s: give them different paths", cfg.HealthPath)
	}
	if cfg.DrainTime > 0 && cfg.HealthPath == "" {
		return cfg, getopt.Usagef(hint, "--drain-time without --health: nothing would tell load balancers to stop sending; add --health /healthz")
	}
	if port != "" {
		cfg.Listen = append(cfg.Listen, port)
	}
	if https != "" {
		cfg.Listen = append(cfg.Listen, "ssl:port="+escapeField(https)+":privateKey="+escapeField(key)+":certKey="+escapeField(cert))
	}
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{DefaultListen}
	}
	return cfg, nil
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
