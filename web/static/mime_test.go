package static

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestReadMIMETypes(t *testing.T) {
	in := `# comment line
text/plain  txt text   # trailing comment
application/x-a  a
application/x-b  a
image/x-none
  text/x-indented   ind
`
	got := map[string]string{}
	readMIMETypes(strings.NewReader(in), got)
	want := map[string]string{".txt": "text/plain", ".text": "text/plain", ".a": "application/x-b", ".ind": "text/x-indented"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

func TestTypeAndEncoding(t *testing.T) {
	h := &Handler{defaultType: "text/html"}
	types := buildMIMETable("", nil)
	h.types.Store(&types)
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
	ours := buildMIMETable(systemMIMEFile, nil)
	for ext, typ := range theirs {
		if ours[ext] != typ {
			t.Errorf("%s: twistd %q, gotwistd %q", ext, typ, ours[ext])
		}
	}
	extra := 0
	for ext := range ours {
		if _, ok := theirs[ext]; !ok {
			extra++
			if _, modern := modernTypes[ext]; !modern {
				t.Errorf("%s: %q only in gotwistd's table and not a documented addition", ext, ours[ext])
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
