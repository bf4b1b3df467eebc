package portforward

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/internal/service"
)

// Defaults of twistd's portforward options.
const (
	// DefaultPort is the endpoint forwarded from when --port is not given
	// (twistd: 6666).
	DefaultPort = "tcp:6666"
	// DefaultHost is the host forwarded to (twistd: localhost).
	DefaultHost = "localhost"
	// DefaultDestPort is the port forwarded to (twistd: 6665).
	DefaultDestPort = 6665
	// DefaultConnectTimeout bounds the connection to the destination.
	DefaultConnectTimeout = 10 * time.Second
)

const hint = "gotwistd portforward --help"

// Config is what `gotwistd portforward` is told on its command line.
type Config struct {
	// Listen holds the endpoints to accept on (-p/--port, repeatable;
	// a bare number means tcp:N). Default [DefaultPort].
	Listen []string
	// Host is the destination host (-h/--host).
	Host string
	// DestPort is the destination port (-d/--dest_port).
	DestPort int
	// ConnectTimeout bounds each connection to the destination
	// (--connect-timeout); twistd has no such option and waits for the
	// kernel's timeout.
	ConnectTimeout time.Duration
}

// DefaultConfig returns twistd's defaults.
func DefaultConfig() Config {
	return Config{Host: DefaultHost, DestPort: DefaultDestPort, ConnectTimeout: DefaultConnectTimeout}
}

var options = &getopt.Parser{
	Hint: hint,
	Options: []getopt.Option{
		{Long: "port", Short: 'p', Arg: true, Meta: "ENDPOINT", Help: "Endpoint to accept connections on, such as tcp:6666 or systemd:domain=INET:index=0 (a bare number means tcp:N). Repeatable.", Default: DefaultPort},
		{Long: "host", Short: 'h', Arg: true, Meta: "HOST", Help: "Set the host connections are forwarded to.", Default: DefaultHost},
		{Long: "dest-port", Short: 'd', Arg: true, Meta: "PORT", Help: "Set the destination port.", Default: strconv.Itoa(DefaultDestPort)},
		{Long: "connect-timeout", Arg: true, Meta: "DURATION", Help: "Give up connecting to the destination after this long; the client's connection is then closed.", Default: DefaultConnectTimeout.String()},
		{Long: "help", Help: "Display this help and exit."},
	},
}

// ParseArgs parses the arguments that follow `portforward`, by twistd's
// rules. With --help it returns flag.ErrHelp; any other error satisfies
// errors.Is(err, getopt.ErrUsage) and is one line.
func ParseArgs(args []string) (Config, error) {
	cfg := DefaultConfig()
	results, rest, err := options.Parse(args)
	if err != nil {
		return cfg, err
	}
	if len(rest) > 0 {
		return cfg, getopt.Usagef(hint, "unexpected argument %q: portforward takes only options", rest[0])
	}
	for _, r := range results {
		v := r.Value
		switch r.Name {
		case "help":
			return cfg, flag.ErrHelp
		case "port":
			if v == "" {
				return cfg, getopt.Usagef(hint, "--port is empty: give an endpoint, such as --port tcp:6666")
			}
			if isNumber(v) {
				v = "tcp:" + v
			}
			cfg.Listen = append(cfg.Listen, v)
		case "host":
			if v == "" || strings.ContainsAny(v, " /") {
				return cfg, getopt.Usagef(hint, "--host %q: give a host name or an IP address, such as localhost", v)
			}
			cfg.Host = v
		case "dest-port":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				return cfg, getopt.Usagef(hint, "--dest_port %q: give a port number from 1 to 65535", v)
			}
			cfg.DestPort = n
		case "connect-timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return cfg, getopt.Usagef(hint, "--connect-timeout %q: give a duration such as 10s", v)
			}
			cfg.ConnectTimeout = d
		}
	}
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{DefaultPort}
	}
	return cfg, nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// WriteHelp prints `gotwistd portforward --help`.
func WriteHelp(w io.Writer) error {
	if _, err := fmt.Fprint(w, "Usage: gotwistd [options] portforward [options]\nOptions:\n"); err != nil {
		return err
	}
	if err := options.WriteHelp(w); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, "\nPort Forwarder: every connection accepted on --port is joined to a new\nconnection to --host:--dest_port, bytes copied both ways until both sides\nhave closed. On SIGTERM it stops accepting and lets open connections\nfinish within --shutdown-timeout.\n")
	return err
}

// plugin is the `portforward` subcommand.
type plugin struct{}

// NewPlugin returns twistd's `portforward` plugin for the runner.
func NewPlugin() service.Plugin { return plugin{} }

// Name returns "portforward".
func (plugin) Name() string { return "portforward" }

// Synopsis is the line the runner's --help shows.
func (plugin) Synopsis() string { return "A simple port-forwarder." }

// New parses the options that follow `portforward` and returns the
// Forwarder they describe. With --help it prints the help and returns
// flag.ErrHelp.
func (plugin) New(args []string, env service.Env) (service.Service, error) {
	cfg, err := ParseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		if env.Stdout != nil {
			if werr := WriteHelp(env.Stdout); werr != nil {
				return nil, werr
			}
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	return New(cfg, env)
}
