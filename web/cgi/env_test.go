package cgi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gotwistd/gotwistd/web/static"
)

func TestEnviron(t *testing.T) {
	s := static.Script{Path: "/srv/www/app/run.cgi", Name: "/app/run.cgi", PathInfo: "/x/y", Translated: "/srv/www/x/y"}
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		want   []string // NAME=value present
		absent []string // NAME absent
	}{
		{
			name: "GET",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "http://www.example.com:8080/app/run.cgi/x/y?a=b+c", nil)
				r.RemoteAddr = "192.0.2.1:4242"
				r.Header = http.Header{"X-Forwarded-For": {"1", "2"}, "Cookie": {"a=1", "b=2"}, "Proxy": {"evil"},
					"X_under": {"spoof"}, "User-Agent": {"ua"}}
				return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey,
					&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}))
			},
			want: []string{"GATEWAY_INTERFACE=CGI/1.1", "SERVER_SOFTWARE=gotwistd/x", "SERVER_NAME=www.example.com",
				"SERVER_PORT=8080", "SERVER_PROTOCOL=HTTP/1.1", "REQUEST_METHOD=GET", "SCRIPT_NAME=/app/run.cgi",
				"SCRIPT_FILENAME=/srv/www/app/run.cgi", "PATH_INFO=/x/y", "PATH_TRANSLATED=/srv/www/x/y",
				"QUERY_STRING=a=b+c", "REMOTE_ADDR=192.0.2.1", "REMOTE_PORT=4242", "HTTP_HOST=www.example.com:8080",
				"HTTP_X_FORWARDED_FOR=1, 2", "HTTP_COOKIE=a=1; b=2", "HTTP_USER_AGENT=ua",
				"REQUEST_URI=http://www.example.com:8080/app/run.cgi/x/y?a=b+c"},
			absent: []string{"HTTP_PROXY", "HTTP_X_UNDER", "CONTENT_LENGTH", "CONTENT_TYPE", "HTTPS", "AUTH_TYPE"},
		},
		{
			name: "POST over TLS, IPv6, no Host port",
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "/app/run.cgi/x/y", strings.NewReader("abc"))
				r.Host = "[2001:db8::1]"
				r.Proto = "HTTP/2.0"
				r.TLS = &tls.ConnectionState{}
				r.RemoteAddr = "[2001:db8::2]:5555"
				r.Header.Set("Content-Type", "text/plain")
				r.Header.Set("Content-Length", "3")
				return r
			},
			want: []string{"SERVER_NAME=[2001:db8::1]", "SERVER_PORT=443", "HTTPS=on", "SERVER_PROTOCOL=HTTP/2.0",
				"REMOTE_ADDR=2001:db8::2", "CONTENT_TYPE=text/plain", "CONTENT_LENGTH=3", "REQUEST_METHOD=POST"},
			absent: []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			n := int64(-1)
			if r.Method == "POST" {
				n = 3
			}
			env := Environ(r, s, "gotwistd/x", n)
			if !slices.IsSorted(env) {
				t.Errorf("not sorted: %q", env)
			}
			for _, w := range tc.want {
				if !slices.Contains(env, w) {
					t.Errorf("no %s in %q", w, env)
				}
			}
			for _, a := range tc.absent {
				for _, e := range env {
					if strings.HasPrefix(e, a+"=") {
						t.Errorf("%s is set", e)
					}
				}
			}
		})
	}
}
