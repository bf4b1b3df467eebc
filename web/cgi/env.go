package cgi

import (
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gotwistd/gotwistd/web/static"
)

// defaultPath is the script's PATH when the server has none.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// passedEnv are the variables of the server's own environment a script
// also gets; twistd passes all of them, which would hand scripts
// NOTIFY_SOCKET, LISTEN_FDS, CREDENTIALS_DIRECTORY and the like.
var passedEnv = []string{"PATH", "TZ", "LANG", "LC_ALL"}

// Environ returns the CGI/1.1 meta-variables (RFC 3875 section 4.1) of a
// request for script s, as "NAME=value" strings sorted by name.
// bodyLen is the length of the body the script reads on its stdin, -1 for
// none.
func Environ(r *http.Request, s static.Script, software string, bodyLen int64) []string {
	env := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   software,
		"SERVER_PROTOCOL":   r.Proto,
		"REQUEST_METHOD":    r.Method,
		"SCRIPT_NAME":       s.Name,
		"SCRIPT_FILENAME":   s.Path,
		"QUERY_STRING":      r.URL.RawQuery,
		"REQUEST_URI":       r.RequestURI,
	}
	if env["REQUEST_URI"] == "" {
		env["REQUEST_URI"] = r.URL.RequestURI()
	}
	if s.PathInfo != "" {
		env["PATH_INFO"] = s.PathInfo
		env["PATH_TRANSLATED"] = s.Translated
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	env["SERVER_NAME"], env["SERVER_PORT"] = serverNamePort(r, local)
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		env["REMOTE_ADDR"], env["REMOTE_PORT"] = host, port
	}
	if r.TLS != nil {
		env["HTTPS"] = "on"
	}
	if bodyLen >= 0 {
		env["CONTENT_LENGTH"] = strconv.FormatInt(bodyLen, 10)
	}
	if ct := r.Header.Values("Content-Type"); len(ct) > 0 {
		env["CONTENT_TYPE"] = ct[0]
	}
	if r.Host != "" {
		env["HTTP_HOST"] = r.Host
	}
	for name, vals := range r.Header {
		switch name {
		case "Content-Type", "Content-Length", "Host":
			continue
		case "Proxy":
			// httpoxy (CVE-2016-5385): HTTP_PROXY would be taken for
			// the proxy setting of the script's HTTP client.
			continue
		}
		key, ok := metaName(name)
		if !ok {
			continue
		}
		sep := ", "
		if name == "Cookie" {
			sep = "; "
		}
		env[key] = strings.Join(vals, sep)
	}
	for _, k := range passedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = defaultPath
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// metaName is the HTTP_ meta-variable of a header name. Names holding
// anything but letters, digits and "-" have none: "X_Foo" would otherwise
// pass for "X-Foo" (what nginx and Apache do too).
func metaName(name string) (string, bool) {
	b := make([]byte, 0, len("HTTP_")+len(name))
	b = append(b, "HTTP_"...)
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		case c == '-':
			b = append(b, '_')
		default:
			return "", false
		}
	}
	return string(b), len(name) > 0
}

// serverNamePort is SERVER_NAME (the Host header's host, else the local
// address) and SERVER_PORT (the port the connection came in on).
func serverNamePort(r *http.Request, local net.Addr) (name, port string) {
	name = r.Host
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		name, port = h, p
		if strings.IndexByte(h, ':') >= 0 {
			name = "[" + h + "]"
		}
	}
	var lhost string
	if local != nil {
		if h, p, err := net.SplitHostPort(local.String()); err == nil {
			lhost, port = h, p
		}
	}
	if name == "" {
		name = lhost
		if strings.IndexByte(name, ':') >= 0 {
			name = "[" + name + "]"
		}
	}
	if port == "" {
		port = "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	return name, port
}
