//go:build windows || plan9

package cli

import (
	"errors"
	"log/slog"
)

type syslogSink struct{}

func dialSyslog(string) (*syslogSink, error) {
	return nil, errors.New("--syslog is not supported on this system")
}

func (s *syslogSink) writeLine(slog.Level, []byte) {}

func (s *syslogSink) Write(p []byte) (int, error) { return len(p), nil }

func (s *syslogSink) close() error { return nil }
