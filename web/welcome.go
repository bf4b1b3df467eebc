package web

import (
	"html"
	"net/http"
	"strconv"
)

// DocsURL is where the welcome page sends people for documentation.
const DocsURL = "https://github.com/gotwistd/gotwistd#readme"

// welcome is the page served when no --path is given, so that
// `gotwistd --nodaemon web` shows it works: "/" is the page, every other
// path 404, methods other than GET and HEAD 405.
type welcome struct {
	server  []string // Server header value
	headers [][2]string
	page    []byte
	length  []string
}

func newWelcome(version string, headers [][2]string) *welcome {
	v := html.EscapeString(version)
	page := `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gotwistd is running</title>
</head>
<body>
<h1>gotwistd is running</h1>
<p>This is the built-in welcome page of gotwistd ` + v + `: the server works, but it has not been
told what to serve.</p>
<p>To serve the files in a directory, give it with <code>--path</code>:</p>
<pre>gotwistd --nodaemon web --listen tcp:8080 --path /srv/www</pre>
<p>Every option is listed by <code>gotwistd web --help</code>; the documentation, with systemd unit
files for socket activation, is at <a href="` + DocsURL + `">` + DocsURL + `</a>.</p>
</body>
</html>
`
	return &welcome{
		server:  []string{"gotwistd/" + version},
		headers: headers,
		page:    []byte(page),
		length:  []string{strconv.Itoa(len(page))},
	}
}

func (h *welcome) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr["Server"] = h.server
	for _, kv := range h.headers {
		hdr.Add(kv[0], kv[1])
	}
	switch {
	case r.URL.Path != "/":
		writeErrorPage(w, r, http.StatusNotFound, "No Such Resource", "No such child resource.")
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		hdr.Set("Allow", "HEAD, GET")
		writeErrorPage(w, r, http.StatusMethodNotAllowed, "Method Not Allowed",
			"Your browser approached me (at "+html.EscapeString(r.URL.Path)+") with the method \""+
				html.EscapeString(r.Method)+"\".  I only allow the methods HEAD, GET here.")
	default:
		hdr["Content-Type"] = []string{"text/html; charset=utf-8"}
		hdr["Content-Length"] = h.length
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Write(h.page)
	}
}

// writeErrorPage writes an error in the layout of twistd's
// resource.ErrorPage. brief and detail must be HTML already.
func writeErrorPage(w http.ResponseWriter, r *http.Request, code int, brief, detail string) {
	body := "\n<html>\n  <head><title>" + strconv.Itoa(code) + " - " + brief + "</title></head>\n  <body>\n    <h1>" +
		brief + "</h1>\n    <p>" + detail + "</p>\n  </body>\n</html>\n"
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}
