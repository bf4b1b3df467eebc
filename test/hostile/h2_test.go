package hostile

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestH2Spec runs h2spec, the HTTP/2 conformance suite, against the
// binary's HTTP/2 engine.
func TestH2Spec(t *testing.T) {
	h2spec, err := exec.LookPath("h2spec")
	if err != nil {
		if gobin := filepath.Join(goPath(), "bin", "h2spec"); fileExists(gobin) {
			h2spec = gobin
		} else {
			t.Skip("h2spec is not installed (scripts/test installs it: go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible)")
		}
	}
	s, _ := startTLS(t)
	host, port, _ := strings.Cut(s.addr(), ":")
	report := filepath.Join(t.TempDir(), "h2spec.xml")
	out, _ := exec.Command(h2spec, "-h", host, "-p", port, "-t", "-k", "-P", "/index.html", "-o", "3", "-j", report).CombinedOutput()
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("h2spec wrote no report: %v\n%s", err, out)
	}
	var r struct {
		Suites []struct {
			Package  string `xml:"package,attr"`
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	tests, failed := 0, 0
	for _, su := range r.Suites {
		tests += su.Tests
		if n := su.Failures + su.Errors; n > 0 {
			failed += n
			t.Errorf("h2spec %s (%s): %d failed", su.Package, su.Name, n)
		}
	}
	if tests < 140 {
		t.Errorf("h2spec ran %d tests, want the whole suite (145)\n%s", tests, out)
	}
	t.Logf("h2spec: %d tests, %d failed", tests, failed)
}

func goPath() string {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestH2RapidReset: a client opening streams and resetting them at once
// (CVE-2023-44487) on several connections does not keep a normal HTTP/2
// client from being served.
func TestH2RapidReset(t *testing.T) {
	s, cert := startTLS(t)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tc := &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}, ServerName: "127.0.0.1"}
	stop := make(chan struct{})
	attacks := make(chan int, 4)
	for range 4 {
		go func() {
			n := 0
			defer func() { attacks <- n }()
			nc, err := tls.Dial("tcp", s.addr(), tc)
			if err != nil {
				return
			}
			defer nc.Close()
			go io.Copy(io.Discard, nc)
			fr := http2.NewFramer(nc, nil)
			io.WriteString(nc, http2.ClientPreface)
			fr.WriteSettings()
			var hb bytes.Buffer
			enc := hpack.NewEncoder(&hb)
			for id := uint32(1); ; id += 2 {
				select {
				case <-stop:
					return
				default:
				}
				hb.Reset()
				// "/" is a directory listing: the handler's path, a
				// goroutine per stream.
				for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "x"}, {":path", "/"}} {
					enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
				}
				if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}) != nil ||
					fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
					return // the server ended the connection
				}
				n++
			}
		}()
	}
	c := &http.Client{Transport: &http2.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(3 * time.Second)
	served := 0
	for time.Now().Before(deadline) {
		resp, err := c.Get("https://" + s.addr() + "/index.html")
		if err != nil {
			t.Fatalf("a normal client during the attack: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("a normal client during the attack: %s", resp.Status)
		}
		served++
	}
	close(stop)
	total := 0
	for range 4 {
		total += <-attacks
	}
	t.Logf("%d normal requests served while 4 connections opened and reset %d streams", served, total)
	if served < 10 {
		t.Errorf("only %d normal requests served in 3 s", served)
	}
}
