package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// timeFormat is twistd's %Y-%m-%dT%H:%M:%S%z, in local time.
const timeFormat = "2006-01-02T15:04:05-0700"

// systemKey is the attribute that fills twistd's "[system]" column.
const systemKey = "system"

// lineSink receives finished log lines, one call per record, each ending in
// a newline. Implementations serialize calls themselves.
type lineSink interface {
	writeLine(level slog.Level, line []byte)
}

// writerSink writes lines to an io.Writer under a mutex. Write errors are
// dropped: there is nowhere left to report them.
type writerSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *writerSink) writeLine(_ slog.Level, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(line)
}

// textHandler is a slog.Handler that writes twistd's log line format:
//
//	2026-11-23T20:00:48+0000 [system] message key=value ...
//
// The system column comes from a "system" attribute ("-" when absent);
// warnings and errors add "#warn"/"#error" to it, as Twisted's
// "namespace#level" does. Other attributes follow the message as key=value,
// quoted when needed, and only when there are any. A message spanning
// several lines continues with a tab, as Twisted's formatEvent does.
type textHandler struct {
	sink     lineSink
	level    slog.Leveler
	withTime bool   // false for syslog, which stamps lines itself
	system   string // from WithAttrs
	attrs    []byte // preformatted " k=v" from WithAttrs
	groups   string // "a.b." prefix for keys from WithGroup
}

func newTextHandler(sink lineSink, level slog.Leveler, withTime bool) *textHandler {
	return &textHandler{sink: sink, level: level, withTime: withTime}
}

func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = bytes.Clone(h.attrs)
	for _, a := range as {
		h2.attrs = h2.appendAttr(h2.attrs, a, h.groups, &h2.system)
	}
	return &h2
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = h.groups + name + "."
	return &h2
}

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	system := h.system
	var tail []byte
	r.Attrs(func(a slog.Attr) bool {
		tail = h.appendAttr(tail, a, h.groups, &system)
		return true
	})
	if system == "" {
		system = "-"
	}
	switch {
	case r.Level >= slog.LevelError:
		system += "#error"
	case r.Level >= slog.LevelWarn:
		system += "#warn"
	}
	buf := make([]byte, 0, 64+len(r.Message)+len(h.attrs)+len(tail))
	if h.withTime && !r.Time.IsZero() {
		buf = r.Time.AppendFormat(buf, timeFormat)
		buf = append(buf, ' ')
	}
	buf = append(buf, '[')
	buf = append(buf, system...)
	buf = append(buf, "] "...)
	buf = append(buf, strings.ReplaceAll(strings.TrimRight(r.Message, "\n"), "\n", "\n\t")...)
	buf = append(buf, h.attrs...)
	buf = append(buf, tail...)
	buf = append(buf, '\n')
	h.sink.writeLine(r.Level, buf)
	return nil
}

// appendAttr appends " key=value" for a, or stores it in *system when it is
// the top-level system attribute.
func (h *textHandler) appendAttr(buf []byte, a slog.Attr, prefix string, system *string) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			buf = h.appendAttr(buf, g, p, system)
		}
		return buf
	}
	if prefix == "" && a.Key == systemKey {
		*system = a.Value.String()
		return buf
	}
	buf = append(buf, ' ')
	buf = append(buf, prefix...)
	buf = append(buf, a.Key...)
	buf = append(buf, '=')
	var s string
	switch a.Value.Kind() {
	case slog.KindTime:
		s = a.Value.Time().Format(time.RFC3339Nano)
	default:
		s = a.Value.String()
	}
	if needsQuoting(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

// needsQuoting reports whether a value must be quoted to read back as one
// key=value field: empty, or containing spaces, '=', '"' or anything
// unprintable.
func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '=' || r == '"' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += n
	}
	return false
}

// gate is a slog.Handler that holds records back until open is called, then
// replays them in order and passes later ones straight through. The runner
// hands a gated logger to Plugin.New, so that a plugin's lines come after
// "Log opened." and the banner, and vanish if New fails (a usage error or
// --help prints nothing else).
type gate struct {
	st    *gateState
	inner slog.Handler
}

type gateState struct {
	mu      sync.Mutex
	open    bool
	pending []pendingRecord
}

type pendingRecord struct {
	h slog.Handler
	r slog.Record
}

func newGate(inner slog.Handler) *gate {
	return &gate{st: &gateState{}, inner: inner}
}

func (g *gate) Enabled(ctx context.Context, l slog.Level) bool { return g.inner.Enabled(ctx, l) }

func (g *gate) WithAttrs(as []slog.Attr) slog.Handler {
	return &gate{st: g.st, inner: g.inner.WithAttrs(as)}
}

func (g *gate) WithGroup(name string) slog.Handler {
	return &gate{st: g.st, inner: g.inner.WithGroup(name)}
}

func (g *gate) Handle(ctx context.Context, r slog.Record) error {
	g.st.mu.Lock()
	if !g.st.open {
		g.st.pending = append(g.st.pending, pendingRecord{g.inner, r.Clone()})
		g.st.mu.Unlock()
		return nil
	}
	g.st.mu.Unlock()
	return g.inner.Handle(ctx, r)
}

// openGate first runs before (which logs through the ungated handler), then
// replays the records held back and lets later ones through.
func (g *gate) openGate(before func()) {
	g.st.mu.Lock()
	defer g.st.mu.Unlock()
	if g.st.open {
		return
	}
	before()
	for _, p := range g.st.pending {
		_ = p.h.Handle(context.Background(), p.r)
	}
	g.st.pending = nil
	g.st.open = true
}
