package static

import (
	"bytes"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

// FuzzFileType: fileType, which searches a buffer at a time for the
// extension, finds what splitting the whole file into lines and reading
// every one of them finds, whatever the file and however it is read.
func FuzzFileType(f *testing.F) {
	f.Add([]byte("text/plain txt text # c\napplication/x-a a\napplication/x-b\ta\n"), ".a", false)
	f.Add([]byte("# txt\n  text/x-ind ind\ntext/x-last last"), ".last", true)
	f.Add(append(bytes.Repeat([]byte("pad "), 2000), []byte("\ntext/x-l lng\n")...), ".lng", false)
	f.Add([]byte("a/b xx\r\nc/d xx\n"), ".xx", true)
	f.Fuzz(func(t *testing.T, file []byte, ext string, oneByte bool) {
		var want string
		var wantOK bool
		if len(ext) >= 2 {
			for line := range bytes.Lines(file) {
				if typ, ok := lineType(line, []byte(ext[1:])); ok {
					want, wantOK = typ, true
				}
			}
		}
		var r io.Reader = bytes.NewReader(file)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		got, ok := fileType(r, ext)
		if got != want || ok != wantOK {
			t.Errorf("fileType(%q) = %q, %v; reading every line gives %q, %v", ext, got, ok, want, wantOK)
		}
	})
}

// BenchmarkFileType looks an extension up in this machine's mime.types,
// as the first request for a file of that extension does.
func BenchmarkFileType(b *testing.B) {
	data, err := os.ReadFile(systemMIMEFile)
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, ok := fileType(bytes.NewReader(data), ".html"); !ok {
			b.Fatal("no .html in " + systemMIMEFile)
		}
	}
}
