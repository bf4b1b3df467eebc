//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The TLS key and certificate the sockets tests install, and the CA file
// the clients in the box trust (the certificate is self-signed).
const (
	sockKeyFile  = "/etc/ssl/private/www.example.com.key"
	sockCertFile = "/etc/ssl/certs/www.example.com.pem"
)

// sockMaxExposure is the highest `systemd-analyze security` exposure level
// a hardened unit may have: "1.5 SAFE" or better.
const sockMaxExposure = 1.5

// sockBox boots a box with gotwistd, the tutorial's page, the HTTP/3
// client and a TLS key and certificate for localhost.
func sockBox(t *testing.T) (*Box, []byte) {
	t.Helper()
	box, page := tutorialBox(t)
	sockInstallH3(t, box)
	cert, key := sockCert(t)
	must(t, box.WriteFile(sockKeyFile, key, 0o600))
	must(t, box.WriteFile(sockCertFile, cert, 0o644))
	return box, page
}

// sockInstallDir installs every file of a testdata directory into the
// box's /etc/systemd/system, verbatim.
func sockInstallDir(t *testing.T, box *Box, dir string) {
	t.Helper()
	files, err := os.ReadDir(dir)
	must(t, err)
	for _, f := range files {
		install(t, box, filepath.Join(dir, f.Name()), "/etc/systemd/system/"+f.Name())
	}
}

// sockHTTPS fetches url with curl over TLS in the box, trusting
// sockCertFile, and returns the response's headers, its body and the HTTP
// version curl used ("2" for HTTP/2). extra goes before the URL.
func sockHTTPS(t *testing.T, box *Box, url string, extra ...string) (headers, body, version string) {
	t.Helper()
	args := append([]string{"--include", "--cacert", sockCertFile, "--write-out", "\n%{http_version}"}, extra...)
	out, err := box.Curl(url, args...)
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	rest, version, _ := sockCutLast(out, "\n")
	headers, body, ok := strings.Cut(rest, "\r\n\r\n")
	if !ok {
		t.Fatalf("curl %s: no header/body separator in %q", url, out)
	}
	return headers, body, version
}

func sockCutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// sockWantH3 fetches url over HTTP/3 in the box and checks that the answer
// is the page, over HTTP/3.0.
func sockWantH3(t *testing.T, box *Box, url string, page []byte) {
	t.Helper()
	proto, code, body, err := sockH3(box, sockCertFile, url)
	if err != nil {
		t.Errorf("HTTP/3 GET %s: %v", url, err)
		return
	}
	if proto != "HTTP/3.0" || code != "200" || body != string(page) {
		t.Errorf("HTTP/3 GET %s = %s %s %q, want HTTP/3.0 200 and the page", url, proto, code, body)
	}
}

// sockWantHTTP2 fetches url over HTTPS in the box and checks the page came
// over HTTP/2 with Alt-Svc announcing HTTP/3 on port.
func sockWantHTTP2(t *testing.T, box *Box, url string, port int, page []byte) {
	t.Helper()
	headers, body, version := sockHTTPS(t, box, url, "--http2")
	if version != "2" || body != string(page) {
		t.Errorf("curl --http2 %s: HTTP version %q, body %q; want 2 and the page", url, version, body)
	}
	want := fmt.Sprintf(`alt-svc: h3=":%d"; ma=86400`, port)
	if !strings.Contains(strings.ToLower(headers), want) {
		t.Errorf("curl --http2 %s: headers have no %q:\n%s", url, want, headers)
	}
}

