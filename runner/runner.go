// Package runner is gotwistd's twistd runner, for any Go daemon: give it
// your service and it does what twistd does around a Twisted service, the
// way systemd wants it done.
//
//	gotwistd-like [global options] PLUGIN [plugin options]
//
// The runner parses twistd's global options (--nodaemon, --pidfile=,
// --logfile, --syslog, -u/-g, --umask, --chroot, --rundir,
// --shutdown-timeout, --start-timeout, --log-format), daemonizes when asked,
// writes and checks the pidfile, logs in twistd's line format (or JSON),
// binds the plugin's endpoints before dropping privileges (so -u nobody
// binds port 80), takes sockets from systemd (socket activation, FD store),
// speaks sd_notify (READY=1, STATUS=, STOPPING=1, RELOADING=1, ERRNO= on a
// failed start, EXTEND_TIMEOUT_USEC= during a slow start), pings the
// watchdog (WatchdogSec=), reloads on SIGHUP, reopens logs on SIGUSR1, and
// on SIGTERM stops the plugin with a grace period and exits 0.
//
// There are two contracts, from small to full:
//
//   - [Daemon]: name the plugin, declare its options, and write one Run
//     function that is handed its bound listeners, a logger and a context
//     that ends when the service should stop. Everything else is the
//     runner's. The package example is a complete daemon.
//   - [service.Plugin] and [service.Service]: a plugin that parses its own
//     arguments and binds, serves, reloads and stops itself, as gotwistd's
//     web plugin does.
//
// The runner still speaks as gotwistd: its messages ("gotwistd: error:
// ...", "gotwistd VERSION (...) starting up."), the default pidfile
// (gotwistd.pid), the daemon's default log (gotwistd.log) and the syslog
// prefix. Give --pidfile=, --logfile and --prefix in the unit file.
//
// A unit file for a daemon built on it, socket-activated and with the
// watchdog, reads like the one for gotwistd itself:
//
//	# echod.socket
//	[Socket]
//	ListenStream=7000
//
//	# echod.service
//	[Service]
//	Type=notify
//	ExecStart=/usr/local/bin/echod --nodaemon --pidfile= echo --listen systemd:domain=INET:index=0
//	WatchdogSec=30
//	User=nobody
//	Restart=always
package runner

import (
	"github.com/gotwistd/gotwistd/internal/cli"
	"github.com/gotwistd/gotwistd/service"
)

// Version is the runner's version, printed by --version and in the start-up
// line "gotwistd VERSION (...) starting up."
const Version = cli.Version

// Main runs the program with args (the command line without the program
// name, os.Args[1:]) and the plugins it offers, and returns the exit status
// for os.Exit: 0 after a clean stop or --help, 1 for a usage error or a
// failed start (printed as one line, never a stack trace). A command line
// names the plugin to run, as twistd's does: `echod --nodaemon echo ...`.
//
//	func main() { os.Exit(runner.Main(os.Args[1:], myDaemon)) }
func Main(args []string, plugins ...service.Plugin) int {
	return cli.Main(args, plugins...)
}
