package units

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	key  = "/etc/ssl/private/www.key"
	cert = "/etc/ssl/certs/www.pem"
)

// cases are whole sites: each writes testdata/NAME.golden, every unit file
// it produces one after the other under a "==> FILE <==" line.
var cases = []struct {
	name string
	opts Options
}{
	{"tutorial", Options{Name: "www.example.com", Path: "/srv/www/www.example.com/static", User: "nobody", Group: "nogroup"}},
	{"https-h3-unix", Options{
		Name: "www.example.com", Path: "/srv/www/www.example.com/static",
		Listen: []string{
			"tcp:80",
			"ssl:443:privateKey=" + key + ":certKey=" + cert,
			"quic:443:privateKey=" + key + ":certKey=" + cert,
			"unix:/run/www.sock:mode=660",
			"tcp6:8080:interface=\\:\\:1",
		},
		Watchdog: 30 * time.Second, AccessLog: true,
	}},
	{"no-socket", Options{Name: "site", Path: "/srv/site", Listen: []string{"tcp:80"}, NoSocket: true, NotifyReload: true, FDStoreMax: -1}},
	{"acme", Options{Name: "www.example.com", Path: "/srv/www/www.example.com/static", Listen: []string{
		"tcp:80", "le:/var/lib/www.example.com/acme:tcp:443:hosts=www.example.com,example.com:email=ops@example.com"}}},
	{"haproxy", Options{Name: "lb", Path: "/srv/lb", Listen: []string{"haproxy:tcp:80", "ssl:haproxy:tcp:443:privateKey=" + key + ":certKey=" + cert}}},
	{"idle-exit", Options{Name: "ondemand", Path: "/srv/ondemand", Listen: []string{"tcp:8080"}, ExitIdleTime: 5 * time.Minute}},
	{"quoting", Options{Name: "odd", Path: "/srv/100% $HOME", Listen: []string{"ssl:8443:privateKey=/k\\:1.pem"}}},
}

func render(files []File) string {
	var b strings.Builder
	for _, f := range files {
		b.WriteString("==> " + f.Name + " <==\n" + f.Content)
	}
	return b.String()
}

func TestGenerateGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files, err := Generate(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := render(files)
			golden := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("units differ from %s (go test -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no name", Options{Path: "/srv"}, "a unit name is required"},
		{"bad name", Options{Name: "www example", Path: "/srv"}, `has ' '`},
		{"suffix", Options{Name: "www.service", Path: "/srv"}, "without .service"},
		{"no path", Options{Name: "www"}, "--path /srv/www/www/static"},
		{"relative path", Options{Name: "www", Path: "srv"}, "must be absolute"},
		{"relative binary", Options{Name: "www", Path: "/srv", Binary: "gotwistd"}, "absolute path"},
		{"bad endpoint", Options{Name: "www", Path: "/srv", Listen: []string{"tcp:abc"}}, `port "abc" is not a number`},
		{"systemd endpoint", Options{Name: "www", Path: "/srv", Listen: []string{"systemd:domain=INET:index=0"}}, "cannot be bound by a socket unit"},
		{"wrapped", Options{Name: "www", Path: "/srv", Listen: []string{"ssl:systemd:domain=INET:index=0"}}, "already names an inner endpoint"},
		{"haproxy systemd", Options{Name: "www", Path: "/srv", Listen: []string{"haproxy:systemd:domain=INET:index=0"}}, "cannot be bound by a socket unit"},
		{"relative unix", Options{Name: "www", Path: "/srv", Listen: []string{"unix:www.sock"}}, "absolute path"},
		{"acme on systemd", Options{Name: "www", Path: "/srv", Listen: []string{"le:/var/lib/www/acme:systemd:domain=INET:index=0:hosts=a.example"}}, "only for tcp or tcp6 inside"},
		{"acme outside /var/lib", Options{Name: "www", Path: "/srv", Listen: []string{"le:/etc/acme:tcp:443:hosts=a.example"}}, "must be under /var/lib/"},
		{"acme relative", Options{Name: "www", Path: "/srv", Listen: []string{"le:acme:tcp:443:hosts=a.example"}}, "must be under /var/lib/"},
		{"group alone", Options{Name: "www", Path: "/srv", Group: "www"}, "needs --user"},
		{"short watchdog", Options{Name: "www", Path: "/srv", Watchdog: time.Millisecond}, "under a second"},
		{"idle exit without a socket", Options{Name: "www", Path: "/srv", NoSocket: true, ExitIdleTime: time.Minute}, "--exit-idle-time needs the socket unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(tt.opts)
			if err == nil {
				t.Fatalf("Generate succeeded, want an error containing %q", tt.want)
			}
			if !errors.Is(err, ErrOptions) {
				t.Errorf("error %q does not match ErrOptions", err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, tt.want)
			}
		})
	}
}

// TestExposureScore asks systemd itself how exposed the generated service
// is: socket-activated units must stay "SAFE", at most 1.5.
func TestExposureScore(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed: cannot score the units")
	}
	exposure := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	for _, c := range cases {
		if c.opts.NoSocket {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			files, err := Generate(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.Content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", c.opts.Name+".service")
			cmd.Dir = dir
			out, _ := cmd.CombinedOutput() // exits non-zero above its threshold; the score says it all
			m := exposure.FindSubmatch(out)
			if m == nil {
				t.Fatalf("no exposure level in systemd-analyze output:\n%s", out)
			}
			score, err := strconv.ParseFloat(string(m[1]), 64)
			if err != nil {
				t.Fatal(err)
			}
			if score > 1.5 {
				t.Errorf("exposure %.1f > 1.5:\n%s", score, out)
			}
			t.Logf("%s: exposure %.1f", c.name, score)
		})
	}
}
