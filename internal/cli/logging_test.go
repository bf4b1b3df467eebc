package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// at is a fixed instant in a fixed zone, so lines are exact.
var at = time.Date(2026, 11, 23, 20, 0, 48, 123456789, time.FixedZone("", 0))

func TestTextHandlerLines(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"plain", func(l *slog.Logger) { l.Info("Log opened.") },
			"2026-11-23T20:00:48+0000 [-] Log opened.\n"},
		{"system attribute", func(l *slog.Logger) { l.Info("Site starting on 8080", "system", "web") },
			"2026-11-23T20:00:48+0000 [web] Site starting on 8080\n"},
		{"system from With", func(l *slog.Logger) { l.With("system", "HTTPChannel,0,127.0.0.1").Info("hello") },
			"2026-11-23T20:00:48+0000 [HTTPChannel,0,127.0.0.1] hello\n"},
		{"record system beats With", func(l *slog.Logger) { l.With("system", "a").Info("m", "system", "b") },
			"2026-11-23T20:00:48+0000 [b] m\n"},
		{"other attributes follow", func(l *slog.Logger) {
			l.With("endpoint", "tcp:8080").Info("listening", "fd", 3, "system", "web", "ok", true)
		}, "2026-11-23T20:00:48+0000 [web] listening endpoint=tcp:8080 fd=3 ok=true\n"},
		{"values quoted when needed", func(l *slog.Logger) {
			l.Info("m", "err", errors.New("bind: address in use"), "empty", "", "q", `a"b`, "eq", "a=b", "nl", "a\nb")
		}, "2026-11-23T20:00:48+0000 [-] m err=\"bind: address in use\" empty=\"\" q=\"a\\\"b\" eq=\"a=b\" nl=\"a\\nb\"\n"},
		{"groups prefix keys", func(l *slog.Logger) {
			l.WithGroup("tls").With("cert", "a.pem").Info("loaded", slog.Group("key", "bits", 256), "system", "x")
		}, "2026-11-23T20:00:48+0000 [-] loaded tls.cert=a.pem tls.key.bits=256 tls.system=x\n"},
		{"warn and error mark the system", func(l *slog.Logger) {
			l.Warn("careful")
			l.Error("broken", "system", "web")
		}, "2026-11-23T20:00:48+0000 [-#warn] careful\n2026-11-23T20:00:48+0000 [web#error] broken\n"},
		{"debug is off", func(l *slog.Logger) { l.Debug("noise") }, ""},
		{"several lines continue with a tab", func(l *slog.Logger) { l.Info("Another server is running\n\nTry again\n") },
			"2026-11-23T20:00:48+0000 [-] Another server is running\n\t\n\tTry again\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			h := newTextHandler(&writerSink{w: &b}, slog.LevelInfo, true)
			tt.log(slog.New(fixedTime{h}))
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

// fixedTime stamps every record with at.
type fixedTime struct{ slog.Handler }

func (f fixedTime) Handle(ctx context.Context, r slog.Record) error {
	r.Time = at
	return f.Handler.Handle(ctx, r)
}
func (f fixedTime) WithAttrs(as []slog.Attr) slog.Handler { return fixedTime{f.Handler.WithAttrs(as)} }
func (f fixedTime) WithGroup(n string) slog.Handler       { return fixedTime{f.Handler.WithGroup(n)} }

func TestTextHandlerLocalTime(t *testing.T) {
	// twistd prints local time with its offset.
	var b bytes.Buffer
	h := newTextHandler(&writerSink{w: &b}, slog.LevelInfo, true)
	r := slog.NewRecord(at.In(time.FixedZone("", -5*3600-30*60)), slog.LevelInfo, "x", 0)
	h.Handle(context.Background(), r)
	if want := "2026-11-23T14:30:48-0530 [-] x\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestGateHoldsRecordsUntilOpen(t *testing.T) {
	var b bytes.Buffer
	inner := fixedTime{newTextHandler(&writerSink{w: &b}, slog.LevelInfo, true)}
	g := newGate(inner)
	l := slog.New(g).With("system", "web")
	l.Info("configured")
	if b.Len() != 0 {
		t.Fatalf("a record passed the closed gate: %q", b.String())
	}
	g.openGate(func() { slog.New(inner).Info("Log opened.") })
	l.Info("after")
	want := "2026-11-23T20:00:48+0000 [-] Log opened.\n" +
		"2026-11-23T20:00:48+0000 [web] configured\n" +
		"2026-11-23T20:00:48+0000 [web] after\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestOpenLogDestinations(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	tests := []struct {
		name   string
		o      options
		daemon bool
		where  string // "stdout", "stderr" or a file name
	}{
		{"foreground default", options{logFormat: "text"}, false, "stderr"},
		{"stdout", options{logFile: "-", logFormat: "text"}, false, "stdout"},
		{"file", options{logFile: "x.log", logFormat: "text"}, false, "x.log"},
		{"daemon default", options{logFormat: "text"}, true, "gotwistd.log"},
		{"json to a file", options{logFile: "j.log", logFormat: "json"}, false, "j.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout.Reset()
			stderr.Reset()
			lo, err := openLog(&tt.o, tt.daemon, &stdout, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			slog.New(lo.handler).Info("hello", "system", "test")
			lo.close()
			var got string
			switch tt.where {
			case "stdout":
				got = stdout.String()
			case "stderr":
				got = stderr.String()
			default:
				b, err := os.ReadFile(filepath.Join(dir, tt.where))
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
				if lo.file == nil {
					t.Error("a log file the runner owns is not rotatable")
				}
			}
			if lo.toStderr != (tt.where == "stderr") {
				t.Errorf("toStderr = %v", lo.toStderr)
			}
			if tt.o.logFormat == "json" {
				var rec map[string]any
				if err := json.Unmarshal([]byte(got), &rec); err != nil || rec["msg"] != "hello" || rec["system"] != "test" {
					t.Errorf("JSON line %q (%v)", got, err)
				}
				return
			}
			if !strings.HasSuffix(got, " [test] hello\n") {
				t.Errorf("%s got %q", tt.where, got)
			}
		})
	}
}
