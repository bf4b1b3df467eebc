//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/loadgen"
)

// Restarts under load. A socket-activated server (the tutorial's
// www.example.com.socket and .service, with the drop-in
// testdata/restart_gotwistd.conf: an FD store for the handover and an
// ExecReload=) serves the tutorial's page to a load generator running in
// the box's network namespace, on its loopback, while the test restarts,
// kills or reloads it. Every request is sent once and counted: a failure
// is never retried.
//
// `go test ./test/e2e` runs the short version (a few seconds a scenario,
// gotwistd only). With GOTWISTD_RELIABILITY=full it runs the long one
// (20 restarts in 60 s, ...) for gotwistd and for twistd3, the comparison;
// scripts/reliability does that, and with GOTWISTD_RELIABILITY_DOC=FILE
// the figures replace the restart table of that file.

// restartClients is how many clients each load generator runs.
const restartClients = 8

// restartAction is what a scenario does to the running service.
type restartAction string

const (
	restartRestart restartAction = "restart" // systemctl restart
	restartKill    restartAction = "kill"    // kill -9 of the main process; Restart=always
	restartReload  restartAction = "reload"  // systemctl reload: ExecReload=kill -HUP $MAINPID
)

// restartScenario is one run of the load generator with count actions
// spread over a period.
type restartScenario struct {
	action restartAction
	mode   loadgen.Mode
	count  int
	over   time.Duration
}

func (s restartScenario) String() string {
	what := map[restartAction]string{
		restartRestart: "`systemctl restart`",
		restartKill:    "`kill -9` of the main process",
		restartReload:  "`systemctl reload` (SIGHUP)",
	}[s.action]
	how := map[loadgen.Mode]string{
		loadgen.PerRequest: "a connection per request",
		loadgen.KeepAlive:  "keep-alive connections",
	}[s.mode]
	return fmt.Sprintf("%d × %s in %v, %s", s.count, what, s.over, how)
}

// name is the scenario's subtest name.
func (s restartScenario) name() string { return string(s.action) + "/" + s.mode.String() }

// restartScenarios returns the scenarios of this run: short ones for CI,
// the figures with GOTWISTD_RELIABILITY=full.
func restartScenarios() []restartScenario {
	if restartFull() {
		return []restartScenario{
			{restartRestart, loadgen.PerRequest, 20, 60 * time.Second},
			{restartRestart, loadgen.KeepAlive, 20, 60 * time.Second},
			{restartKill, loadgen.PerRequest, 3, 15 * time.Second},
			{restartKill, loadgen.KeepAlive, 3, 15 * time.Second},
			{restartReload, loadgen.PerRequest, 20, 20 * time.Second},
			{restartReload, loadgen.KeepAlive, 20, 20 * time.Second},
		}
	}
	return []restartScenario{
		{restartRestart, loadgen.PerRequest, 5, 5 * time.Second},
		{restartRestart, loadgen.KeepAlive, 5, 5 * time.Second},
		{restartKill, loadgen.PerRequest, 1, time.Second},
		{restartReload, loadgen.KeepAlive, 3, 1500 * time.Millisecond},
	}
}

func restartFull() bool { return os.Getenv("GOTWISTD_RELIABILITY") == "full" }

// restartServer is a server under test: its name and the drop-in that
// makes the tutorial's socket-activated service run it.
type restartServer struct {
	name   string
	dropIn string
	comm   string // the main process's name, as `systemctl status` shows it
}

var (
	restartGotwistd = restartServer{"gotwistd", "testdata/restart_gotwistd.conf", "gotwistd"}
	restartTwistd   = restartServer{"twistd3", "testdata/restart_twistd.conf", "twistd3"}
)

// restartFigure is the outcome of one scenario on one server.
type restartFigure struct {
	scenario restartScenario
	server   string
	res      *loadgen.Result
	pids     int    // distinct main pids seen
	handed   int    // connections parked ("Handed N idle connections")
	adopted  int    // connections adopted ("Adopted N connections")
	journal  string // the scenario's journal, without access lines
}

