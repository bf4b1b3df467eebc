//go:build unix

package cgi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotwistd/gotwistd/web/static"
)

// run is one script running for a request: its process group, its stdout,
// which ServeScript reads, and the goroutines that log its stderr and kill
// it when the client goes or --cgi-timeout passes.
type run struct {
	p          *proc
	out, errR  *os.File
	stderrDone chan struct{}
	stopWatch  chan struct{}
	timedOut   atomic.Bool // killed by the timeout
	finished   bool
}

// start runs s for r, with stdin as its standard input (nil: none) of
// bodyLen bytes, and watches it. A script that cannot be started is logged
// and answered 500; start then returns nil.
func (rn *Runner) start(w http.ResponseWriter, r *http.Request, s static.Script, stdin io.Reader, bodyLen int64) *run {
	uri := r.URL.RequestURI()
	outR, outW, err := os.Pipe()
	if err != nil {
		rn.log.Error(fmt.Sprintf("CGI %s: %v", uri, err))
		writePage(w, r, http.StatusInternalServerError, internalErrorPage)
		return nil
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		rn.log.Error(fmt.Sprintf("CGI %s: %v", uri, err))
		writePage(w, r, http.StatusInternalServerError, internalErrorPage)
		return nil
	}
	cmd := &exec.Cmd{
		Path:        s.Path,
		Args:        []string{s.Path},
		Dir:         filepath.Dir(s.Path),
		Env:         Environ(r, s, rn.software, bodyLen),
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		// Wait does not wait longer for the copy of an in-memory body to
		// stdin than that, should a child that left the group hold it.
		WaitDelay: exitGrace,
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		hint := ""
		if errors.Is(err, os.ErrPermission) {
			hint = " (is it executable? chmod +x it)"
		} else if errors.Is(err, syscall.ENOEXEC) {
			hint = " (does it start with a #! line?)"
		}
		rn.log.Error(fmt.Sprintf("CGI %s: cannot run %s: %v%s", uri, s.Path, errors.Unwrap(err), hint))
		writePage(w, r, http.StatusInternalServerError, internalErrorPage)
		return nil
	}
	x := &run{
		p:   &proc{cmd: cmd, pipes: []*os.File{outR, errR}, done: make(chan struct{})},
		out: outR, errR: errR,
		stderrDone: make(chan struct{}),
		stopWatch:  make(chan struct{}),
	}
	rn.watch(r, x)
	return x
}

// watch starts the goroutines of x: one waits for the process, one logs
// its stderr, one kills it when the client goes, or when --cgi-timeout
// passes (then x.timedOut is set).
func (rn *Runner) watch(r *http.Request, x *run) {
	uri := r.URL.RequestURI()
	p := x.p
	go p.wait()
	go func() {
		defer close(x.stderrDone)
		logStderr(x.errR, uri, rn.log)
	}()
	go func() {
		var timeout <-chan time.Time
		if rn.timeout > 0 {
			t := time.NewTimer(rn.timeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-r.Context().Done():
			p.kill()
		case <-timeout:
			x.timedOut.Store(true)
			p.kill()
		case <-p.done:
		case <-x.stopWatch:
		}
	}()
}

// finish kills the script's process group if it still runs, waits for it
// and its stderr, stops the watch and closes the pipes. Calls after the
// first do nothing.
func (x *run) finish() {
	if x.finished {
		return
	}
	x.finished = true
	x.p.kill()
	<-x.p.done
	<-x.stderrDone
	close(x.stopWatch)
	x.out.Close()
	x.errR.Close()
}

// copyResponse writes the script's headers and status, then its body: rest
// (read with the headers) and what follows on out, flushed as it comes
// (none for HEAD, 204 and 304). It reports whether writing to the client
// failed.
func copyResponse(w http.ResponseWriter, r *http.Request, resp *Response, rest []byte, out *os.File) (writeErr bool) {
	hdr := w.Header()
	for k, v := range resp.Header {
		hdr[k] = v
	}
	if _, ok := resp.Header["Content-Type"]; !ok {
		hdr["Content-Type"] = nil // none, and none sniffed
	}
	w.WriteHeader(resp.Status)
	body := r.Method != http.MethodHead && resp.Status != http.StatusNoContent && resp.Status != http.StatusNotModified
	flush := http.NewResponseController(w)
	if body && len(rest) > 0 {
		_, err := w.Write(rest)
		writeErr = err != nil
		_ = flush.Flush()
	}
	buf := make([]byte, chunk)
	for !writeErr {
		n, err := out.Read(buf)
		if n > 0 && body {
			if _, werr := w.Write(buf[:n]); werr != nil {
				writeErr = true
				break
			}
			_ = flush.Flush()
		}
		if err != nil {
			break
		}
	}
	return writeErr
}
