package web

import (
	"errors"
	"flag"

	"github.com/gotwistd/gotwistd/service"
)

// plugin is the `web` subcommand.
type plugin struct{}

// NewPlugin returns the `web` plugin for the runner:
//
//	cli.Main(os.Args[1:], web.NewPlugin())
func NewPlugin() service.Plugin { return plugin{} }

// Name returns "web".
func (plugin) Name() string { return "web" }

// Synopsis is the line the runner's --help shows for web.
func (plugin) Synopsis() string {
	return "A general-purpose web server which can serve from a filesystem."
}

// New parses the options that follow `web` and returns the Server they
// describe. With --help it prints the help to env.Stdout and returns
// flag.ErrHelp, which the runner should treat as success.
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
