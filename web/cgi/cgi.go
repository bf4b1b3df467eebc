//go:build unix

package cgi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotwistd/gotwistd/web/static"
)

// Defaults of Config.
const (
	// DefaultTimeout is how long a script may run.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxBody is the largest request body passed to a script.
	DefaultMaxBody = 10 << 20
	// DefaultMaxProcs is how many scripts may run at once.
	DefaultMaxProcs = 100
)

const (
	// memBody: bodies up to this size stay in memory; larger ones go to
	// an unlinked temporary file that becomes the script's stdin.
	memBody = 64 << 10
	// exitGrace is how long output is still awaited after the script
	// exited and its process group was killed: only a child that left
	// the group (setsid) can keep the pipes open that long.
	exitGrace = time.Second
	// maxRedirects bounds chained local redirects.
	maxRedirects = 4
	// chunk is the size of the reads that stream a script's output.
	chunk = 32 << 10
)

// Config describes how scripts run. The zero value of every field is a
// sensible default.
type Config struct {
	// Timeout is how long a script may run, from its start to its exit;
	// then its process group is killed: 504 before its headers, a cut
	// response after. 0: no limit (a script still dies with its
	// request).
	Timeout time.Duration
	// MaxBody is the largest request body accepted (413 beyond).
	// Default (0) DefaultMaxBody.
	MaxBody int64
	// ServerSoftware is SERVER_SOFTWARE. Default "gotwistd".
	ServerSoftware string
	// MaxProcs is how many scripts may run at once; a request for one
	// more is answered 503 (with Retry-After) without running it. Default
	// (0) DefaultMaxProcs.
	MaxProcs int
	// Log receives the scripts' stderr (line by line, bounded) and every
	// failure. Default: discarded.
	Log *slog.Logger
}

// Runner runs CGI scripts for a static.Handler (static.Config.CGI); see the
// package documentation. It is safe for concurrent use.
type Runner struct {
	timeout  time.Duration
	maxBody  int64
	software string
	log      *slog.Logger
	rootLog  atomic.Bool   // the refusal to run as root was logged
	slots    chan struct{} // one per running script
	busyLog  atomic.Int64  // when a 503 for MaxProcs was last logged (Unix seconds)
}

var _ static.ScriptRunner = (*Runner)(nil)

