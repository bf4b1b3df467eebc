package static

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// TestFileType reads mime.types lines as Python's mimetypes does.
func TestFileType(t *testing.T) {
	in := []byte(`# comment line
text/plain  txt text   # trailing comment
application/x-a  a
application/x-b	a
image/x-none
  text/x-indented   ind
text/x-last last`)
	cases := []struct {
		name, ext, typ string
		ok             bool
	}{
		{"first extension", ".txt", "text/plain", true},
		{"second extension", ".text", "text/plain", true},
		{"a later line wins", ".a", "application/x-b", true},
		{"indented line", ".ind", "text/x-indented", true},
		{"last line without newline", ".last", "text/x-last", true},
		{"words after # are a comment", ".trailing", "", false},
		{"a comment line", ".line", "", false},
		{"a type is not an extension", ".plain", "", false},
		{"a type without extensions", ".x-none", "", false},
		{"part of a word", ".tx", "", false},
		{"bare dot", ".", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ, ok := fileType(bytes.NewReader(in), tc.ext)
			if typ != tc.typ || ok != tc.ok {
				t.Errorf("fileType(%q) = %q, %v; want %q, %v", tc.ext, typ, ok, tc.typ, tc.ok)
			}
		})
	}
}

// TestFileTypeReads: lines longer than the read buffer, a file read a
// little at a time, and a read error part way, which ends the file there.
func TestFileTypeReads(t *testing.T) {
	long := "text/x-long " + strings.Repeat("pad ", 20000) + "lng\n"
	in := "text/x-short sht\n" + long + "text/x-after aft\n"
	cases := []struct {
		name string
		r    io.Reader
		ext  string
		typ  string
		ok   bool
	}{
		{"long line", strings.NewReader(in), ".lng", "text/x-long", true},
		{"a word of the long line", strings.NewReader(in), ".pad", "text/x-long", true},
		{"line after the long one", strings.NewReader(in), ".aft", "text/x-after", true},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(in)), ".lng", "text/x-long", true},
		{"before a read error", io.MultiReader(strings.NewReader("text/x-short sht\n"), iotest.ErrReader(errors.New("EIO"))), ".sht", "text/x-short", true},
		{"after a read error", io.MultiReader(iotest.ErrReader(errors.New("EIO")), strings.NewReader(in)), ".aft", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ, ok := fileType(tc.r, tc.ext)
			if typ != tc.typ || ok != tc.ok {
				t.Errorf("fileType(%q) = %q, %v; want %q, %v", tc.ext, typ, ok, tc.typ, tc.ok)
			}
		})
	}
}

// TestTablesSorted: the built-in tables are searched by bisection.
func TestTablesSorted(t *testing.T) {
	for name, table := range map[string][]mimeEntry{"python": pythonTypes, "twisted": twistedTypes, "modern": modernTypes} {
		for i := 1; i < len(table); i++ {
			if table[i-1].ext >= table[i].ext {
				t.Errorf("%s: %q before %q", name, table[i-1].ext, table[i].ext)
			}
		}
	}
}

