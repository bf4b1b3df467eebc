package balancer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/testbin"
)

// TestMain builds gotwistd once for the tests.
func TestMain(m *testing.M) {
	testbin.Main(m)
}

// eventually polls cond every 20 ms until it returns nil, for up to 20 s.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetch GETs url without keep-alive and returns the status and body.
func fetch(url string) (int, string, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// serverStatus asks haproxy's stats socket for the status of backend
// be's server s1 ("UP", "DOWN", ...).
func serverStatus(sock string) (string, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return "", err
	}
	out, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out, []byte("# "))))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		return "", fmt.Errorf("show stat: %v: %q", err, out)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, row := range rows[1:] {
		if row[col["pxname"]] == "be" && row[col["svname"]] == "s1" {
			return row[col["status"]], nil
		}
	}
	return "", fmt.Errorf("no server be/s1 in %q", out)
}

// TestHAProxyDrain: HAProxy checks GET /healthz every 100 ms; after
// SIGTERM gotwistd answers it 503 while it still serves files for the
// drain time, HAProxy marks the server DOWN, and a second SIGTERM ends
// the drain: gotwistd exits 0.
func TestHAProxyDrain(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed (Debian package haproxy)")
	}
	dir := t.TempDir()
	bin := testbin.Gotwistd(t)
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	const page = "<p>behind haproxy</p>\n"
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}

	backend, front := testbin.FreePort(t), testbin.FreePort(t)
	srv := exec.Command(bin, "--nodaemon", "--pidfile=", "web", "--listen", fmt.Sprintf("tcp:%d:interface=127.0.0.1", backend),
		"--path", www, "--health", "/healthz", "--drain-time", "1m")
	gp, err := testbin.Start(srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gp.Kill()
		if t.Failed() {
			t.Logf("gotwistd:\n%s", gp.Log)
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", backend)
	eventually(t, "gotwistd to serve", func() error { _, _, err := fetch(base + "/"); return err })

	stats := filepath.Join(dir, "haproxy.sock")
	cfg := fmt.Sprintf(`global
	stats socket %s mode 600 level admin
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend fe
	bind 127.0.0.1:%d
	default_backend be
backend be
	option httpchk GET /healthz
	http-check expect status 200
	server s1 127.0.0.1:%d check inter 100ms fall 2 rise 1
`, stats, front, backend)
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	hp, err := testbin.Start(exec.Command(haproxy, "-db", "-f", cfgFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hp.Kill()
		if t.Failed() {
			t.Logf("haproxy:\n%s", hp.Log)
		}
	})
	eventually(t, "haproxy to see the server UP", func() error {
		st, err := serverStatus(stats)
		if err == nil && st != "UP" {
			err = fmt.Errorf("status %s", st)
		}
		return err
	})
	if code, body, err := fetch(fmt.Sprintf("http://127.0.0.1:%d/", front)); err != nil || code != 200 || body != page {
		t.Fatalf("through haproxy: %d %q %v, want the page", code, body, err)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "haproxy to take the server out", func() error {
		st, err := serverStatus(stats)
		if err == nil && !strings.HasPrefix(st, "DOWN") {
			err = fmt.Errorf("status %s", st)
		}
		return err
	})
	// Out of rotation, and still serving what reaches it directly.
	if code, body, err := fetch(base + "/"); err != nil || code != 200 || body != page {
		t.Errorf("directly, while draining: %d %q %v, want the page", code, body, err)
	}
	if code, body, err := fetch(base + "/healthz"); err != nil || code != 503 || body != "draining\n" {
		t.Errorf("/healthz while draining: %d %q %v, want 503 draining", code, body, err)
	}
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if <-gp.Exited; gp.Err != nil {
		t.Errorf("gotwistd after the second SIGTERM: %v, want exit status 0", gp.Err)
	}
	sc := bufio.NewScanner(strings.NewReader(gp.Log.String()))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{"Draining for 1m0s (--drain-time)", "Received SIGTERM again, closing all connections now.", "Server Shut Down."} {
		if !strings.Contains(text, want) {
			t.Errorf("gotwistd's log lacks %q:\n%s", want, text)
		}
	}
}
