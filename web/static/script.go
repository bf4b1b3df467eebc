package static

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// ScriptRunner runs the CGI scripts a Handler finds (Config.CGI): regular
// files whose name ends in ".cgi", in any case. The Handler has already
// added the Server header and Config.Headers to w.Header().
type ScriptRunner interface {
	// ServeScript answers r by running the script s.
	ServeScript(w http.ResponseWriter, r *http.Request, s Script)
}

// Script is a CGI script a request names, found below Root by the
// Handler's own path rules (dotfiles, --no-follow-symlinks, index names,
// ignored extensions).
type Script struct {
	// Path is the script's absolute path with every symbolic link
	// resolved; it is inside Root (a link leading out of Root is refused
	// before a ScriptRunner sees it).
	Path string
	// Name is the decoded URL path that named the script (SCRIPT_NAME):
	// "/app/run.cgi"; for a directory index, the directory's path with its
	// slash ("/app/"); with an ignored extension, the path as asked
	// ("/app/run").
	Name string
	// PathInfo is what follows Name in the URL path (PATH_INFO): "" or a
	// path starting with "/".
	PathInfo string
	// Translated is PathInfo as a file path below Root
	// (PATH_TRANSLATED), or "" when PathInfo is "".
	Translated string
	// Local serves a local redirect (RFC 3875 section 6.2.2): the Handler
	// itself, for a request whose ResponseWriter the Handler has already
	// added its headers to.
	Local http.Handler
}

// scriptExt is the extension of CGI scripts, matched case-insensitively
// (twistd matches ".cgi" exactly on Unix, so it would send "RUN.CGI" as a
// file; gotwistd refuses or runs it).
const scriptExt = ".cgi"

// maxRefusalLogs bounds the distinct scripts whose refusal is logged.
const maxRefusalLogs = 1000

// IsScriptName reports whether a file name names a CGI script: it ends in
// ".cgi", in any case.
func IsScriptName(name string) bool {
	return len(name) >= len(scriptExt) && strings.EqualFold(name[len(name)-len(scriptExt):], scriptExt)
}

// mayNameScript reports whether a URL path could have a segment naming a
// script: a quick test that keeps the lookup off every other request.
func mayNameScript(p string) bool {
	for i := strings.IndexByte(p, '.'); i >= 0 && i+4 <= len(p); {
		if strings.EqualFold(p[i:i+4], scriptExt) {
			return true
		}
		j := strings.IndexByte(p[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// refusals remembers which refused scripts were logged.
type refusals struct {
	mu     sync.Mutex
	logged map[string]struct{}
	full   bool
}

// first reports whether rel's refusal is to be logged: the first time for
// each script, for the first maxRefusalLogs scripts; then once more, to say
// that further ones are not.
func (f *refusals) first(rel string) (log, last bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.logged[rel]; ok || f.full {
		return false, false
	}
	if f.logged == nil {
		f.logged = make(map[string]struct{})
	}
	if len(f.logged) >= maxRefusalLogs {
		f.full = true
		return true, true
	}
	f.logged[rel] = struct{}{}
	return true, false
}

// scriptURL handles a request whose URL path names a script in one of its
// segments ("/run.cgi", "/app/run.cgi/extra/path"), and, for methods
// other than GET and HEAD, one that reaches a script through an index
// name or an ignored extension (GET and HEAD find those in ServeHTTP's
// own lookup). It reports whether it answered.
func (h *Handler) scriptURL(w http.ResponseWriter, r *http.Request) bool {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	if get && !mayNameScript(r.URL.Path) {
		return false
	}
	rel, slash, ok := h.mapPath(r.URL)
	if !ok {
		return false
	}
	for end := 0; end < len(rel); {
		next := strings.IndexByte(rel[end:], '/')
		if next < 0 {
			next = len(rel)
		} else {
			next += end
		}
		if IsScriptName(rel[end:next]) {
			fi, err := h.stat(rel[:next])
			if err == nil && fi.kind == kindRegular {
				info := rel[next:]
				if slash {
					info += "/"
				}
				h.runScript(w, r, rel[:next], "/"+rel[:next], info, fi)
				return true
			}
			if err != nil || fi.kind != kindDir {
				break
			}
		}
		end = next + 1
	}
	if get {
		return false
	}
	fi, err := h.statJoin(rel, "", "")
	if err != nil && len(h.ignoreExt) > 0 && errorStatus(err) == http.StatusNotFound {
		rel, fi, err = h.ignoreExtLookup(rel)
	}
	if err != nil {
		return false
	}
	switch {
	case fi.kind == kindRegular && !slash && IsScriptName(baseName(rel)):
		h.runScript(w, r, rel, r.URL.Path, "", fi)
		return true
	case fi.kind == kindDir && slash:
		sep := "/"
		if rel == "" {
			sep = ""
		}
		for _, name := range h.indexes {
			if ifi, err := h.statJoin(rel, sep, name); err == nil && ifi.kind == kindRegular {
				if !IsScriptName(name) {
					return false
				}
				h.runScript(w, r, rel+sep+name, r.URL.Path, "", ifi)
				return true
			}
		}
	}
	return false
}

// runScript hands the script rel to Config.CGI, or refuses it (403) when
// there is none. A script is never sent as a file.
func (h *Handler) runScript(w http.ResponseWriter, r *http.Request, rel, name, pathInfo string, fi fileInfo) {
	if h.cgi == nil {
		if log, last := h.refused.first(rel); log {
			h.log.Warn(fmt.Sprintf("static: refusing /%s (403): it is a CGI script, and CGI is off; "+
				"start `gotwistd web` with --cgi to run CGI scripts (their source is never sent)", rel))
			if last {
				h.log.Warn(fmt.Sprintf("static: %d CGI scripts refused; further refusals are not logged", maxRefusalLogs))
			}
		}
		writePage(w, r, http.StatusForbidden, forbiddenPage)
		return
	}
	real, err := h.resolveBeneath(rel)
	if err != nil {
		h.log.Warn(fmt.Sprintf("static: refusing CGI script /%s (403): it does not resolve to a file inside --path: %v", rel, err))
		writePage(w, r, http.StatusForbidden, forbiddenPage)
		return
	}
	s := Script{Path: real, Name: name, PathInfo: pathInfo, Local: localRedirect{h}}
	if pathInfo != "" {
		s.Translated = h.root + strings.TrimSuffix(pathInfo, "/")
		if h.root == "/" {
			s.Translated = strings.TrimSuffix(pathInfo, "/")
		}
		if s.Translated == "" {
			s.Translated = "/"
		}
	}
	h.cgi.ServeScript(w, r, s)
}

// localRedirect serves a script's local redirect: it drops the headers the
// Handler added for the script's response before serving the new path, so
// they are not added twice.
type localRedirect struct{ h *Handler }

func (l localRedirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	for _, x := range l.h.extra {
		delete(hdr, x.key)
	}
	l.h.ServeHTTP(w, r)
}
