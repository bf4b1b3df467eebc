package web

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
)

// The setters of the specs in options.go: each applies one occurrence of
// an option to the command line being read, and returns a usage error
// naming the option and a value that would do.

// setter is the type of a spec's Set.
type setter = func(a *cmdLine, r getopt.Result) error

// flagSet returns the setter of a flag: set turns it on.
func flagSet(set func(c *Config)) setter {
	return func(a *cmdLine, _ getopt.Result) error { set(&a.cfg); return nil }
}

// durationSet returns the setter of a timeout option, read by
// parseDuration into *field.
func durationSet(field func(c *Config) *time.Duration) setter {
	return func(a *cmdLine, r getopt.Result) error {
		d, err := parseDuration(r.Name, r.Value)
		if err != nil {
			return err
		}
		*field(&a.cfg) = d
		return nil
	}
}

// afterPath returns the setter of an option that only means something for
// files, and so must come after --path, as in twistd.
func afterPath(set func(c *Config, v string)) setter {
	return func(a *cmdLine, r getopt.Result) error {
		if a.cfg.Root == "" {
			return getopt.Usagef(hint, "You can only use --%s after --path.", r.Name)
		}
		set(&a.cfg, r.Value)
		return nil
	}
}

// siteSet returns the setter of an option that shapes the files' responses;
// see siteoptions.go.
func siteSet(set func(c *Config, v string) error) setter {
	return func(a *cmdLine, r getopt.Result) error { return set(&a.cfg, r.Value) }
}

// urlPathSet returns the setter of an option naming a URL path of the
// server's own (--health, --metrics), such as /example.
func urlPathSet(example string, field func(c *Config) *string) setter {
	return func(a *cmdLine, r getopt.Result) error {
		if !strings.HasPrefix(r.Value, "/") || strings.ContainsAny(r.Value, "?#") {
			return getopt.Usagef(hint, "--%s %q: give a path starting with /, such as /%s", r.Name, r.Value, example)
		}
		*field(&a.cfg) = r.Value
		return nil
	}
}

// engineSet returns the setter of --http1-engine or --http2-engine.
func engineSet(field func(c *Config) *string) setter {
	return func(a *cmdLine, r getopt.Result) error {
		if r.Value != EngineGotwistd && r.Value != EngineNetHTTP {
			return getopt.Usagef(hint, "--%s %q: give gotwistd or net/http", r.Name, r.Value)
		}
		*field(&a.cfg) = r.Value
		return nil
	}
}

func setRoot(a *cmdLine, r getopt.Result) error {
	v := r.Value
	if v == "" {
		return getopt.Usagef(hint, "--path is empty: give a directory, such as --path .")
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return getopt.Usagef(hint, "--path %s: %w", v, err)
	}
	a.cfg.Root = abs
	return nil
}

func setHeader(a *cmdLine, r getopt.Result) error {
	h, err := parseHeader(r.Value)
	if err != nil {
		return err
	}
	a.cfg.Headers = append(a.cfg.Headers, h)
	return nil
}

func setAccessLog(a *cmdLine, r getopt.Result) error {
	v := r.Value
	if v == "" {
		return getopt.Usagef(hint, "--logfile is empty: give a file name, or leave the option out to log to the main log")
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return getopt.Usagef(hint, "--logfile %s: %w", v, err)
	}
	a.cfg.AccessLog = abs
	return nil
}

func setCompressMinSize(a *cmdLine, r getopt.Result) error {
	n, err := strconv.ParseInt(r.Value, 10, 64)
	if err != nil || n < 1 {
		return getopt.Usagef(hint, "--compress-min-size %q: give a number of bytes of at least 1, such as 256", r.Value)
	}
	a.cfg.CompressMinSize = n
	return nil
}

func setCGIMaxBody(a *cmdLine, r getopt.Result) error {
	n, err := strconv.ParseInt(r.Value, 10, 64)
	if err != nil || n < 1 {
		return getopt.Usagef(hint, "--cgi-max-body %q: give a number of bytes, such as 10485760", r.Value)
	}
	a.cfg.CGIMaxBody = n
	return nil
}

func setCGIMaxProcs(a *cmdLine, r getopt.Result) error {
	n, err := strconv.Atoi(r.Value)
	if err != nil || n < 1 {
		return getopt.Usagef(hint, "--cgi-max-procs %q: give a number of scripts, such as 100", r.Value)
	}
	a.cfg.CGIMaxProcs = n
	return nil
}

func setMaxHeaderBytes(a *cmdLine, r getopt.Result) error {
	n, err := strconv.Atoi(r.Value)
	if err != nil || n < 1024 {
		return getopt.Usagef(hint, "--max-header-bytes %q: give a number of bytes of at least 1024, such as 65536", r.Value)
	}
	a.cfg.MaxHeaderBytes = n
	return nil
}

func setMaxConnections(a *cmdLine, r getopt.Result) error {
	n, err := strconv.Atoi(r.Value)
	if err != nil || n < 0 {
		return getopt.Usagef(hint, "--max-connections %q: give a number of connections, or 0 for no limit", r.Value)
	}
	a.cfg.MaxConnections = n
	return nil
}

func setHandover(a *cmdLine, r getopt.Result) error {
	switch r.Value {
	case HandoverAuto, HandoverOn, HandoverOff:
		a.cfg.Handover = r.Value
		return nil
	}
	return getopt.Usagef(hint, "--handover %q: give auto, on or off", r.Value)
}

func setACMECA(a *cmdLine, r getopt.Result) error {
	v := r.Value
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		return getopt.Usagef(hint, "--acme-ca %q: give the URL of the CA's ACME directory, such as https://acme-staging-v02.api.letsencrypt.org/directory", v)
	}
	a.cfg.ACMECA = v
	return nil
}

func setACMEEmail(a *cmdLine, r getopt.Result) error {
	v := r.Value
	if !strings.Contains(v, "@") || strings.ContainsAny(v, " ,<>:") {
		return getopt.Usagef(hint, "--acme-email %q: give an e-mail address, such as --acme-email ops@example.com", v)
	}
	a.cfg.ACMEEmail = v
	return nil
}
