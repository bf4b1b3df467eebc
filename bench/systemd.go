package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/test/e2e"
)

// The cold-activation case under a real systemd: the e2e suite's box (a
// systemd 252 as PID 1 of its own namespaces, over an overlay of this
// machine's root), the seed's socket-activated unit pair for each server
// (ListenStream=, NonBlocking=true, User=nobody, Restart=always), the
// service stopped before each run so that the next connection starts it.
// What systemd does per start (fork from PID 1, cgroup, credentials, the
// unit's set-up) is in every number; rawaccept, timed in the same rounds,
// is the floor under gotwistd's.

// systemdRun is one cold start under the real systemd.
type systemdRun struct {
	FirstByte time.Duration // connect -> first byte of the response (curl's starttransfer - connect)
	Total     time.Duration // connect -> whole response
}

// systemdServer is one server of the case: a name and the ExecStart= of
// its socket-activated service, with the binary copied into the box.
type systemdServer struct {
	name, host, exec string // name, binary on the host ("" if installed), ExecStart= line
	unit             string // the units' name without .socket/.service: bench-NAME, with no '@'
}

// systemdServers lists the servers the case starts: gotwistd and twistd3
// with the seed's command line, and the yardsticks.
func (b *bench) systemdServers() []systemdServer {
	const args = " --nodaemon --pidfile= web --listen systemd:domain=INET:index=0 --path /srv/bench"
	var ss []systemdServer
	if b.cfg.gotwistd != "" && b.cfg.wantServer("gotwistd") {
		ss = append(ss, systemdServer{"gotwistd", b.cfg.gotwistd, "/usr/local/bin/gotwistd" + args, "bench-gotwistd"})
	}
	if b.cfg.baselineBin != "" && b.cfg.wantServer("gotwistd") {
		// A unit named bench-gotwistd@REV would be an instance of a
		// template: the baseline's units are bench-baseline.
		ss = append(ss, systemdServer{"gotwistd@" + b.cfg.baselineRev, b.cfg.baselineBin, "/usr/local/bin/gotwistd-baseline" + args, "bench-baseline"})
	}
	if b.cfg.wantServer("twistd3") {
		if _, err := os.Stat("/usr/bin/twistd3"); err == nil {
			ss = append(ss, systemdServer{"twistd3", "", "/usr/bin/twistd3" + args, "bench-twistd3"})
		}
	}
	if b.cfg.yardsticks != "" && b.cfg.wantServer("gotwistd") {
		for _, y := range yardstickNames {
			bin := filepath.Join(b.cfg.yardsticks, y)
			if _, err := os.Stat(bin); err == nil {
				ss = append(ss, systemdServer{y, bin, "/usr/local/bin/" + y + " /srv/bench/" + smallName, "bench-" + y})
			}
		}
	}
	return ss
}

// systemdUnits returns the socket and service units of s on port.
func systemdUnits(s systemdServer, port int) (socket, service string) {
	socket = fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\n", port)
	service = "[Unit]\nDescription=bench " + s.name + "\n\n[Service]\nExecStart=" + s.exec +
		"\nNonBlocking=true\nWorkingDirectory=/srv/bench\nUser=nobody\nGroup=nogroup\nRestart=always\n"
	return socket, service
}

