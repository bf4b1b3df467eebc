package static

import (
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gotwistd/gotwistd/web/fast"
	"github.com/gotwistd/gotwistd/web/h1"
)

// testEngine is what serves the test servers: gotwistd's engine with the
// Cached fast path (default, as `gotwistd web` serves plain HTTP), or
// net/http with GOTWISTD_TEST_HTTP1_ENGINE=net/http.
var testEngine = os.Getenv("GOTWISTD_TEST_HTTP1_ENGINE")

// startHTTP serves h on a loopback port for a test.
func startHTTP(tb testing.TB, h *Handler) *httptest.Server {
	tb.Helper()
	if testEngine == "net/http" {
		return httptest.NewServer(h)
	}
	ts := httptest.NewUnstartedServer(h)
	// net/http's limits: these tests are about the handler.
	srv := &h1.Server{Handler: h, Fast: fastAdapter{h}, MaxHeaderBytes: 1 << 20, MaxTargetBytes: 1 << 20}
	go srv.Serve(ts.Listener)
	ts.URL = "http://" + ts.Listener.Addr().String()
	tb.Cleanup(func() { srv.Close() })
	return ts
}

// fastAdapter offers the plain GETs and HEADs the engine offers it to
// Handler.Cached, as the web
// plugin does.
type fastAdapter struct{ h *Handler }

func (f fastAdapter) ServeFast(r *fast.Request) (fast.Response, bool) {
	if r.AcceptEncodingFields > 0 || f.h.CORSByOrigin() && r.Origin != "" {
		return fast.Response{}, false
	}
	header, body, ok := f.h.Cached(r.Path(), r.Watched)
	return fast.Response{Header: header, Body: body}, ok
}

// WatchFD and Refresh make the engine's event loops keep the handler's
// change watcher, as the web plugin does: tests that change files between
// requests then check that nothing stale is served.
func (f fastAdapter) WatchFD() int { return f.h.WatchFD() }

func (f fastAdapter) Refresh() { f.h.Refresh() }
