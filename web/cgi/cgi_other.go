//go:build !unix

package cgi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gotwistd/gotwistd/web/static"
)

// Defaults of Config.
const (
	DefaultTimeout  = 60 * time.Second
	DefaultMaxBody  = 10 << 20
	DefaultMaxProcs = 100
)

// Config describes how scripts run; see the Unix version.
type Config struct {
	Timeout        time.Duration
	MaxBody        int64
	MaxProcs       int
	ServerSoftware string
	Log            *slog.Logger
}

// Runner answers every script with 500 on systems without Unix processes
// groups: CGI is not supported there.
type Runner struct{ log *slog.Logger }

// New returns a Runner.
func New(cfg Config) *Runner {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{log: cfg.Log}
}

// ServeScript answers 500: CGI needs a Unix system.
func (rn *Runner) ServeScript(w http.ResponseWriter, r *http.Request, s static.Script) {
	rn.log.Error("CGI: not supported on this system; " + r.URL.RequestURI() + " refused (500)")
	http.Error(w, "Internal Server Error", http.StatusInternalServerError)
}
