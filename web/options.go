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
	// Handover says when Shutdown parks idle HTTP/1.1 keep-alive
	// connections in systemd's file descriptor store for the next instance
	// (--handover): HandoverAuto (default) when systemd says the store is
	// enabled ($FDSTORE > 0, set by systemd >= 254, or by the unit's
	// Environment= on older versions), HandoverOn whenever NOTIFY_SOCKET is
	// set, HandoverOff never.
	Handover string
	// HTTP1Engine chooses what serves HTTP/1.x on plain (non-TLS) stream
	// endpoints (--http1-engine): EngineGotwistd (default), gotwistd's own
	// engine (web/h1) with its cache fast path and stricter parser, or
	// EngineNetHTTP, Go's net/http. TLS endpoints use net/http for
	// HTTP/1.1, quic endpoints quic-go.
	HTTP1Engine string
	// HTTP2Engine chooses what serves HTTP/2 on TLS endpoints
	// (--http2-engine): EngineGotwistd (default), gotwistd's own (web/h2), or
	// EngineNetHTTP, Go's net/http. gotwistd's answers cached files
	// on the connection's goroutine and writes the responses to the
	// requests a client sent together at once.
	HTTP2Engine string
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
		{Long: "logfile", Short: 'l', Arg: true, Meta: "FILE", Help: "Write access lines (combined log format) to FILE instead of the main log; reopened on SIGUSR1 and SIGHUP."},
		{Long: "no-access-log", Help: "Write no access lines at all."},
		{Long: "serve-dotfiles", Help: "Serve files whose name starts with a dot; by default they are 404, except /.well-known/."},
		{Long: "no-follow-symlinks", Help: "Refuse symbolic links under --path; by default they are followed, as twistd does."},
		{Long: "read-header-timeout", Arg: true, Meta: "DURATION", Help: "Time a client may take to send a request's headers; 0 for none. A number is seconds; 1m30s also works.", Default: "10s"},
		{Long: "idle-timeout", Arg: true, Meta: "DURATION", Help: "Close keep-alive connections idle this long; 0 for never.", Default: "2m0s"},
		{Long: "write-timeout", Arg: true, Meta: "DURATION", Help: "Time allowed to write one response; 0 for none.", Default: "0"},
		{Long: "send-timeout", Arg: true, Meta: "DURATION", Help: "Close a TCP connection whose client accepts no byte of its response for this long (it stopped reading, or vanished); 0 for never.", Default: "1m0s"},
		{Long: "max-header-bytes", Arg: true, Meta: "BYTES", Help: "Largest request headers accepted; larger ones get 431.", Default: "65536"},
		{Long: "max-connections", Arg: true, Meta: "N", Help: "Close connections beyond N open TCP and UNIX connections at once; 0 for no limit.", Default: "0"},
		{Long: "handover", Arg: true, Meta: "auto|on|off", Help: "On stop, park idle keep-alive connections in systemd's file descriptor store (FileDescriptorStoreMax=) so the next instance serves them and a restart loses none. auto: when $FDSTORE is set.", Default: HandoverAuto},
		{Long: "http1-engine", Arg: true, Meta: "gotwistd|net/http", Help: "What serves HTTP/1.1 on plain TCP and UNIX endpoints: gotwistd's own engine (faster, stricter parser) or Go's net/http. TLS endpoints use net/http for HTTP/1.1.", Default: EngineGotwistd},
		{Long: "http2-engine", Arg: true, Meta: "gotwistd|net/http", Help: "What serves HTTP/2 on TLS endpoints: gotwistd's own engine (answers cached files without a goroutine per request, one write for the responses a client asked for together) or Go's net/http.", Default: EngineGotwistd},
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
		case "logfile":
			if v == "" {
				return cfg, getopt.Usagef(hint, "--logfile is empty: give a file name, or leave the option out to log to the main log")
			}
			abs, err := filepath.Abs(v)
			if err != nil {
				return cfg, getopt.Usagef(hint, "--logfile %s: %w", v, err)
			}
			cfg.AccessLog = abs
		case "no-access-log":
			cfg.NoAccessLog = true
		case "serve-dotfiles":
			cfg.ServeDotfiles = true
		case "no-follow-symlinks":
			cfg.NoFollowSymlinks = true
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
		case "display-tracebacks":
			cfg.DisplayTracebacks = true
		case "notracebacks":
			// twistd deprecated it and does nothing with it either.
		}
	}
	if cfg.NoAccessLog && cfg.AccessLog != "" {
		return cfg, getopt.Usagef(hint, "--no-access-log and --logfile contradict each other: give one of them")
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
HTTP/2 and HTTP/1.1.
`)
	return err
}