// TestRestarts checks the promise under a real systemd: restarts
// and reloads under load lose no request, with a connection per request and
// with keep-alive connections (handed over through the FD store), and after
// a kill -9 every new connection is still answered.
func TestRestarts(t *testing.T) {
	t.Parallel()
	SkipUnlessRoot(t)
	servers := []restartServer{restartGotwistd}
	if restartFull() {
		servers = append(servers, restartTwistd)
	}
	var figures []restartFigure
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			figures = append(figures, restartSuite(t, srv)...)
		})
	}
	if doc := os.Getenv("GOTWISTD_RELIABILITY_DOC"); doc != "" && !t.Failed() {
		if err := restartWriteDoc(doc, figures, servers); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote the figures to %s", doc)
	}
}

// restartSuite boots a box with srv behind the tutorial's socket and runs
// every scenario on it, one after the other.
func restartSuite(t *testing.T, srv restartServer) []restartFigure {
	box, page := tutorialBox(t)
	// Every access line reaches the journal, and with them the
	// handover's lines the test counts: no rate limit (journald's
	// default drops a service's lines past 10000 in 30 s, and the unit's
	// LogRateLimitIntervalSec=0 does not take effect in the box).
	must(t, box.WriteFile("/etc/systemd/journald.conf.d/restart.conf", []byte("[Journal]\nRateLimitIntervalSec=0\n"), 0o644))
	systemctl(t, box, "restart", "systemd-journald")
	install(t, box, repoFile("deploy/systemd/www.example.com.socket"), socketFile)
	install(t, box, repoFile("deploy/systemd/www.example.com.socketactivated.service"), serviceFile)
	install(t, box, srv.dropIn, "/etc/systemd/system/www.example.com.service.d/restart.conf")
	systemctl(t, box, "daemon-reload")
	systemctl(t, box, "start", socket)
	if body := eventuallyCurl(t, box, "http://127.0.0.1/"); body != string(page) {
		t.Fatalf("curl http://127.0.0.1/ = %q, want the page", body)
	}
	if srv == restartGotwistd {
		// The handover is on: FileDescriptorStoreMax= and $FDSTORE.
		if v, _ := box.Show(service, "FileDescriptorStoreMax"); v != "4096" {
			t.Fatalf("FileDescriptorStoreMax=%s, want the drop-in's 4096", v)
		}
	}
	var figures []restartFigure
	for _, sc := range restartScenarios() {
		ok := t.Run(sc.name(), func(t *testing.T) {
			f := restartRun(t, box, srv, sc, page)
			figures = append(figures, f)
			t.Logf("%s: %v; %d pids, %d connections handed over, %d adopted", sc, f.res, f.pids, f.handed, f.adopted)
			for _, e := range f.res.Errors() {
				t.Logf("  %s", e)
			}
			if srv == restartGotwistd {
				restartCheck(t, f)
			}
			if t.Failed() {
				t.Logf("first failure of each kind at: %s\njournal:\n%s", restartFirstAt(f.res), f.journal)
			}
		})
		if !ok && srv == restartGotwistd && !restartFull() {
			break
		}
	}
	return figures
}

