//go:build !windows && !plan9

package cli

import (
	"log/slog"
	"log/syslog"
	"strings"
)

// syslogSink sends each log line to the local syslog daemon with the
// --prefix ident (facility daemon), at a priority that follows the level.
type syslogSink struct {
	w *syslog.Writer
}

func dialSyslog(prefix string) (*syslogSink, error) {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, prefix)
	if err != nil {
		return nil, err
	}
	return &syslogSink{w: w}, nil
}

func (s *syslogSink) writeLine(l slog.Level, line []byte) {
	msg := strings.TrimRight(string(line), "\n")
	switch {
	case l >= slog.LevelError:
		_ = s.w.Err(msg)
	case l >= slog.LevelWarn:
		_ = s.w.Warning(msg)
	case l >= slog.LevelInfo:
		_ = s.w.Info(msg)
	default:
		_ = s.w.Debug(msg)
	}
}

// Write makes the sink an io.Writer for the JSON handler: each write is one
// record, sent at info priority.
func (s *syslogSink) Write(p []byte) (int, error) {
	s.writeLine(slog.LevelInfo, p)
	return len(p), nil
}

func (s *syslogSink) close() error { return s.w.Close() }
