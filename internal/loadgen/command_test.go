package loadgen

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	url := serveHTTP(t, pageHandler)
	dir := t.TempDir()
	good := filepath.Join(dir, "page")
	os.WriteFile(good, []byte(page), 0o644)
	bad := filepath.Join(dir, "other")
	os.WriteFile(bad, []byte("other"), 0o644)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/"
	l.Close()

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // contained
		stderr   string // contained
		jsonWant *jsonResult
		// maxConns, with jsonWant: connections opened are 1 to
		// maxConns (keep-alive: at most one per client, and which
		// client sends how many is the scheduler's); 0: exactly
		// jsonWant.Connections.
		maxConns int64
	}{
		{name: "all ok", args: []string{"-n", "10", "-c", "2", "-body", good, url}, code: ExitOK,
			stdout: "close: 10 requests, 10 ok, 0 failed, 10 connections"},
		{name: "keepalive json", args: []string{"-mode", "keepalive", "-n", "6", "-c", "2", "-json", url}, code: ExitOK,
			jsonWant: &jsonResult{Mode: "keepalive", Requests: 6, OK: 6}, maxConns: 2},
		{name: "wrong body", args: []string{"-n", "3", "-c", "1", "-body", bad, url}, code: ExitFailed,
			stdout: "3 failed (body 3)"},
		{name: "refused json", args: []string{"-n", "2", "-c", "1", "-json", refused}, code: ExitFailed,
			jsonWant: &jsonResult{Mode: "close", Requests: 2, Failed: 2}},
		{name: "no URL", args: []string{"-n", "1"}, code: ExitUsage, stderr: "want one URL"},
		{name: "bad mode", args: []string{"-mode", "h2", url}, code: ExitUsage, stderr: `unknown mode "h2"`},
		{name: "not loopback", args: []string{"http://192.168.1.1/"}, code: ExitUsage, stderr: "loopback"},
		{name: "unbounded", args: []string{"-d", "0", url}, code: ExitUsage, stderr: "unbounded"},
		{name: "missing body file", args: []string{"-body", filepath.Join(dir, "nope"), url}, code: ExitUsage, stderr: "-body:"},
		{name: "help", args: []string{"-h"}, code: ExitOK, stderr: "Usage: gotwistd-load"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stdout %q (want %q), stderr %q (want %q)", &stdout, tt.stdout, &stderr, tt.stderr)
			}
			if tt.jsonWant != nil {
				var got jsonResult
				if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
					t.Fatalf("-json output: %v\n%s", err, &stdout)
				}
				w := tt.jsonWant
				if got.Mode != w.Mode || got.Requests != w.Requests || got.OK != w.OK || got.Failed != w.Failed ||
					got.Connections != w.Connections && tt.maxConns == 0 || len(got.Causes) != len(Causes()) {
					t.Errorf("-json = %+v, want %+v", got, *w)
				}
				if tt.maxConns > 0 && (got.Connections < 1 || got.Connections > tt.maxConns) {
					t.Errorf("-json connections = %d, want 1 to %d", got.Connections, tt.maxConns)
				}
				if w.Failed > 0 && got.Causes["refused"] != w.Failed {
					t.Errorf("-json causes = %v, want refused %d", got.Causes, w.Failed)
				}
			}
		})
	}
}
