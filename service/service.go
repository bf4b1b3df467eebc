// Package service defines the contract between the gotwistd runner
// (package runner, which plays twistd's part) and the plugins it runs, such as
// the web plugin. A plugin turns its own command-line arguments into a
// Service; the runner binds it, drops privileges, serves it, and stops it.
//
// The runner calls, in order: Plugin.New, Service.Listen (as the starting
// user, so privileged ports bind), then drops privileges, then Service.Serve
// in its own goroutine. On SIGHUP it calls Reload, on SIGUSR1 ReopenLogs, and
// on SIGTERM/SIGINT Shutdown, after which Serve returns.
package service

import (
	"context"
	"io"
	"log/slog"
)

// Plugin is a twistd subcommand, such as "web".
type Plugin interface {
	// Name is the subcommand word, e.g. "web".
	Name() string
	// Synopsis is the one-line description shown in the runner's --help.
	Synopsis() string
	// New parses the arguments that follow the subcommand and returns the
	// service they describe. A usage error wraps ErrUsage-style context and
	// is printed by the runner as one line.
	New(args []string, env Env) (Service, error)
}

// Env is what the runner hands a plugin.
type Env struct {
	// Logger writes to the runner's log (stderr, a log file or syslog) in
	// twistd's line format or JSON. Plugins add a "system" attribute to name
	// themselves in the "[system]" column.
	Logger *slog.Logger
	// Stdout receives output a plugin prints directly, such as --help text.
	Stdout io.Writer
	// Version is gotwistd's version, for Server headers and banners.
	Version string
}

// Service is a running plugin.
type Service interface {
	// Listen binds every listener the service needs. The runner calls it
	// before dropping privileges, so a service started as root with
	// --uid nobody can still bind port 80.
	Listen(ctx context.Context) error
	// Serve serves on the listeners bound by Listen until Shutdown is
	// called; it then returns nil. Any other return is a fatal error.
	Serve() error
	// Shutdown stops accepting new work and waits for in-flight work to
	// finish, until ctx is done; then it closes what is left.
	Shutdown(ctx context.Context) error
	// Reload re-reads what can change without a restart (TLS certificates)
	// and reopens log files, without dropping a connection (SIGHUP).
	Reload() error
	// ReopenLogs reopens the service's own log files (SIGUSR1).
	ReopenLogs() error
	// Status describes what is being served in one line, for sd_notify's
	// STATUS= and for log lines, e.g. "serving /srv/www on tcp:8080".
	Status() string
}

// Command is a plugin that runs to completion instead of serving, such as
// `gotwistd units`, which prints unit files. The runner calls Run in place
// of New, Listen and Serve: no daemon, no pidfile, no log; it exits 0 when
// Run returns nil. New is never called on a Command.
type Command interface {
	Plugin
	// Run does the command's work with the arguments that follow its name,
	// writing its output to env.Stdout.
	Run(args []string, env Env) error
}
