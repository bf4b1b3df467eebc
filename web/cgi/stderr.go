package cgi

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Bounds of what a script's stderr puts in the log.
const (
	// MaxStderrLines is how many lines of one run are logged; the rest is
	// read and dropped, with one line saying so.
	MaxStderrLines = 100
	// MaxStderrLine is the longest line logged; longer ones are cut.
	MaxStderrLine = 2048
)

// logStderr logs what a script writes to stderr, one log line per line,
// until EOF or a read error.
func logStderr(r io.Reader, uri string, log *slog.Logger) {
	br := bufio.NewReaderSize(r, MaxStderrLine)
	lines := 0
	cut := false // in the rest of a line too long to log
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			full := err == bufio.ErrBufferFull
			if !cut {
				switch {
				case lines < MaxStderrLines:
					text := clean(line)
					if full {
						text += " [cut]"
					}
					log.Error(fmt.Sprintf("CGI %s stderr: %s", uri, text))
				case lines == MaxStderrLines:
					log.Error(fmt.Sprintf("CGI %s stderr: more than %d lines; the rest is not logged", uri, MaxStderrLines))
				}
				lines++
			}
			cut = full
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// clean makes a line safe for the log: no line end, control characters
// and invalid UTF-8 replaced, so a script cannot forge log lines.
func clean(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, s)
}
