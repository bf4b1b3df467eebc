package handover

import (
	"context"
	"net"
	"net/http"
	"os"

	"github.com/gotwistd/gotwistd/web/h1"
)

// httpServer is what serves an instance: net/http's Server, or gotwistd's
// HTTP/1.1 engine with GOTWISTD_TEST_HTTP1_ENGINE=gotwistd (the engine
// `gotwistd web` uses on plain endpoints; its connections wrapped by a
// Tracker stay on their goroutines, which is what parking needs).
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

func newHTTPServer(connState func(net.Conn, http.ConnState), h http.Handler) httpServer {
	if os.Getenv("GOTWISTD_TEST_HTTP1_ENGINE") == "gotwistd" {
		// The engine tells the Tracker where requests end itself
		// (Boundary): it needs no ConnState.
		return &h1.Server{Handler: h}
	}
	return &http.Server{ConnState: connState, Handler: h}
}

// backgroundRead reports whether the server reads from a connection while
// its handler runs (net/http's background read does).
func backgroundRead() bool { return os.Getenv("GOTWISTD_TEST_HTTP1_ENGINE") != "gotwistd" }