// New returns a Runner for cfg.
func New(cfg Config) *Runner {
	r := &Runner{timeout: cfg.Timeout, maxBody: cfg.MaxBody, software: cfg.ServerSoftware, log: cfg.Log}
	if r.maxBody <= 0 {
		r.maxBody = DefaultMaxBody
	}
	if cfg.MaxProcs <= 0 {
		cfg.MaxProcs = DefaultMaxProcs
	}
	r.slots = make(chan struct{}, cfg.MaxProcs)
	if r.software == "" {
		r.software = "gotwistd"
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Pages in twistd's style (twisted.web.resource.ErrorPage).
func page(code int, title, text string) string {
	return "\n<html>\n  <head><title>" + strconv.Itoa(code) + " - " + title + "</title></head>\n  <body>\n" +
		"    <h1>" + title + "</h1>\n    <p>" + text + "</p>\n  </body>\n</html>\n"
}

var (
	badGatewayPage     = page(http.StatusBadGateway, "Bad Gateway", "The CGI script failed.")
	gatewayTimeoutPage = page(http.StatusGatewayTimeout, "Gateway Timeout", "The CGI script took too long.")
	internalErrorPage  = page(http.StatusInternalServerError, "Internal Server Error", "The CGI script could not be run.")
	tooLargePage       = page(http.StatusRequestEntityTooLarge, "Request Entity Too Large", "The request body is too large.")
	badRequestPage     = page(http.StatusBadRequest, "Bad Request", "The request body could not be read.")
	busyPage           = page(http.StatusServiceUnavailable, "Service Unavailable", "Too many CGI scripts are running; try again.")
)

// writePage writes an error page, replacing whatever headers a script set.
func writePage(w http.ResponseWriter, r *http.Request, code int, body string) {
	h := w.Header()
	h["Content-Type"] = []string{"text/html; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

// redirectDepth is the context key counting local redirects.
type redirectDepth struct{}

// ServeScript runs script s for r and streams its answer; see
// static.ScriptRunner.
func (rn *Runner) ServeScript(w http.ResponseWriter, r *http.Request, s static.Script) {
	uri := r.URL.RequestURI()
	if runningAsRoot() {
		if !rn.rootLog.Swap(true) {
			rn.log.Error("CGI: refusing to run scripts as root (500 to " + uri + " and every script after it): " +
				"start gotwistd with -u/--uid USER, or User= in its unit")
		}
		writePage(w, r, http.StatusInternalServerError, internalErrorPage)
		return
	}
	stdin, bodyLen, cleanup, code := rn.readBody(w, r)
	defer cleanup()
	switch code {
	case http.StatusRequestEntityTooLarge:
		writePage(w, r, code, tooLargePage)
		return
	case http.StatusBadRequest:
		writePage(w, r, code, badRequestPage)
		return
	}

	select {
	case rn.slots <- struct{}{}:
		defer func() { <-rn.slots }()
	default:
		if now := time.Now().Unix(); rn.busyLog.Swap(now) != now {
			rn.log.Warn(fmt.Sprintf("CGI %s: %d scripts already running (--cgi-max-procs): 503", uri, cap(rn.slots)))
		}
		w.Header().Set("Retry-After", "1")
		writePage(w, r, http.StatusServiceUnavailable, busyPage)
		return
	}
	x := rn.start(w, r, s, stdin, bodyLen)
	if x == nil {
		return
	}
	defer x.finish()

	nph := strings.HasPrefix(filepath.Base(s.Path), "nph-")
	resp, rest, err := readHeader(x.out, nph)
	if err != nil {
		x.finish()
		switch {
		case x.timedOut.Load():
			rn.log.Error(fmt.Sprintf("CGI %s: killed after %s (--cgi-timeout) before its headers ended", uri, rn.timeout))
			writePage(w, r, http.StatusGatewayTimeout, gatewayTimeoutPage)
		case r.Context().Err() != nil:
			// The client is gone.
		default:
			rn.log.Error(fmt.Sprintf("CGI %s: bad output (502): %v; %s", uri, err, x.p.status()))
			writePage(w, r, http.StatusBadGateway, badGatewayPage)
		}
		return
	}
	if resp.LocalRedirect != "" {
		x.finish()
		rn.localRedirect(w, r, s, resp.LocalRedirect)
		return
	}
	writeErr := copyResponse(w, r, resp, rest, x.out)
	x.finish()
	switch {
	case x.timedOut.Load():
		rn.log.Error(fmt.Sprintf("CGI %s: killed after %s (--cgi-timeout); response cut short", uri, rn.timeout))
		panic(http.ErrAbortHandler)
	case writeErr || r.Context().Err() != nil:
		// The client is gone; the script was killed.
	case x.p.signaled():
		rn.log.Error(fmt.Sprintf("CGI %s: %s; response cut short", uri, x.p.status()))
		panic(http.ErrAbortHandler)
	case !x.p.success() && !x.p.killed:
		// (Killed: it closed its output and ran on; that is its end.)
		rn.log.Error(fmt.Sprintf("CGI %s: %s", uri, x.p.status()))
	}
}

// localRedirect serves path as the answer to r (RFC 3875 section 6.2.2):
// a GET (or HEAD) of that path, without the request's body.
func (rn *Runner) localRedirect(w http.ResponseWriter, r *http.Request, s static.Script, loc string) {
	depth, _ := r.Context().Value(redirectDepth{}).(int)
	u, err := url.ParseRequestURI(loc)
	if err != nil || depth >= maxRedirects || s.Local == nil {
		why := "too many local redirects"
		if err != nil {
			why = fmt.Sprintf("bad local redirect %q", loc)
		}
		rn.log.Error(fmt.Sprintf("CGI %s: %s (502)", r.URL.RequestURI(), why))
		writePage(w, r, http.StatusBadGateway, badGatewayPage)
		return
	}
	r2 := r.Clone(context.WithValue(r.Context(), redirectDepth{}, depth+1))
	if r2.Method != http.MethodHead {
		r2.Method = http.MethodGet
	}
	r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	r2.RequestURI = loc
	r2.Body, r2.ContentLength = http.NoBody, 0
	r2.Header.Del("Content-Type")
	r2.Header.Del("Content-Length")
	s.Local.ServeHTTP(w, r2)
}

// readBody reads r's body, up to the limit, for the script's stdin: nil
// and -1 when there is none, else a reader and its length. cleanup
// releases it. code is 413 for a body over the limit, 400 for one that
// could not be read, else 0.
func (rn *Runner) readBody(w http.ResponseWriter, r *http.Request) (stdin io.Reader, n int64, cleanup func(), code int) {
	cleanup = func() {}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, -1, cleanup, 0
	}
	if r.ContentLength > rn.maxBody {
		return nil, -1, cleanup, http.StatusRequestEntityTooLarge
	}
	// The web plugin set a read deadline in the past on HTTP/1 requests
	// with a body, for the handlers that do not read it: this one does.
	rc := http.NewResponseController(w)
	limit := rn.timeout
	if limit <= 0 {
		limit = DefaultTimeout
	}
	_ = rc.SetReadDeadline(time.Now().Add(limit))
	defer rc.SetReadDeadline(time.Time{})
	src := io.LimitReader(r.Body, rn.maxBody+1)
	mem := make([]byte, memBody+1)
	m, err := io.ReadFull(src, mem)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return bytes.NewReader(mem[:m]), int64(m), cleanup, 0
	case err != nil:
		return nil, -1, cleanup, http.StatusBadRequest
	}
	f, err := os.CreateTemp("", "gotwistd-cgi-body-")
	if err != nil {
		rn.log.Error(fmt.Sprintf("CGI %s: request body: %v", r.URL.RequestURI(), err))
		return nil, -1, cleanup, http.StatusBadRequest
	}
	os.Remove(f.Name())
	cleanup = func() { f.Close() }
	total, err := f.Write(mem)
	if err != nil {
		return nil, -1, cleanup, http.StatusBadRequest
	}
	more, err := io.Copy(f, src)
	if err != nil {
		return nil, -1, cleanup, http.StatusBadRequest
	}
	size := int64(total) + more
	if size > rn.maxBody {
		return nil, -1, cleanup, http.StatusRequestEntityTooLarge
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, -1, cleanup, http.StatusBadRequest
	}
	return f, size, cleanup, 0
}

// readHeader reads the script's header block and parses it, returning the
// body bytes read past it.
func readHeader(out *os.File, nph bool) (*Response, []byte, error) {
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(cap(buf), MaxHeaderBytes+4-cap(buf)))...)[:len(buf)]
		}
		n, err := out.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if end, sep := headerEnd(buf); end >= 0 {
			if end > MaxHeaderBytes {
				return nil, nil, errHeaderTooLarge
			}
			resp, perr := ParseHeader(buf[:end], nph)
			return resp, buf[end+sep:], perr
		}
		if len(buf) > MaxHeaderBytes {
			return nil, nil, errHeaderTooLarge
		}
		if err != nil {
			if len(buf) == 0 {
				return nil, nil, errors.New("no output")
			}
			return nil, nil, fmt.Errorf("output ended within its headers (%d bytes)", len(buf))
		}
	}
}