// restartCheck asserts what gotwistd promises for a scenario.
func restartCheck(t *testing.T, f restartFigure) {
	t.Helper()
	sc, res := f.scenario, f.res
	switch sc.action {
	case restartRestart, restartReload:
		if res.Failures() != 0 {
			t.Errorf("%s: %d of %d requests failed, want none\n%s", sc, res.Failures(), res.Requests, strings.Join(res.Errors(), "\n"))
		}
	case restartKill:
		// The requests in flight when the process dies may fail (at
		// most one per client and kill), as a reset or an early end of
		// the connection; every other one, new connections included,
		// is answered: none is refused, none times out.
		limit := int64(restartClients * sc.count)
		bad := res.Failed[loadgen.Refused] + res.Failed[loadgen.Timeout] + res.Failed[loadgen.BadStatus] +
			res.Failed[loadgen.BadBody] + res.Failed[loadgen.Local] + res.Failed[loadgen.Other]
		if res.Failures() > limit || bad != 0 {
			t.Errorf("%s: %v; want at most %d failures (the requests in flight), none refused or timed out\n%s",
				sc, res, limit, strings.Join(res.Errors(), "\n"))
		}
	}
	wantPIDs := sc.count + 1
	if sc.action == restartReload {
		wantPIDs = 1
	}
	if f.pids != wantPIDs {
		t.Errorf("%s: %d distinct main pids, want %d", sc, f.pids, wantPIDs)
	}
	if sc.action == restartRestart && sc.mode == loadgen.KeepAlive && (f.handed == 0 || f.adopted == 0) {
		t.Errorf("%s: %d connections handed over, %d adopted; want the keep-alive connections parked in the FD store and adopted", sc, f.handed, f.adopted)
	}
}

// restartRun runs one scenario: load starts, the actions happen evenly
// over the period once requests flow, and the load stops once the last
// instance has answered requests too.
func restartRun(t *testing.T, box *Box, srv restartServer, sc restartScenario, page []byte) restartFigure {
	t.Helper()
	journalFrom := restartJournalCursor(t, box)
	live := &loadgen.Live{}
	ctx, cancel := context.WithCancel(context.Background())
	type outcome struct {
		res *loadgen.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := loadgen.Run(ctx, loadgen.Config{
			URL:     "http://127.0.0.1:80/",
			Mode:    sc.mode,
			Clients: restartClients,
			// Bounds in case the test stops early: the run ends on
			// cancel, well before these.
			Duration:    sc.over + 60*time.Second,
			MaxRequests: 20_000_000,
			Timeout:     10 * time.Second,
			Body:        page,
			Live:        live,
			Netns:       fmt.Sprintf("/proc/%d/ns/net", box.PID()),
		})
		done <- outcome{res, err}
	}()
	stop := func() *loadgen.Result {
		cancel()
		o := <-done
		if o.err != nil {
			t.Fatalf("load generator: %v", o.err)
		}
		return o.res
	}
	defer func() {
		if ctx.Err() == nil { // a t.Fatal below
			cancel()
			<-done
		}
	}()

	progress := func(from int64) error {
		return eventually(20*time.Second, func() error {
			if n := live.OK.Load(); n < from+restartClients {
				return fmt.Errorf("%d requests answered (%d failed), want %d", n, live.Failed.Load(), from+restartClients)
			}
			return nil
		})
	}
	if err := progress(0); err != nil {
		t.Fatalf("load before the first %s: %v", sc.action, err)
	}
	pids := []int{mainPID(t, box, service)} // each instance, in order
	begin := time.Now()
	for i := range sc.count {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * sc.over / time.Duration(sc.count))))
		if pid := restartAct(t, box, sc.action); pid != pids[len(pids)-1] {
			pids = append(pids, pid)
		}
	}
	// The last instance answers requests too.
	if err := progress(live.OK.Load()); err != nil {
		t.Errorf("load after the last %s: %v", sc.action, err)
	}
	res := stop()
	f := restartFigure{scenario: sc, server: srv.name, res: res, pids: len(pids)}
	// The instances' last lines may still be on their way to the journal
	// (journald reads their standard output as it can): wait for each
	// stopped gotwistd's last line and an answer logged by the last one.
	var journal string
	err := eventually(20*time.Second, func() error {
		var err error
		journal, err = box.Run("journalctl", "--no-pager", "-o", "short-precise", "--after-cursor", journalFrom)
		if err != nil || srv != restartGotwistd {
			return err
		}
		for i, pid := range pids {
			want := "Server Shut Down."
			if i == len(pids)-1 {
				want = "AccessLog#info"
			} else if sc.action == restartKill {
				continue // killed: it wrote no last line
			}
			if !strings.Contains(journal, fmt.Sprintf("[%d]: ", pid)) || !restartHas(journal, pid, want) {
				return fmt.Errorf("no %q from pid %d yet", want, pid)
			}
		}
		return nil
	})
	if err != nil {
		t.Logf("journal incomplete, the counts of connections handed over may be low: %v", err)
	}
	if journal != "" {
		// Count each instance's own lines: those that stopped hand
		// connections over, those that started adopt them.
		f.handed = restartSum(journal, "Handed ", pids[:len(pids)-1])
		f.adopted = restartSum(journal, "Adopted ", pids[1:])
		var keep []string
		for _, line := range strings.Split(journal, "\n") {
			if !strings.Contains(line, "AccessLog#info") {
				keep = append(keep, line)
			}
		}
		f.journal = strings.Join(keep, "\n")
	}
	return f
}

