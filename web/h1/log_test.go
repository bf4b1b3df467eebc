package h1

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// recordLog is a slog.Handler that sends every record it gets to records.
type recordLog struct{ records chan slog.Record }

func (h recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (h recordLog) Handle(_ context.Context, r slog.Record) error {
	h.records <- r
	return nil
}
func (h recordLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordLog) WithGroup(string) slog.Handler      { return h }

// TestLogLevels: the engine logs through its *slog.Logger at the level
// each event deserves, which its user (gotwistd web) relies on to keep
// scanners' failed handshakes out of the warnings.
func TestLogLevels(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cause func(t *testing.T, s *Server)
		level slog.Level
		msg   string
	}{
		{"failed TLS handshake", func(t *testing.T, s *Server) {
			addr, _ := tlsServer(t, s)
			// A client that does not trust the certificate ends the
			// handshake with an alert.
			c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost"})
			if err == nil {
				c.Close()
				t.Fatal("the handshake succeeded with an untrusted certificate")
			}
		}, slog.LevelDebug, "http: TLS handshake error from "},
		{"handler panic", func(t *testing.T, s *Server) {
			c := dial(t, serveLoopback(t, s, nil))
			c.send("GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
		}, slog.LevelWarn, "http: panic serving "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := recordLog{records: make(chan slog.Record, 16)}
			s := &Server{ErrorLog: slog.New(logs), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/panic" {
					panic("test panic")
				}
			})}
			tt.cause(t, s)
			select {
			case r := <-logs.records:
				if r.Level != tt.level || !strings.HasPrefix(r.Message, tt.msg) {
					t.Errorf("logged %v %q, want %v %q...", r.Level, r.Message, tt.level, tt.msg)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("nothing logged")
			}
		})
	}
}