// proc is a running script and its process group.
type proc struct {
	cmd   *exec.Cmd
	pipes []*os.File
	done  chan struct{} // closed once the script is reaped

	mu     sync.Mutex
	reaped bool
	killed bool // kill signalled the group before the script was reaped
}

// wait waits for the script to exit, kills what is left of its process
// group while the group id is still the exited script's (it is not reaped
// yet), and reaps it.
func (p *proc) wait() {
	waitExit(p.cmd.Process.Pid)
	p.mu.Lock()
	killGroup(p.cmd.Process.Pid)
	p.reaped = true
	p.mu.Unlock()
	_ = p.cmd.Wait()
	for _, f := range p.pipes {
		_ = f.SetReadDeadline(time.Now().Add(exitGrace))
	}
	close(p.done)
}

// kill kills the script's process group, unless the script was reaped.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		killGroup(p.cmd.Process.Pid)
		p.killed = true
	}
}

func (p *proc) success() bool { return p.cmd.ProcessState != nil && p.cmd.ProcessState.Success() }

// signaled reports whether the script died of a signal not sent by kill
// (a crash).
func (p *proc) signaled() bool {
	if p.cmd.ProcessState == nil || p.killed {
		return false
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// status describes how the script ended, for the log.
func (p *proc) status() string {
	select {
	case <-p.done:
	default:
		return "still running"
	}
	ps := p.cmd.ProcessState
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ps.ExitCode())
}