// restartAct does the action once and returns the main pid that serves
// after it.
func restartAct(t *testing.T, box *Box, action restartAction) int {
	t.Helper()
	old := mainPID(t, box, service)
	switch action {
	case restartRestart:
		systemctl(t, box, "restart", service)
	case restartReload:
		systemctl(t, box, "reload", service)
	case restartKill:
		if _, err := box.Run("kill", "-9", strconv.Itoa(old)); err != nil {
			t.Fatalf("kill -9 %d: %v", old, err)
		}
	}
	var pid int
	err := eventually(20*time.Second, func() error {
		var err error
		if pid, err = box.MainPID(service); err != nil {
			return err
		}
		state, err := box.Show(service, "SubState")
		if err != nil {
			return err
		}
		if pid == 0 || state != "running" || (action != restartReload && pid == old) {
			return fmt.Errorf("main pid %d (was %d), state %s", pid, old, state)
		}
		return nil
	})
	if err != nil {
		st, _ := box.Status(service)
		t.Fatalf("after %s: %v\n%s", action, err, st)
	}
	return pid
}

// restartJournalCursor returns the journal's current cursor, so that a
// scenario reads only its own lines.
func restartJournalCursor(t *testing.T, box *Box) string {
	t.Helper()
	out, err := box.Run("journalctl", "--no-pager", "-n", "0", "--show-cursor")
	must(t, err)
	_, cursor, ok := strings.Cut(out, "-- cursor: ")
	if !ok {
		t.Fatalf("journalctl --show-cursor: no cursor in %q", out)
	}
	return strings.TrimSpace(cursor)
}

// restartFirstAt lists when the first failure of each kind happened.
func restartFirstAt(r *loadgen.Result) string {
	var out []string
	for _, c := range loadgen.Causes() {
		if !r.FirstAt[c].IsZero() {
			out = append(out, fmt.Sprintf("%s %s", c, r.FirstAt[c].UTC().Format("15:04:05.000000")))
		}
	}
	return strings.Join(out, ", ")
}

// restartHas says whether the journal has a line of process pid holding s.
func restartHas(journal string, pid int, s string) bool {
	tag := fmt.Sprintf("[%d]: ", pid)
	for _, line := range strings.Split(journal, "\n") {
		if strings.Contains(line, tag) && strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// restartSum adds up N over the journal lines of the processes pids
// (short-precise format: "... gotwistd[PID]: ...") that hold prefix
// followed by a number: "Handed 8 idle connections ...".
func restartSum(journal, prefix string, pids []int) int {
	sum := 0
	for _, line := range strings.Split(journal, "\n") {
		mine := false
		for _, pid := range pids {
			if strings.Contains(line, fmt.Sprintf("[%d]: ", pid)) {
				mine = true
				break
			}
		}
		_, rest, ok := strings.Cut(line, prefix)
		if !mine || !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, " ")
		if n, err := strconv.Atoi(num); err == nil {
			sum += n
		}
	}
	return sum
}