// TestMIMEPrecedence: the user's types, then Twisted's, then the file,
// then Python's, then the modern additions.
func TestMIMEPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mime.types")
	if err := os.WriteFile(file, []byte("text/x-file conf css woff2 zzfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newMIMETable(file, map[string]string{"ZZUSER": "text/x-user", ".conf": "text/x-user-conf"})
	cases := []struct{ ext, typ string }{
		{".zzuser", "text/x-user"},        // the user's, key without dot and upper case
		{".conf", "text/x-user-conf"},     // the user's over Twisted's
		{".patch", "text/plain"},          // Twisted's
		{".css", "text/x-file"},           // the file over Python's
		{".woff2", "text/x-file"},         // the file over the modern additions
		{".zzfile", "text/x-file"},        // the file only
		{".js", "application/javascript"}, // Python's
		{".webp", "image/webp"},           // the modern additions
	}
	for range 2 { // the second time from what was kept
		for _, tc := range cases {
			if typ, ok := m.lookup(tc.ext); !ok || typ != tc.typ {
				t.Errorf("lookup(%q) = %q, %v; want %q", tc.ext, typ, ok, tc.typ)
			}
		}
		if typ, ok := m.lookup(".zznone"); ok {
			t.Errorf("lookup(.zznone) = %q, want none", typ)
		}
	}
}

func TestTypeAndEncoding(t *testing.T) {
	h := &Handler{defaultType: "text/html", types: newMIMETable("", nil)}
	cases := []struct{ name, ctype, enc string }{
		{"a.txt", "text/plain", ""},
		{"A.TXT", "text/plain", ""},
		{"a.tar.gz", "application/x-tar", "gzip"},
		{"a.txt.GZ", "text/plain", "gzip"},
		{"a.bz2", "text/html", "bzip2"},
		{"x.gz", "text/html", "gzip"},
		{".gz", "text/html", ""},
		{".bashrc", "text/html", ""},
		{"..x", "text/html", ""},
		{".a.css", "text/css", ""},
		{"noext", "text/html", ""},
		{"trailing.", "text/html", ""},
		{"x.woff2", "font/woff2", ""},
		{"x.patch", "text/plain", ""},
		{"x.js", "application/javascript", ""},
	}
	for _, tc := range cases {
		ctype, enc := h.typeAndEncoding(tc.name)
		if ctype != tc.ctype || enc != tc.enc {
			t.Errorf("typeAndEncoding(%q) = %q, %q; want %q, %q", tc.name, ctype, enc, tc.ctype, tc.enc)
		}
	}
}

// TestMIMETableMatchesTwisted compares the table with the one twistd3 uses
// on this machine (File.contentTypes, built from the same /etc/mime.types):
// every extension twistd knows maps to the same type here.
func TestMIMETableMatchesTwisted(t *testing.T) {
	python := twistdPython(t)
	out, err := exec.Command(python, "-c",
		"import json; from twisted.web.static import File; print(json.dumps(File.contentTypes))").Output()
	if err != nil {
		t.Skipf("cannot import twisted with %s: %v", python, err)
	}
	var theirs map[string]string
	if err := json.Unmarshal(out, &theirs); err != nil {
		t.Fatal(err)
	}
	ours := newMIMETable(systemMIMEFile, nil)
	for ext, typ := range theirs {
		if got, _ := ours.lookup(ext); got != typ {
			t.Errorf("%s: twistd %q, gotwistd %q", ext, typ, got)
		}
	}
	// Every extension gotwistd knows that twistd does not is one of the
	// documented additions.
	all := map[string]bool{}
	for _, table := range [][]mimeEntry{pythonTypes, twistedTypes, modernTypes} {
		for _, e := range table {
			all[e.ext] = true
		}
	}
	if data, err := os.ReadFile(systemMIMEFile); err == nil {
		for line := range bytes.Lines(data) {
			n := 0
			for w := range words(line) {
				if w[0] == '#' {
					break
				}
				if n > 0 {
					all["."+string(w)] = true
				}
				n++
			}
		}
	}
	extra := 0
	for ext := range all {
		if _, ok := theirs[ext]; !ok {
			extra++
			if _, modern := search(modernTypes, ext); !modern {
				typ, _ := ours.lookup(ext)
				t.Errorf("%s: %q only in gotwistd's table and not a documented addition", ext, typ)
			}
		}
	}
	t.Logf("%d extensions compared, %d added for machines without mime.types", len(theirs), extra)
}

// twistdPython returns the interpreter of the twistd3 script on PATH, or
// skips the test.
func twistdPython(t *testing.T) string {
	t.Helper()
	twistd, err := exec.LookPath("twistd3")
	if err != nil {
		t.Skip("twistd3 is not on PATH (apt-get install python3-twisted to compare with twistd)")
	}
	f, err := os.Open(twistd)
	if err != nil {
		t.Skipf("twistd3: %v", err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		t.Skip("twistd3 has no #! line")
	}
	return fields[0]
}
