package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procTable remembers every process group the bench started, so that all of
// them die at the end, on an error and on Ctrl-C. Each group id is also
// appended to a file, so that ./bench/run's trap can kill what is left even
// if this program itself was killed with SIGKILL.
type procTable struct {
	mu    sync.Mutex
	procs map[int]*proc
	file  string
}

func newProcTable(file string) *procTable {
	return &procTable{procs: map[int]*proc{}, file: file}
}

func (t *procTable) add(p *proc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.procs[p.pgid] = p
	if t.file != "" {
		if f, err := os.OpenFile(t.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			fmt.Fprintln(f, p.pgid)
			f.Close()
		}
	}
}

func (t *procTable) remove(p *proc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.procs, p.pgid)
}

// killAll sends SIGKILL to every process group still known.
func (t *procTable) killAll() {
	t.mu.Lock()
	ps := make([]*proc, 0, len(t.procs))
	for _, p := range t.procs {
		ps = append(ps, p)
	}
	t.mu.Unlock()
	for _, p := range ps {
		_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	}
	for _, p := range ps {
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
		}
		t.remove(p)
	}
}

// proc is one started command, the leader of its own process group (nginx's
// and lighttpd's workers, and a server exec'd by systemd-socket-activate,
// stay in that group).
type proc struct {
	name    string
	cmd     *exec.Cmd
	pgid    int
	outPath string
	done    chan struct{}
	err     error // Wait's result, valid after done is closed
	table   *procTable
}

// startProc starts argv in its own process group with env added to the
// environment, its stdout and stderr going to outPath.
func (t *procTable) start(name string, argv []string, env []string, outPath string) (*proc, error) {
	out, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Dir = filepath.Dir(outPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, pgid: cmd.Process.Pid, outPath: outPath, done: make(chan struct{}), table: t}
	t.add(p)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the group leader has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the whole group to stop (SIGTERM), then kills it after grace.
func (p *proc) stop(grace time.Duration) {
	_ = syscall.Kill(-p.pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	// Workers may outlive their leader; the group must be empty either way.
	_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(groupPIDs(p.pgid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.table.remove(p)
}

// outputTail returns the last few lines the process printed.
func (p *proc) outputTail(lines int) string {
	b, err := os.ReadFile(p.outPath)
	if err != nil {
		return ""
	}
	b = bytes.TrimSpace(b)
	ls := strings.Split(string(b), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, " | ")
}

// groupPIDs lists the live processes of process group pgid.
func groupPIDs(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		pg, state, err := parseStatPgrp(string(b))
		if err != nil || pg != pgid || state == "Z" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// parseStatPgrp returns the process group and state from /proc/PID/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatPgrp(stat string) (pgrp int, state string, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, "", errors.New("no ')' in stat")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] state, f[1] ppid, f[2] pgrp
	if len(f) < 3 {
		return 0, "", errors.New("short stat")
	}
	pgrp, err = strconv.Atoi(f[2])
	return pgrp, f[0], err
}

// memUsage is the memory of a process group: the sum of its processes'
// resident set sizes, of their proportional set sizes (PSS shares pages
// that workers have in common, so it does not count them twice), and of
// their anonymous memory (heap, stacks, written data: what no file holds;
// the rest of RSS is pages of the executable and its files, mapped from
// the page cache).
type memUsage struct {
	RSS, PSS, Anon int64 // bytes
	Procs          int
}

func groupMem(pgid int) memUsage {
	var m memUsage
	page := int64(os.Getpagesize())
	for _, pid := range groupPIDs(pgid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		rss, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		m.RSS += rss * page
		m.Procs++
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
			pss, anon := parseSmapsRollup(string(b))
			m.PSS += pss
			m.Anon += anon
		}
	}
	return m
}

// parseSmapsRollup returns the Pss and Anonymous lines of smaps_rollup,
// in bytes; a line that is missing or unreadable counts 0.
func parseSmapsRollup(s string) (pss, anon int64) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Pss:":
			pss = kb * 1024
		case "Anonymous:":
			anon = kb * 1024
		}
	}
	return pss, anon
}
