//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/internal/loadgen"
)

// The markers around the restart figures in docs/reliability.md: the text
// between them is written by TestRestarts (GOTWISTD_RELIABILITY_DOC).
const (
	restartDocBegin = "<!-- restarts:begin (written by scripts/reliability: do not edit by hand) -->"
	restartDocEnd   = "<!-- restarts:end -->"
)

// restartWriteDoc replaces the restart figures in the document at path.
func restartWriteDoc(path string, figures []restartFigure, servers []restartServer) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("restart figures: %w", err)
	}
	before, rest, ok := bytes.Cut(doc, []byte(restartDocBegin))
	_, after, ok2 := bytes.Cut(rest, []byte(restartDocEnd))
	if !ok || !ok2 {
		return fmt.Errorf("restart figures: %s has no %q ... %q section to fill", path, restartDocBegin, restartDocEnd)
	}
	var out bytes.Buffer
	out.Write(before)
	out.WriteString(restartDocBegin + "\n")
	out.WriteString(restartTable(figures, servers, time.Now().UTC(), restartMachine()))
	out.WriteString(restartDocEnd)
	out.Write(after)
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// restartTable renders the figures: one row a scenario, a column pair
// (requests, failed) a server, then the details.
func restartTable(figures []restartFigure, servers []restartServer, date time.Time, machine string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s, %d clients per run, on the box's loopback.\n\n",
		date.Format("2006-01-02 15:04 UTC"), machine, restartClients)
	b.WriteString("| scenario |")
	for _, s := range servers {
		fmt.Fprintf(&b, " %s: requests | %s: failed |", s.name, s.name)
	}
	b.WriteString("\n|---|")
	for range servers {
		b.WriteString("---:|---:|")
	}
	b.WriteString("\n")
	for _, sc := range restartScenarios() {
		fmt.Fprintf(&b, "| %s |", sc)
		for _, s := range servers {
			f := restartFind(figures, sc, s.name)
			if f == nil {
				b.WriteString(" – | – |")
				continue
			}
			fmt.Fprintf(&b, " %s | %s |", restartThousands(f.res.Requests), restartFailed(f.res))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nDetails (connections handed over through the FD store / adopted by the next instance, the slowest answered request, the first error of each kind):\n\n")
	for _, f := range figures {
		fmt.Fprintf(&b, "- %s, %s: %s", f.server, f.scenario, f.res)
		if f.handed > 0 || f.adopted > 0 {
			fmt.Fprintf(&b, "; %d connections handed over, %d adopted", f.handed, f.adopted)
		}
		b.WriteString(".\n")
		for _, e := range f.res.Errors() {
			fmt.Fprintf(&b, "  - `%s`\n", strings.ReplaceAll(e, "`", "'"))
		}
	}
	return b.String()
}

func restartFind(figures []restartFigure, sc restartScenario, server string) *restartFigure {
	for i := range figures {
		if figures[i].scenario == sc && figures[i].server == server {
			return &figures[i]
		}
	}
	return nil
}

// restartFailed is "0", or "12 (reset 10, eof 2)".
func restartFailed(r *loadgen.Result) string {
	n := r.Failures()
	if n == 0 {
		return "**0**"
	}
	var parts []string
	for _, c := range loadgen.Causes() {
		if r.Failed[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, r.Failed[c]))
		}
	}
	return fmt.Sprintf("%s (%s)", restartThousands(n), strings.Join(parts, ", "))
}

// restartThousands writes n with thin separators: 1,234,567.
func restartThousands(n int64) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

// restartMachine describes this machine in one line: CPU, cores, memory,
// kernel, systemd, Go, twistd3.
func restartMachine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %d GiB", (kb+512*1024)/(1024*1024))
		}
	}
	first := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return name + " ?"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	kernel := first("uname", "-r")
	systemd := first("systemctl", "--version")
	if f := strings.Fields(systemd); len(f) >= 2 {
		systemd = f[0] + " " + f[1]
	}
	twistd := first("twistd3", "--version")
	return fmt.Sprintf("%s × %d%s, Linux %s, %s, %s, %s", cpu, runtime.NumCPU(), mem, kernel, systemd, runtime.Version(), twistd)
}