// runSystemdActivation measures the case; it is skipped (and says why)
// unless run as root on a machine that can boot the box.
func (b *bench) runSystemdActivation(ctx context.Context) error {
	ss := b.systemdServers()
	if len(ss) == 0 {
		b.say("systemd activation: skipped (no server to time)")
		return nil
	}
	if os.Geteuid() != 0 {
		b.res.systemdErr = "needs root, to boot a systemd in namespaces"
		b.say("systemd activation: skipped (%s)", b.res.systemdErr)
		return nil
	}
	b.say("\n== cold socket activation under a real systemd (the e2e box), connect -> first byte, %d runs each", b.cfg.systemdRuns)
	box, err := e2e.Boot(e2e.Config{})
	if err != nil {
		b.res.systemdErr = err.Error()
		b.say("  failed: %v", err)
		return nil
	}
	defer box.Close()
	b.res.systemdVersion = firstLineOf(box.Run("systemctl", "--version"))
	if err := box.WriteFile("/srv/bench/"+smallName, smallPage(), 0o644); err != nil {
		return err
	}
	for i, s := range ss {
		if s.host != "" {
			if err := box.CopyFile(s.host, strings.Fields(s.exec)[0], 0o755); err != nil {
				return err
			}
		}
		socket, service := systemdUnits(s, 20000+i)
		if err := box.WriteFile("/etc/systemd/system/"+s.unit+".socket", []byte(socket), 0o644); err != nil {
			return err
		}
		if err := box.WriteFile("/etc/systemd/system/"+s.unit+".service", []byte(service), 0o644); err != nil {
			return err
		}
		b.res.systemdUnits = append(b.res.systemdUnits, service)
	}
	if out, err := box.Systemctl("daemon-reload"); err != nil {
		return fmt.Errorf("systemd activation: daemon-reload: %v: %s", err, out)
	}
	for _, s := range ss {
		if out, err := box.Systemctl("start", s.unit+".socket"); err != nil {
			b.res.systemdFail[s.name] = strings.TrimSpace(out)
		}
	}
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.name
	}
	return b.interleave(ctx, b.cfg.systemdRuns, names, b.res.systemdFail, func(_, i int) (string, error) {
		r, err := coldStart(box, ss[i].unit+".service", 20000+i)
		if err != nil {
			return "", err
		}
		b.res.systemd[ss[i].name] = append(b.res.systemd[ss[i].name], r)
		return fmt.Sprintf("first byte %s, whole response %s", fmtMs(r.FirstByte), fmtMs(r.Total)), nil
	})
}

