package units

import (
	"errors"

	"github.com/gotwistd/gotwistd/service"
)

// plugin is the `units` command.
type plugin struct{}

// NewPlugin returns the `units` command for the runner:
//
//	gotwistd units --name www.example.com --path /srv/www/www.example.com/static
func NewPlugin() service.Command { return plugin{} }

// Name returns "units".
func (plugin) Name() string { return "units" }

// Synopsis is the line the runner's --help shows.
func (plugin) Synopsis() string {
	return "Write hardened, socket-activated systemd unit files for a site."
}

// New is not used: units is a command, not a server.
func (plugin) New([]string, service.Env) (service.Service, error) {
	return nil, errors.New("units is a command: the runner calls Run")
}

// Run writes the unit files, see Command.
func (plugin) Run(args []string, env service.Env) error { return Command(args, env.Stdout) }