// sockExposure runs `systemd-analyze security UNIT` in the box and returns
// the overall exposure level it prints.
func sockExposure(t *testing.T, box *Box, unit string) float64 {
	t.Helper()
	out, err := box.Run("systemd-analyze", "security", "--no-pager", unit)
	if err != nil {
		t.Fatalf("systemd-analyze security %s: %v", unit, err)
	}
	m := regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(unit) + `: ([0-9.]+) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security %s: no overall exposure level in:\n%s", unit, out)
	}
	level, err := strconv.ParseFloat(m[1], 64)
	must(t, err)
	t.Logf("systemd-analyze security %s: %s", unit, strings.TrimSpace(out[strings.LastIndex(out, "Overall"):]))
	return level
}

func sockWantSafe(t *testing.T, box *Box, unit string) {
	t.Helper()
	if level := sockExposure(t, box, unit); level > sockMaxExposure {
		out, _ := box.Run("systemd-analyze", "security", "--no-pager", unit)
		t.Errorf("systemd-analyze security %s: exposure %.1f, want <= %.1f:\n%s", unit, level, sockMaxExposure, out)
	}
}

// sockWantDynamicUser checks that the process runs as a systemd dynamic
// user (DynamicUser=yes): one uid and one gid, in the range systemd
// allocates them from, never root.
func sockWantDynamicUser(t *testing.T, box *Box, pid int) {
	t.Helper()
	st, err := box.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(t, err)
	for _, line := range strings.Split(string(st), "\n") {
		key, val, _ := strings.Cut(line, ":")
		if key != "Uid" && key != "Gid" {
			continue
		}
		for _, f := range strings.Fields(val) {
			id, err := strconv.Atoi(f)
			if err != nil || id < 61184 || id > 65519 {
				t.Errorf("pid %d %s: %s, want a dynamic id (61184-65519) for all four", pid, key, strings.TrimSpace(val))
				break
			}
		}
	}
}

// sockWantCleanStop checks that a stopped service is inactive and that its
// main process exited with status 0: systemd logs "Deactivated
// successfully" and nothing about its exit. (ExecMainStatus is no proof: a
// static unit nothing refers to is unloaded once stopped, and forgets it.)
func sockWantCleanStop(t *testing.T, box *Box, unit string) {
	t.Helper()
	if state, err := box.Show(unit, "ActiveState"); err != nil || state != "inactive" {
		t.Errorf("%s after stop: ActiveState=%s, %v; want inactive", unit, state, err)
	}
	journal := waitJournal(t, box, unit, unit+": Deactivated successfully.")
	for _, bad := range []string{"Main process exited", "Failed with result"} {
		if strings.Contains(journal, bad) {
			t.Errorf("journal of %s has %q: want a clean exit:\n%s", unit, bad, journal)
		}
	}
}

// sockSortedCounts returns the values of m, sorted.
func sockSortedCounts(m map[string]int) []int {
	var out []int
	for _, n := range m {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// sockWantNoPanic checks that a journal shows no Go panic or traceback.
func sockWantNoPanic(t *testing.T, what, journal string) {
	t.Helper()
	for _, bad := range []string{"panic:", "goroutine ", "runtime error"} {
		if strings.Contains(journal, bad) {
			t.Errorf("%s has %q:\n%s", what, bad, journal)
		}
	}
}

// TestSystemdSockets proves, in one box, the sockets Twisted's tutorial
// lists as limitations, with the units of testdata/sockets: a UNIX stream
// socket; several named sockets across socket units, TLS on an inherited
// socket and HTTP/3 on an inherited UDP socket; a socket of the wrong type
// or family failing the start with one clear line; and Accept=yes.
func TestSystemdSockets(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	box, page := sockBox(t)
	sockInstallDir(t, box, "testdata/sockets")
	systemctl(t, box, "daemon-reload")
	t.Cleanup(func() { t.Logf("TestSystemdSockets: %v", time.Since(begin).Round(time.Millisecond)) })

	t.Run("unix index=0", func(t *testing.T) {
		systemctl(t, box, "start", "www-unix.socket")
		wantContains(t, "socket status", status(t, box, "www-unix.socket"),
			"Active: active (listening)", "Listen: /run/www.sock (Stream)")
		wantContains(t, "service status before the first connection", status(t, box, "www-unix.service"),
			"Active: inactive (dead)")

		body, err := box.Curl("http://localhost/", "--unix-socket", "/run/www.sock")
		if err != nil || body != string(page) {
			st, _ := box.Status("www-unix.service")
			t.Fatalf("curl --unix-socket /run/www.sock = %q, %v; want the page\n%s", body, err, st)
		}
		pid := mainPID(t, box, "www-unix.service")
		wantContains(t, "service status", status(t, box, "www-unix.service"),
			"Active: active (running)",
			fmt.Sprintf("%d /usr/bin/gotwistd --nodaemon --pidfile= web --listen systemd:domain=UNIX:index=0 --path .", pid))
		waitJournal(t, box, "www-unix.service",
			"Site starting on '/run/www.sock'",
			`"-" - - [`, // the access line: a UNIX client has no address
			`"GET / HTTP/1.1" 200`)
		wantIDs(t, box, pid, "nobody", "nogroup")

		// The socket file is systemd's: gotwistd leaves it when it
		// stops, and the next connection starts it again.
		systemctl(t, box, "stop", "www-unix.service")
		if _, err := box.Run("test", "-S", "/run/www.sock"); err != nil {
			t.Fatalf("after stopping the service, /run/www.sock: %v", err)
		}
		body, err = box.Curl("http://localhost/", "--unix-socket", "/run/www.sock")
		if err != nil || body != string(page) {
			t.Errorf("curl after the service stopped = %q, %v; want the page (activated again)", body, err)
		}
		if again := mainPID(t, box, "www-unix.service"); again == pid {
			t.Errorf("second activation: main pid %d, want a new process", again)
		}
		systemctl(t, box, "stop", "www-unix.socket", "www-unix.service")
	})

	t.Run("names across units", func(t *testing.T) {
		systemctl(t, box, "start", "www-http.socket", "www-https.socket", "www-local.socket")
		wantContains(t, "socket status", status(t, box, "www-https.socket"),
			"Active: active (listening)", "Listen: [::]:8443 (Stream)", "[::]:8443 (Datagram)")

		// Any of the sockets starts the service, which serves them all,
		// each endpoint on the socket its name= and type pick.
		body, err := box.Curl("http://localhost/", "--unix-socket", "/run/www-local.sock")
		if err != nil || body != string(page) {
			st, _ := box.Status("www-names.service")
			t.Fatalf("curl --unix-socket /run/www-local.sock = %q, %v; want the page\n%s", body, err, st)
		}
		pid := mainPID(t, box, "www-names.service")
		if body, err := box.Curl("http://127.0.0.1:8081/"); err != nil || body != string(page) {
			t.Errorf("curl http://127.0.0.1:8081/ (name=http) = %q, %v; want the page", body, err)
		}
		sockWantHTTP2(t, box, "https://localhost:8443/", 8443, page)
		sockWantH3(t, box, "https://localhost:8443/", page)
		if again := mainPID(t, box, "www-names.service"); again != pid {
			t.Errorf("main pid %d after the requests, want the one process %d", again, pid)
		}
		waitJournal(t, box, "www-names.service",
			"Site starting on '/run/www-local.sock'",
			"Site starting on 8081",
			"Site starting on 8443",
			`"GET / HTTP/1.1" 200`, `"GET / HTTP/2.0" 200`, `"GET / HTTP/3.0" 200`)
		systemctl(t, box, "stop", "www-http.socket", "www-https.socket", "www-local.socket", "www-names.service")
		sockWantCleanStop(t, box, "www-names.service")
	})

	// A socket that does not suit its endpoint: the start fails at once
	// (Type=notify: systemd never sees READY=1) with one line naming the
	// socket and the fix, in the journal and as the unit's status text.
	wrong := []struct {
		name  string
		unit  string
		wants []string // parts of the one error line
	}{
		{
			name: "wrong type",
			unit: "www-wrongtype",
			wants: []string{"endpoint systemd:domain=INET:index=0: ", `systemd socket "www-wrongtype.socket" (fd 3)`,
				"is a UDP socket", "needs a stream socket", "ListenStream="},
		},
		{
			name: "wrong family",
			unit: "www-wrongfamily",
			wants: []string{"endpoint systemd:domain=INET6:index=0: ", `systemd socket "www-wrongfamily.socket" (fd 3)`,
				"is an INET socket", "domain=INET6", "use domain=INET"},
		},
	}
	for _, tc := range wrong {
		t.Run(tc.name, func(t *testing.T) {
			service := tc.unit + ".service"
			systemctl(t, box, "start", tc.unit+".socket")
			if out, err := box.Systemctl("start", service); err == nil {
				t.Fatalf("systemctl start %s succeeded, want a failure:\n%s", service, out)
			}
			st := status(t, box, service)
			wantContains(t, "status", st, "Active: failed (Result: exit-code)", "status=1/FAILURE")

			text, err := box.Show(service, "StatusText")
			must(t, err)
			for _, w := range tc.wants {
				if !strings.Contains(text, w) {
					t.Errorf("StatusText=%q, want it to contain %q", text, w)
				}
			}
			if strings.Contains(text, "\n") {
				t.Errorf("StatusText=%q, want one line", text)
			}
			wantContains(t, "status", st, `Status: "`+text+`"`)

			journal := waitJournal(t, box, service, "[-#error] "+text, "Failed with result 'exit-code'")
			if n := strings.Count(journal, "#error]"); n != 1 {
				t.Errorf("journal has %d error lines, want 1:\n%s", n, journal)
			}
			sockWantNoPanic(t, "journal of "+service, journal)
			systemctl(t, box, "stop", tc.unit+".socket")
			systemctl(t, box, "reset-failed", service)
		})
	}

	t.Run("accept=yes", func(t *testing.T) {
		systemctl(t, box, "start", "www-accept.socket")
		// Each connection gets an instance: the first makes one request,
		// the second two on one keep-alive connection.
		if body, err := box.Curl("http://127.0.0.1:8084/"); err != nil || body != string(page) {
			t.Fatalf("curl http://127.0.0.1:8084/ = %q, %v; want the page\n%s", body, err, box.diagnostics())
		}
		if body, err := box.Curl("http://127.0.0.1:8084/", "http://127.0.0.1:8084/"); err != nil || body != string(page)+string(page) {
			t.Errorf("two requests on one connection = %q, %v; want the page twice", body, err)
		}

		// Each instance exits on its own once its client is done.
		var units string
		err := eventually(10*time.Second, func() error {
			var err error
			units, err = box.Systemctl("list-units", "--all", "--no-legend", "www-accept@*")
			if err == nil && strings.TrimSpace(units) != "" {
				err = fmt.Errorf("instances left")
			}
			return err
		})
		if err != nil {
			t.Errorf("list-units www-accept@*: %v:\n%s", err, units)
		}
		wantContains(t, "socket status", status(t, box, "www-accept.socket"),
			"Active: active (listening)", "Accepted: 2; Connected: 0;")
		// journald stores lines asynchronously: wait for all of them.
		var journal string
		err = eventually(10*time.Second, func() error {
			var err error
			if journal, err = box.Journal("www-accept@*"); err != nil {
				return err
			}
			for _, w := range []string{"Started www-accept@0-127.0.0.1:8084-127.0.0.1:",
				"Started www-accept@1-127.0.0.1:8084-127.0.0.1:", "Site starting on 8084"} {
				if !strings.Contains(journal, w) {
					return fmt.Errorf("no %q", w)
				}
			}
			// Three requests, two instances that exited with status 0.
			if n := strings.Count(journal, `"GET / HTTP/1.1" 200`); n != 3 {
				return fmt.Errorf("%d access lines, want 3", n)
			}
			if n := strings.Count(journal, ": Deactivated successfully."); n != 2 {
				return fmt.Errorf("%d instances deactivated successfully, want 2", n)
			}
			return nil
		})
		if err != nil {
			t.Errorf("journal of www-accept@*: %v:\n%s", err, journal)
		}
		// One process per connection: one request in the first, two in
		// the second.
		perPID := map[string]int{}
		for _, m := range regexp.MustCompile(`gotwistd\[(\d+)\]: .*"GET / HTTP/1.1" 200`).FindAllStringSubmatch(journal, -1) {
			perPID[m[1]]++
		}
		if counts := fmt.Sprint(sockSortedCounts(perPID)); counts != "[1 2]" {
			t.Errorf("requests per gotwistd process: %v, want 1 and 2 (one process per connection):\n%s", perPID, journal)
		}
		for _, bad := range []string{"Failed", "failed", "#error]"} {
			if strings.Contains(journal, bad) {
				t.Errorf("journal of www-accept@* has %q:\n%s", bad, journal)
			}
		}
		sockWantNoPanic(t, "journal of www-accept@*", journal)
		systemctl(t, box, "stop", "www-accept.socket")
	})
}

// TestHardenedUnits installs hardened units in one box and proves each
// serves and rates "SAFE" (exposure <= 1.5) on `systemd-analyze security`:
// the shipped deploy/systemd/www.example.com.hardened.service with the
// tutorial's socket, the shipped HTTPS + HTTP/3 pair
// www.example.com-tls.socket/.service, and the units `gotwistd units`
// writes (run in the box).
func TestHardenedUnits(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	box, page := sockBox(t)
	t.Cleanup(func() { t.Logf("TestHardenedUnits: %v", time.Since(begin).Round(time.Millisecond)) })

	t.Run("shipped hardened socket activation", func(t *testing.T) {
		install(t, box, repoFile("deploy/systemd/www.example.com.socket"), socketFile)
		install(t, box, repoFile("deploy/systemd/www.example.com.hardened.service"), serviceFile)
		systemctl(t, box, "daemon-reload")

		// The tutorial's checks: the socket listens, the service waits.
		systemctl(t, box, "start", socket)
		wantContains(t, "socket status", status(t, box, socket),
			"Active: active (listening)", "Listen: 0.0.0.0:80 (Stream)")
		wantContains(t, "service status before the first connection", status(t, box, service),
			"Active: inactive (dead)")

		// The first connection starts it; it is ready before it answers.
		body, err := box.Curl("http://localhost:80/")
		if err != nil || body != string(page) {
			st, _ := box.Status(service)
			t.Fatalf("first curl http://localhost:80/ = %q, %v; want the page\n%s", body, err, st)
		}
		pid := mainPID(t, box, service)
		wantContains(t, "service status", status(t, box, service),
			"Active: active (running)",
			`Status: "serving /srv/www/www.example.com/static`,
			fmt.Sprintf("%d /usr/bin/gotwistd --nodaemon --pidfile= web --listen systemd:domain=INET:index=0 --path .", pid))
		waitJournal(t, box, service, "Site starting on 80", "Started www.example.com.service - Example Web Server.")

		// An unprivileged user serves port 80: the one listener is
		// systemd's, shared.
		sockWantDynamicUser(t, box, pid)
		ss, err := box.Run("ss", "-H", "-l", "-t", "-n", "-p", "sport = :80")
		must(t, err)
		if lines := strings.Split(strings.TrimSpace(ss), "\n"); len(lines) != 1 ||
			!strings.Contains(ss, fmt.Sprintf(`("gotwistd",pid=%d,`, pid)) ||
			!strings.Contains(ss, `("systemd",pid=1,`) {
			t.Errorf("listeners on :80 = %q, want one, held by systemd and gotwistd pid %d", ss, pid)
		}
		sockWantSafe(t, box, service)

		systemctl(t, box, "stop", socket, service)
		sockWantCleanStop(t, box, service)
	})

	t.Run("shipped https and http3", func(t *testing.T) {
		const tlsSocket, tlsService = "www.example.com-tls.socket", "www.example.com-tls.service"
		install(t, box, repoFile("deploy/systemd/"+tlsSocket), "/etc/systemd/system/"+tlsSocket)
		install(t, box, repoFile("deploy/systemd/"+tlsService), "/etc/systemd/system/"+tlsService)
		systemctl(t, box, "daemon-reload")
		systemctl(t, box, "start", tlsSocket)
		wantContains(t, "socket status", status(t, box, tlsSocket),
			"Active: active (listening)", "Listen: [::]:443 (Stream)", "[::]:443 (Datagram)")

		sockWantHTTP2(t, box, "https://localhost/", 443, page)
		pid := mainPID(t, box, tlsService)
		wantContains(t, "service status", status(t, box, tlsService), "Active: active (running)",
			"--listen ssl:systemd:domain=INET:name=https:privateKey=/run/credentials/www.example.com-tls.service/www.example.com.key:certKey=/run/credentials/www.example.com-tls.service/www.example.com.pem",
			"--listen quic:systemd:domain=INET:name=https:")
		// One socket of each type, for IPv4 and IPv6.
		for _, url := range []string{"https://127.0.0.1/", "https://[::1]/"} {
			if _, body, _ := sockHTTPS(t, box, url); body != string(page) {
				t.Errorf("curl %s = %q, want the page", url, body)
			}
			sockWantH3(t, box, url, page)
		}
		sockWantH3(t, box, "https://localhost/", page)
		sockWantDynamicUser(t, box, pid)
		waitJournal(t, box, tlsService, "Site starting on 443", `"GET / HTTP/2.0" 200`, `"GET / HTTP/3.0" 200`)
		sockWantSafe(t, box, tlsService)
		systemctl(t, box, "stop", tlsSocket, tlsService)
		sockWantCleanStop(t, box, tlsService)
	})

	t.Run("gotwistd units", func(t *testing.T) {
		const key, cert = "/etc/ssl/private/site.key", "/etc/ssl/certs/site.pem"
		certPEM, keyPEM := sockCert(t)
		must(t, box.WriteFile(key, keyPEM, 0o600))
		must(t, box.WriteFile(cert, certPEM, 0o644))
		must(t, box.WriteFile("/srv/site/index.html", page, 0o644))
		tls := ":privateKey=" + key + ":certKey=" + cert
		out, err := box.Run("gotwistd", "units", "--name", "site", "--path", "/srv/site",
			"--listen", "tcp:80", "--listen", "ssl:443"+tls, "--listen", "quic:443"+tls,
			"--out", "/etc/systemd/system")
		if err != nil {
			t.Fatalf("gotwistd units: %v\n%s", err, out)
		}
		wantContains(t, "gotwistd units output", out,
			"wrote /etc/systemd/system/site.socket", "wrote /etc/systemd/system/site.service")
		systemctl(t, box, "daemon-reload")
		systemctl(t, box, "enable", "--now", "site.socket")
		wantContains(t, "socket status", status(t, box, "site.socket"),
			"Loaded: loaded (/etc/systemd/system/site.socket; enabled;", "Active: active (listening)")
		wantContains(t, "service status before the first connection", status(t, box, "site.service"),
			"Active: inactive (dead)")

		if body, err := box.Curl("http://localhost/"); err != nil || body != string(page) {
			st, _ := box.Status("site.service")
			t.Fatalf("curl http://localhost/ = %q, %v; want the page\n%s", body, err, st)
		}
		pid := mainPID(t, box, "site.service")
		sockWantHTTP2(t, box, "https://localhost/", 443, page)
		sockWantH3(t, box, "https://localhost/", page)
		wantContains(t, "service status", status(t, box, "site.service"), "Active: active (running)", `Status: "serving /srv/site`)
		sockWantDynamicUser(t, box, pid)
		journal := waitJournal(t, box, "site.service", "Site starting on 80", "Site starting on 443",
			`"GET / HTTP/1.1" 200`, `"GET / HTTP/2.0" 200`, `"GET / HTTP/3.0" 200`)
		sockWantNoPanic(t, "journal of site.service", journal)
		sockWantSafe(t, box, "site.service")

		systemctl(t, box, "stop", "site.socket", "site.service")
		sockWantCleanStop(t, box, "site.service")
	})
}
