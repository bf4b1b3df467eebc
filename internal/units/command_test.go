package units

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotwistd/gotwistd/internal/getopt"
)

func TestCommandWritesAndNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--name", "www.example.com", "--path", "/srv/www", "--listen", "tcp:80", "--watchdog", "30s", "--out", dir}
	var out bytes.Buffer
	if err := Command(args, &out); err != nil {
		t.Fatal(err)
	}
	svc, err := os.ReadFile(filepath.Join(dir, "www.example.com.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svc), "WatchdogSec=30\n") || !strings.Contains(string(svc), "--listen systemd:domain=INET:index=0") {
		t.Errorf("service unit lacks the watchdog or the inherited socket:\n%s", svc)
	}
	if _, err := os.Stat(filepath.Join(dir, "www.example.com.socket")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(out.String(), "systemctl daemon-reload && systemctl enable --now www.example.com.socket") {
		t.Errorf("no next step in output:\n%s", out.String())
	}

	// A user's edited unit is never replaced without --force.
	edited := filepath.Join(dir, "www.example.com.service")
	if err := os.WriteFile(edited, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = Command(args, &out)
	if err == nil || !strings.Contains(err.Error(), "already exists: use --force") {
		t.Fatalf("second run: err = %v, want a refusal naming --force", err)
	}
	if b, _ := os.ReadFile(edited); string(b) != "mine" {
		t.Fatalf("edited unit was changed to %q", b)
	}
	if err := Command(append(args, "--force"), &out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(edited); string(b) == "mine" {
		t.Fatal("--force did not replace the unit")
	}
}

func TestCommandStdout(t *testing.T) {
	var out bytes.Buffer
	if err := Command([]string{"--name=site", "--path=/srv/site"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# ==> site.socket <==", "ListenStream=0.0.0.0:80", "# ==> site.service <==", "DynamicUser=yes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCommandUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown option", []string{"--bogus"}, "--bogus"},
		{"bad watchdog", []string{"--name=a", "--path=/a", "--watchdog=soon"}, `"soon" is not a duration`},
		{"bad fdstore", []string{"--name=a", "--path=/a", "--fdstore-max=-3"}, "is not a count"},
		{"missing name", []string{"--path=/a"}, "a unit name is required"},
		{"stray argument", []string{"--name=a", "--path=/a", "extra"}, `unexpected argument "extra"`},
		{"out not a dir", []string{"--name=a", "--path=/a", "--out=/nonexistent/x"}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Command(tt.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if tt.name != "out not a dir" && !errors.Is(err, getopt.ErrUsage) {
				t.Errorf("err = %v is not a usage error", err)
			}
		})
	}
}
