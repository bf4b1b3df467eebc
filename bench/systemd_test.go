package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseCurlTimes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		out        string
		first, tot time.Duration
		err        string
	}{
		{"ok", "200 0.000120 0.021120 0.021300", 21 * time.Millisecond, 21180 * time.Microsecond, ""},
		{"trailing newline", "200 0.001 0.002 0.003\n", time.Millisecond, 2 * time.Millisecond, ""},
		{"not 200", "503 0.001 0.002 0.003", 0, 0, "response 503"},
		{"too few fields", "200 0.001 0.002", 0, 0, "want code and three times"},
		{"bad number", "200 0.001 x 0.003", 0, 0, `bad time "x"`},
		{"out of order", "200 0.002 0.001 0.003", 0, 0, "out of order"},
		{"empty", "", 0, 0, "want code and three times"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseCurlTimes(tc.out)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseCurlTimes(%q) = %v, %v; want error with %q", tc.out, r, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCurlTimes(%q): %v", tc.out, err)
			}
			near := func(a, b time.Duration) bool { d := a - b; return d < time.Microsecond && d > -time.Microsecond }
			if !near(r.FirstByte, tc.first) || !near(r.Total, tc.tot) {
				t.Fatalf("parseCurlTimes(%q) = %v, %v; want %v, %v", tc.out, r.FirstByte, r.Total, tc.first, tc.tot)
			}
		})
	}
}

// TestSystemdUnits: every server gets the seed's socket-activated pair, so
// that the floor and gotwistd pay for the same unit set-up.
func TestSystemdUnits(t *testing.T) {
	socket, service := systemdUnits(systemdServer{name: "gotwistd", exec: "/usr/local/bin/gotwistd --nodaemon"}, 20001)
	if socket != "[Socket]\nListenStream=127.0.0.1:20001\n" {
		t.Errorf("socket unit:\n%s", socket)
	}
	for _, want := range []string{"ExecStart=/usr/local/bin/gotwistd --nodaemon\n", "NonBlocking=true\n",
		"User=nobody\n", "Group=nogroup\n", "Restart=always\n", "WorkingDirectory=/srv/bench\n"} {
		if !strings.Contains(service, want) {
			t.Errorf("service unit lacks %q:\n%s", want, service)
		}
	}
}

func TestSystemdGoal(t *testing.T) {
	ms := func(v ...int) []systemdRun {
		var rs []systemdRun
		for _, x := range v {
			rs = append(rs, systemdRun{FirstByte: time.Duration(x) * time.Millisecond})
		}
		return rs
	}
	r := &results{systemd: map[string][]systemdRun{"gotwistd": ms(22, 20, 30), "rawaccept": ms(20, 19, 21)}}
	ratio, interval, ok := r.systemdGoal()
	if !ok || ratio < 1.099 || ratio > 1.101 {
		t.Errorf("systemdGoal = %v, %v; want 1.10 (median 22 over median 20)", ratio, ok)
	}
	// Three runs each: the medians can be drawn from 20-30 and 19-21.
	if lo, hi := ratioInterval([]float64{22, 20, 30}, []float64{20, 19, 21}); interval != fmt.Sprintf("%.2f–%.2f×", lo, hi) || lo > 1.0 || hi < 1.4 {
		t.Errorf("systemdGoal's interval %q (%.2f-%.2f), want one from below 1.0 to above 1.4", interval, lo, hi)
	}
	delete(r.systemd, "rawaccept")
	if _, _, ok := r.systemdGoal(); ok {
		t.Error("systemdGoal without the floor: want not ok")
	}
}

// TestSystemdServersBaseline: --baseline adds gotwistd@REV to the case,
// with its own binary and units whose name is not a template instance
// (systemd reads "bench-gotwistd@REV" as an instance of bench-gotwistd@).
func TestSystemdServersBaseline(t *testing.T) {
	b := &bench{cfg: &config{gotwistd: "/tmp/new/gotwistd", baselineBin: "/tmp/old/gotwistd", baselineRev: "4b2cce7"}}
	ss := b.systemdServers()
	byName := map[string]systemdServer{}
	for _, s := range ss {
		byName[s.name] = s
		if strings.Contains(s.unit, "@") || !strings.HasPrefix(s.unit, "bench-") {
			t.Errorf("%s: unit name %q", s.name, s.unit)
		}
	}
	cur, base := byName["gotwistd"], byName["gotwistd@4b2cce7"]
	if cur.host != "/tmp/new/gotwistd" || base.host != "/tmp/old/gotwistd" {
		t.Fatalf("binaries: gotwistd %q, baseline %q", cur.host, base.host)
	}
	if cur.unit == base.unit || strings.Fields(cur.exec)[0] == strings.Fields(base.exec)[0] {
		t.Errorf("baseline shares units or binary path with gotwistd: %+v %+v", cur, base)
	}
	if strings.TrimPrefix(cur.exec, strings.Fields(cur.exec)[0]) != strings.TrimPrefix(base.exec, strings.Fields(base.exec)[0]) {
		t.Errorf("baseline runs other arguments:\n%s\n%s", cur.exec, base.exec)
	}
	if rows := b.systemdRows(); len(rows) < 2 || rows[1] != "gotwistd@4b2cce7" {
		t.Errorf("report rows %v: want the baseline right after gotwistd", rows)
	}
}