// coldStart stops service (its socket stays, listening), waits until it
// is inactive, and times one request from inside the box with curl, which
// starts it again.
func coldStart(box *e2e.Box, service string, port int) (systemdRun, error) {
	var r systemdRun
	if out, err := box.Systemctl("stop", service); err != nil {
		return r, fmt.Errorf("stop %s: %v: %s", service, err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, _ := box.Systemctl("is-active", service)
		if s := strings.TrimSpace(out); s == "inactive" || s == "failed" {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%s still %s 10 s after stop", service, strings.TrimSpace(out))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Ten starts in a few seconds would hit the unit's start limit
	// (StartLimitBurst=5 in 10 s by default) and systemd would refuse the
	// next connection: reset-failed clears the count, the unit stays the
	// seed's.
	if out, err := box.Systemctl("reset-failed", service); err != nil {
		return r, fmt.Errorf("reset-failed %s: %v: %s", service, err, out)
	}
	out, err := box.Run("curl", "-sS", "-o", "/dev/null", "--max-time", "20",
		"-w", "%{http_code} %{time_connect} %{time_starttransfer} %{time_total}",
		fmt.Sprintf("http://127.0.0.1:%d/%s", port, smallName))
	if err != nil {
		return r, fmt.Errorf("curl: %v: %s", err, strings.TrimSpace(out))
	}
	return parseCurlTimes(out)
}

// parseCurlTimes reads curl's "-w '%{http_code} %{time_connect}
// %{time_starttransfer} %{time_total}'" line (seconds) into a run.
func parseCurlTimes(out string) (systemdRun, error) {
	var r systemdRun
	f := strings.Fields(out)
	if len(f) != 4 {
		return r, fmt.Errorf("curl printed %q, want code and three times", strings.TrimSpace(out))
	}
	if f[0] != "200" {
		return r, fmt.Errorf("response %s", f[0])
	}
	var t [3]float64
	for i := range t {
		v, err := strconv.ParseFloat(f[i+1], 64)
		if err != nil || v < 0 {
			return r, fmt.Errorf("curl printed %q: bad time %q", strings.TrimSpace(out), f[i+1])
		}
		t[i] = v
	}
	if t[1] < t[0] || t[2] < t[1] {
		return r, fmt.Errorf("curl printed %q: times out of order", strings.TrimSpace(out))
	}
	sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
	r.FirstByte, r.Total = sec(t[1]-t[0]), sec(t[2]-t[0])
	return r, nil
}

// firstLineOf is the first line of a command's output, "" on error.
func firstLineOf(out string, err error) string {
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return line
}

// writeSystemdActivation writes the case's section.
func (b *bench) writeSystemdActivation(w func(string, ...any)) {
	r := b.res
	w("## Cold socket activation under a real systemd: connect → first byte")
	w("")
	w("The end-to-end suite's box: %s as PID 1 of its own namespaces over an overlay of this", orUnknown(r.systemdVersion))
	w("machine's root. Each server has the seed's socket-activated pair (`ListenStream=127.0.0.1:PORT`;")
	w("`NonBlocking=true`, `User=nobody`, `Group=nogroup`, `Restart=always`); before each run its")
	w("service is stopped (the socket stays), then curl in the box connects, fetches the 160-byte page,")
	w("and its connect → first byte is timed. Everything systemd does per start is in every number, so")
	w("the ratio to *rawaccept* (the least a Go program can do, same unit, same rounds) is the measure.")
	w("Median (min – max) in ms.")
	w("")
	if r.systemdErr != "" {
		w("Not measured: %s.", mdEscape(r.systemdErr))
		w("")
		return
	}
	floorRuns := durs(pick(r.systemd["rawaccept"], func(a systemdRun) time.Duration { return a.FirstByte }))
	floor := median(floorRuns)
	w("| server | connect → first byte | connect → whole response | × rawaccept | 95%% interval of the ratio | runs |")
	w("|---|---:|---:|---:|---:|---:|")
	for _, name := range b.systemdRows() {
		runs := r.systemd[name]
		label := name
		if contains(yardstickNames, name) {
			label = "*" + name + "* (yardstick)"
		}
		if len(runs) == 0 {
			if msg, failed := r.systemdFail[name]; failed {
				w("| %s | failed: %s | | | | |", label, mdEscape(shorten(msg, 160)))
			}
			continue
		}
		fb := durs(pick(runs, func(a systemdRun) time.Duration { return a.FirstByte }))
		tot := durs(pick(runs, func(a systemdRun) time.Duration { return a.Total }))
		w("| %s | %s | %s | %s | %s | %d |", label, fmtMedRange(fb), fmtMedRange(tot), fmtRatio(median(fb), floor), fmtInterval(fb, floorRuns), len(runs))
	}
	w("")
	w("The interval: a bootstrap of both medians (ratioInterval), how far the ratio could move by")
	w("chance alone with starts spread this widely; a goal is met beyond the noise only when the")
	w("whole interval is within it.")
	w("")
	for _, name := range b.systemdRows() {
		if msg, failed := r.systemdFail[name]; failed && len(r.systemd[name]) > 0 {
			w("- %s stopped after %d runs: %s", name, len(r.systemd[name]), mdEscape(shorten(msg, 200)))
		}
	}
	w("")
	if len(r.systemdUnits) > 0 {
		w("gotwistd's service unit (the others differ only in ExecStart=):")
		w("")
		w("```ini")
		for _, line := range strings.Split(strings.TrimSpace(r.systemdUnits[0]), "\n") {
			w("%s", line)
		}
		w("```")
		w("")
	}
}

// fmtInterval is ratioInterval(a, b) as "1.10–1.18×", or "" without runs.
func fmtInterval(a, b []float64) string {
	lo, hi := ratioInterval(a, b)
	if math.IsNaN(lo) {
		return ""
	}
	return fmt.Sprintf("%.2f–%.2f×", lo, hi)
}

// systemdRows names the servers of the case's table, in its order.
func (b *bench) systemdRows() []string {
	rows := []string{"gotwistd"}
	if b.cfg.baselineBin != "" {
		rows = append(rows, "gotwistd@"+b.cfg.baselineRev)
	}
	return append(append(rows, "twistd3"), yardstickNames...)
}

// systemdGoal is the goal for the case: gotwistd's median at most
// 1.1x rawaccept's; ok is false when either was not measured.
// The interval is ratioInterval's for that ratio.
func (r *results) systemdGoal() (ratio float64, interval string, ok bool) {
	g, f := r.systemd["gotwistd"], r.systemd["rawaccept"]
	if len(g) == 0 || len(f) == 0 {
		return 0, "", false
	}
	first := func(a systemdRun) time.Duration { return a.FirstByte }
	gs, fs := durs(pick(g, first)), durs(pick(f, first))
	return median(gs) / median(fs), fmtInterval(gs, fs), true
}

// orUnknown is s, or "an unknown systemd" when empty.
func orUnknown(s string) string {
	if s == "" {
		return "an unknown systemd"
	}
	return s
}
