package web

import (
	"errors"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/web/cgi"
)

func TestCGIOptions(t *testing.T) {
	cfg, err := ParseArgs([]string{"--path", "."})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CGI || cfg.CGITimeout != cgi.DefaultTimeout || cfg.CGIMaxBody != cgi.DefaultMaxBody {
		t.Errorf("defaults: CGI %v, timeout %v, max body %d", cfg.CGI, cfg.CGITimeout, cfg.CGIMaxBody)
	}
	if cfg.CGIMaxProcs != cgi.DefaultMaxProcs {
		t.Errorf("default max procs %d", cfg.CGIMaxProcs)
	}
	cfg, err = ParseArgs([]string{"--cgi", "--cgi-timeout", "90", "--cgi-max-body", "4096", "--cgi-max-procs", "3", "--path", "."})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.CGI || cfg.CGITimeout != 90*time.Second || cfg.CGIMaxBody != 4096 || cfg.CGIMaxProcs != 3 {
		t.Errorf("CGI %v, timeout %v, max body %d, max procs %d", cfg.CGI, cfg.CGITimeout, cfg.CGIMaxBody, cfg.CGIMaxProcs)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cgi without path", []string{"--cgi"}, "--cgi needs --path: give the directory holding the scripts, such as --path /srv/www"},
		{"bad cgi-timeout", []string{"--cgi-timeout", "forever"}, `--cgi-timeout "forever": give a duration such as 30s, 1m30s or 90 (seconds), or 0 for none`},
		{"bad cgi-max-body", []string{"--cgi-max-body", "0"}, `--cgi-max-body "0": give a number of bytes, such as 10485760`},
		{"bad cgi-max-procs", []string{"--cgi-max-procs", "none"}, `--cgi-max-procs "none": give a number of scripts, such as 100`},
		{"cgi with a value", []string{"--cgi=yes"}, "option --cgi must not have an argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseArgs(tc.args)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("ParseArgs(%q) = %v, want %q", tc.args, err, tc.want)
			}
			if !errors.Is(err, getopt.ErrUsage) {
				t.Errorf("%q is not a usage error", err)
			}
		})
	}
}
