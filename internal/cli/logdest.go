package cli

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/gotwistd/gotwistd/internal/logfile"
)

// defaultDaemonLog is the log file of a daemon without -l, as twistd's
// twistd.log: relative to the starting directory.
const defaultDaemonLog = "gotwistd.log"

// logOutput is where the runner's log goes.
type logOutput struct {
	handler  slog.Handler
	file     *logfile.File // set when logging to a file the runner owns
	toStderr bool          // the log is stderr: errors need not be printed twice
	close    func() error
}

// openLog opens the log the options ask for: syslog (--syslog, which wins
// as in twistd), stdout (-l -), a file (-l PATH; gotwistd.log for a daemon)
// or stderr (the foreground default), in text or JSON format.
func openLog(o *options, daemon bool, stdout, stderr io.Writer) (*logOutput, error) {
	level := new(slog.LevelVar)
	if o.spew {
		level.Set(slog.LevelDebug)
	}
	out := &logOutput{close: func() error { return nil }}
	var sink lineSink
	var w io.Writer
	withTime := true
	switch {
	case o.syslog:
		s, err := dialSyslog(o.prefix)
		if err != nil {
			return nil, fmt.Errorf("open syslog: %w", err)
		}
		sink, w, withTime = s, s, false
		out.close = s.close
	case o.logFile == "-":
		w = ownStream(stdout)
	case o.logFile == "" && !daemon:
		w = ownStream(stderr)
		out.toStderr = true
	default:
		path := o.logFile
		if path == "" {
			path = defaultDaemonLog
		}
		f, err := logfile.Open(path, logfile.Options{MaxSize: o.logMaxSize})
		if err != nil {
			return nil, err
		}
		w, out.file, out.close = f, f, f.Close
	}
	if o.logFormat == "json" {
		out.handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
		return out, nil
	}
	if sink == nil {
		sink = &writerSink{w: w}
	}
	out.handler = newTextHandler(sink, level, withTime)
	return out, nil
}
