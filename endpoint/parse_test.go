package endpoint

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/parse")

func tcp(port int, iface string, backlog int) *Endpoint {
	return &Endpoint{Type: TypeTCP, Port: port, Interface: iface, Backlog: backlog}
}

func unixEP(path string, mode os.FileMode, backlog int, lockfile bool) *Endpoint {
	return &Endpoint{Type: TypeUNIX, Path: path, Mode: mode, Backlog: backlog, Lockfile: lockfile}
}

func sslEP(port int, key, cert string) *Endpoint {
	return &Endpoint{Type: TypeSSL, Port: port, Backlog: 50, PrivateKey: key, CertKey: cert}
}

func sysEP(domain string, index int, name string) *Endpoint {
	return &Endpoint{Type: TypeSystemd, Domain: domain, Index: index, Name: name}
}

// TestParse holds every vector of Twisted's own endpoint tests (listed in
// twisted-reference.md) and gotwistd's additions.
func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Endpoint
		str  string // canonical String(); "" means same as in
	}{
		// Twisted's vectors.
		{"twisted tcp", "tcp:80", tcp(80, "", 50), ""},
		{"twisted tcp interface", "tcp:80:interface=127.0.0.1", tcp(80, "127.0.0.1", 50), ""},
		{"twisted tcp backlog", "tcp:80:backlog=6", tcp(80, "", 6), ""},
		{"twisted tcp both", "tcp:1234:backlog=12:interface=10.0.0.1", tcp(1234, "10.0.0.1", 12), "tcp:1234:interface=10.0.0.1:backlog=12"},
		{"twisted unix", "unix:/var/run/finger", unixEP("/var/run/finger", 0o666, 50, true), ""},
		{"twisted unix mode", "unix:/var/run/finger:mode=0660", unixEP("/var/run/finger", 0o660, 50, true), ""},
		{"twisted unix nolock", "unix:/var/run/finger:lockfile=0", unixEP("/var/run/finger", 0o666, 50, false), ""},
		{"twisted unix all", "unix:/var/foo/bar:backlog=7:mode=0123:lockfile=1", unixEP("/var/foo/bar", 0o123, 7, true), "unix:/var/foo/bar:mode=0123:backlog=7"},
		{"twisted unix escapes", `unix:foo\:bar\=baz\:qux\\`, unixEP(`foo:bar=baz:qux\`, 0o666, 50, true), ""},
		{"twisted unix address keyword", "unix:address=foo=bar", unixEP("foo=bar", 0o666, 50, true), `unix:foo\=bar`},
		{"twisted tcp6", `tcp6:8080:backlog=12:interface=\:\:1`, &Endpoint{Type: TypeTCP6, Port: 8080, Backlog: 12, Interface: "::1"}, `tcp6:8080:interface=\:\:1:backlog=12`},
		{"twisted systemd index", "systemd:domain=INET:index=3", sysEP("INET", 3, ""), ""},
		{"twisted systemd name", "systemd:domain=INET:name=foo", sysEP("INET", 0, "foo"), ""},

		// The seed's and tutorial's command lines.
		{"bare port", "8080", tcp(8080, "", 50), "tcp:8080"},
		{"number first field", "8080:interface=127.0.0.1", tcp(8080, "127.0.0.1", 50), "tcp:8080:interface=127.0.0.1"},
		{"tutorial index", "systemd:domain=INET:index=0", sysEP("INET", 0, ""), ""},
		{"tutorial name", "systemd:domain=INET:name=my-web-port", sysEP("INET", 0, "my-web-port"), ""},
		{"https option", "ssl:port=8443:privateKey=server.pem:certKey=server.pem", sslEP(8443, "server.pem", "server.pem"), "ssl:8443"},

		// haproxy: the PROXY protocol under any stream endpoint.
		{"haproxy tcp", "haproxy:tcp:8080", &Endpoint{Type: TypeHAProxy, Inner: tcp(8080, "", 50)}, ""},
		{"haproxy bare port", "haproxy:8080:interface=127.0.0.1", &Endpoint{Type: TypeHAProxy, Inner: tcp(8080, "127.0.0.1", 50)}, "haproxy:tcp:8080:interface=127.0.0.1"},
		{"haproxy tcp6", `haproxy:tcp6:80:interface=\:\:1`, &Endpoint{Type: TypeHAProxy, Inner: &Endpoint{Type: TypeTCP6, Port: 80, Backlog: 50, Interface: "::1"}}, ""},
		{"haproxy unix", "haproxy:unix:/run/www.sock:mode=660", &Endpoint{Type: TypeHAProxy, Inner: unixEP("/run/www.sock", 0o660, 50, true)}, "haproxy:unix:/run/www.sock:mode=0660"},
		{"haproxy systemd", "haproxy:systemd:domain=INET:name=lb", &Endpoint{Type: TypeHAProxy, Inner: sysEP("INET", 0, "lb")}, ""},
		{"ssl over haproxy", "ssl:haproxy:tcp:443:privateKey=k.pem:interface=10.0.0.1",
			&Endpoint{Type: TypeSSL, PrivateKey: "k.pem", CertKey: "k.pem", Inner: &Endpoint{Type: TypeHAProxy, Inner: tcp(443, "10.0.0.1", 50)}},
			"ssl:haproxy:tcp:443:interface=10.0.0.1:privateKey=k.pem"},
		{"ssl over haproxy systemd", "ssl:haproxy:systemd:domain=INET6:name=https:certKey=c.pem",
			&Endpoint{Type: TypeSSL, PrivateKey: DefaultPrivateKey, CertKey: "c.pem", Inner: &Endpoint{Type: TypeHAProxy, Inner: sysEP("INET6", 0, "https")}}, ""},

		// Positional order and keywords.
		{"tcp positional", "tcp:80:127.0.0.1:6", tcp(80, "127.0.0.1", 6), "tcp:80:interface=127.0.0.1:backlog=6"},
		{"tcp port keyword", "tcp:port=80", tcp(80, "", 50), "tcp:80"},
		{"tcp6 positional", `tcp6:80:7:\:\:1`, &Endpoint{Type: TypeTCP6, Port: 80, Backlog: 7, Interface: "::1"}, `tcp6:80:interface=\:\:1:backlog=7`},
		{"tcp port 0", "tcp:0", tcp(0, "", 50), ""},
		{"type case", "TCP:80", tcp(80, "", 50), "tcp:80"},
		{"keyword case", `tcp:80:Interface=\:\:1`, tcp(80, "::1", 50), `tcp:80:interface=\:\:1`},
		{"last keyword wins", "tcp:80:backlog=5:backlog=9", tcp(80, "", 9), "tcp:80:backlog=9"},
		{"escaped key", `tcp:80:inter\face=10.0.0.1`, tcp(80, "10.0.0.1", 50), "tcp:80:interface=10.0.0.1"},
		{"later equals literal", "systemd:domain=INET:name=a=b", sysEP("INET", 0, "a=b"), `systemd:domain=INET:name=a\=b`},
		{"unix positional", "unix:/run/x.sock:660:9:0", unixEP("/run/x.sock", 0o660, 9, false), "unix:/run/x.sock:mode=0660:backlog=9:lockfile=0"},
		{"unix mode 660", "unix:/run/x.sock:mode=660", unixEP("/run/x.sock", 0o660, 50, true), "unix:/run/x.sock:mode=0660"},
		{"unix lockfile false", "unix:/run/x.sock:lockfile=false", unixEP("/run/x.sock", 0o666, 50, false), "unix:/run/x.sock:lockfile=0"},
		{"unix abstract", "unix:@gotwistd", unixEP("@gotwistd", 0o666, 50, true), ""},
		{"systemd positional", "systemd:inet6:2", sysEP("INET6", 2, ""), "systemd:domain=INET6:index=2"},
		{"systemd unix name", "systemd:domain=UNIX:name=www.socket", sysEP("UNIX", 0, "www.socket"), ""},

		// ssl.
		{"ssl defaults", "ssl:443", sslEP(443, "server.pem", "server.pem"), ""},
		{"ssl key", "ssl:443:privateKey=k.pem", sslEP(443, "k.pem", "k.pem"), ""},
		{"ssl key and cert", "ssl:443:privateKey=key.pem:certKey=cert.pem", sslEP(443, "key.pem", "cert.pem"), ""},
		{"ssl cert only", "ssl:443:certKey=cert.pem", sslEP(443, "server.pem", "cert.pem"), ""},
		{"ssl positional", "ssl:443:k.pem:c.pem:TLSv1_2_METHOD:127.0.0.1:9:chain.pem:dh.pem",
			&Endpoint{Type: TypeSSL, Port: 443, PrivateKey: "k.pem", CertKey: "c.pem", SSLMethod: "TLSv1_2_METHOD", Interface: "127.0.0.1", Backlog: 9, ExtraCertChain: "chain.pem", DHParameters: "dh.pem"},
			"ssl:443:interface=127.0.0.1:backlog=9:privateKey=k.pem:certKey=c.pem:extraCertChain=chain.pem:dhParameters=dh.pem:sslmethod=TLSv1_2_METHOD"},
		{"ssl over systemd", "ssl:systemd:domain=INET:name=https:privateKey=k.pem:certKey=c.pem",
			&Endpoint{Type: TypeSSL, PrivateKey: "k.pem", CertKey: "c.pem", Inner: sysEP("INET", 0, "https")}, ""},
		{"ssl over systemd keywords first", "ssl:certKey=c.pem:domain=INET6:systemd:index=1",
			&Endpoint{Type: TypeSSL, PrivateKey: "server.pem", CertKey: "c.pem", Inner: sysEP("INET6", 1, "")}, "ssl:systemd:domain=INET6:index=1:certKey=c.pem"},
		{"ssl over unix", "ssl:unix:/run/s.sock:mode=600:privateKey=k.pem",
			&Endpoint{Type: TypeSSL, PrivateKey: "k.pem", CertKey: "k.pem", Inner: unixEP("/run/s.sock", 0o600, 50, true)}, "ssl:unix:/run/s.sock:mode=0600:privateKey=k.pem"},
		{"ssl over tcp6", `ssl:TCP6:443:interface=\:\:1`,
			&Endpoint{Type: TypeSSL, PrivateKey: "server.pem", CertKey: "server.pem", Inner: &Endpoint{Type: TypeTCP6, Port: 443, Backlog: 50, Interface: "::1"}}, `ssl:tcp6:443:interface=\:\:1`},

		// quic.
		{"quic", "quic:443:privateKey=k.pem:certKey=c.pem", &Endpoint{Type: TypeQUIC, Port: 443, PrivateKey: "k.pem", CertKey: "c.pem"}, ""},
		{"quic positional", "quic:443:k.pem:c.pem:127.0.0.1:chain.pem", &Endpoint{Type: TypeQUIC, Port: 443, PrivateKey: "k.pem", CertKey: "c.pem", Interface: "127.0.0.1", ExtraCertChain: "chain.pem"},
			"quic:443:interface=127.0.0.1:privateKey=k.pem:certKey=c.pem:extraCertChain=chain.pem"},
		{"quic over systemd", "quic:systemd:domain=INET6:name=h3:privateKey=k.pem",
			&Endpoint{Type: TypeQUIC, PrivateKey: "k.pem", CertKey: "k.pem", Inner: sysEP("INET6", 0, "h3")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkParse(t, tt.in, tt.want, tt.str) })
	}
}

// checkParse asserts that Parse(in) is want, that its String is str ("":
// in), and that parsing that String gives the same endpoint.
func checkParse(t *testing.T, in string, want *Endpoint, str string) {
	t.Helper()
	got, err := Parse(in)
	if err != nil {
		t.Fatalf("Parse(%q): %v", in, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse(%q)\n got %#v\nwant %#v", in, got, want)
	}
	if str == "" {
		str = in
	}
	if s := got.String(); s != str {
		t.Errorf("String() = %q, want %q", s, str)
	}
	again, err := Parse(got.String())
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Errorf("Parse(String()) = %#v, %v; want %#v", again, err, got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
		sentinel       error
	}{
		{"twisted bogus type", "bogus-type:nothing", `bad endpoint "bogus-type:nothing": unknown endpoint type 'bogus-type'`, ErrUnknownType},
		{"type lowercased", "Bogus:1", `bad endpoint "Bogus:1": unknown endpoint type 'bogus'`, ErrUnknownType},
		{"twisted systemd index and name", "systemd:domain=INET:index=0:name=foo", `bad endpoint "systemd:domain=INET:index=0:name=foo": both index= and name= are given: give exactly one`, ErrSyntax},
		{"port not a number", "tcp:abc", `bad endpoint "tcp:abc": port "abc" is not a number`, ErrSyntax},
		{"empty", "", `bad endpoint "": it is empty: give one such as tcp:8080`, ErrSyntax},
		{"no port", "tcp", `bad endpoint "tcp": no port: give one, as in tcp:8080`, ErrSyntax},
		{"empty port", "tcp:", `bad endpoint "tcp:": port is empty: give a number, as in tcp:8080`, ErrSyntax},
		{"port range", "tcp:65536", `bad endpoint "tcp:65536": port 65536 is out of range 0-65535`, ErrSyntax},
		{"negative port", "tcp:-1", `bad endpoint "tcp:-1": port "-1" is not a number`, ErrSyntax},
		{"unknown keyword", "tcp:80:bogus=1", `bad endpoint "tcp:80:bogus=1": unknown keyword "bogus" for tcp: it takes port, interface, backlog`, ErrSyntax},
		{"too many positional", "tcp:80:127.0.0.1:5:extra", `bad endpoint "tcp:80:127.0.0.1:5:extra": unexpected field "extra": tcp takes at most 3 positional fields (port, interface, backlog); use key=value`, ErrSyntax},
		{"positional and keyword", "tcp:80:port=81", `bad endpoint "tcp:80:port=81": port is given twice: as a positional field and as port=`, ErrSyntax},
		{"bad backlog", "tcp:80:backlog=x", `bad endpoint "tcp:80:backlog=x": backlog "x" is not a number`, ErrSyntax},
		{"zero backlog", "tcp:80:backlog=0", `bad endpoint "tcp:80:backlog=0": backlog 0 is out of range 1-1048576`, ErrSyntax},
		{"bad mode", "unix:/x:mode=9", `bad endpoint "unix:/x:mode=9": mode "9" is not an octal number such as 660`, ErrSyntax},
		{"mode too big", "unix:/x:mode=4777", `bad endpoint "unix:/x:mode=4777": mode "4777" has bits beyond 0777`, ErrSyntax},
		{"bad lockfile", "unix:/x:lockfile=maybe", `bad endpoint "unix:/x:lockfile=maybe": lockfile "maybe" is not 0 or 1`, ErrSyntax},
		{"unix no path", "unix:mode=600", `bad endpoint "unix:mode=600": no socket path: give one, as in unix:/run/www.sock`, ErrSyntax},
		{"interface a host name", "tcp:80:interface=localhost", `bad endpoint "tcp:80:interface=localhost": interface "localhost" must be an IP address of this machine, such as 127.0.0.1 or \:\:1 (colons escaped), or left out for every address`, ErrSyntax},
		{"interface not an address", "ssl:443:interface=300.1.1.1", `bad endpoint "ssl:443:interface=300.1.1.1": interface "300.1.1.1" must be an IP address of this machine, such as 127.0.0.1 or \:\:1 (colons escaped), or left out for every address`, ErrSyntax},
		{"haproxy wraps nothing", "haproxy", `bad endpoint "haproxy": haproxy wraps a stream endpoint: give one, as in haproxy:tcp:8080, haproxy:unix:/run/www.sock or haproxy:systemd:domain=INET:name=lb`, ErrSyntax},
		{"haproxy over ssl", "haproxy:ssl:443", `bad endpoint "haproxy:ssl:443": haproxy cannot wrap ssl: a load balancer sends the PROXY header before the TLS handshake, so TLS goes outside: write ssl:haproxy:... (as in ssl:haproxy:tcp:443:privateKey=key.pem)`, ErrSyntax},
		{"haproxy over quic", "haproxy:quic:443", `bad endpoint "haproxy:quic:443": haproxy cannot wrap a quic endpoint: it wraps tcp, tcp6, unix, systemd`, ErrSyntax},
		{"haproxy twice", "haproxy:haproxy:tcp:80", `bad endpoint "haproxy:haproxy:tcp:80": haproxy cannot wrap a haproxy endpoint: it wraps tcp, tcp6, unix, systemd`, ErrSyntax},
		{"quic over haproxy", "quic:haproxy:systemd:domain=INET:index=0", `bad endpoint "quic:haproxy:systemd:domain=INET:index=0": quic cannot wrap a haproxy endpoint: it wraps systemd`, ErrSyntax},
		{"haproxy tls keyword", "haproxy:tcp:443:privateKey=k.pem", `bad endpoint "haproxy:tcp:443:privateKey=k.pem": unknown keyword "privateKey" for tcp: it takes port, interface, backlog`, ErrSyntax},
		{"systemd no domain", "systemd:index=0", `bad endpoint "systemd:index=0": no domain: give domain=INET, INET6 or UNIX, as in systemd:domain=INET:index=0`, ErrSyntax},
		{"systemd bad domain", "systemd:domain=IPX:index=0", `bad endpoint "systemd:domain=IPX:index=0": domain "IPX" is not INET, INET6 or UNIX`, ErrSyntax},
		{"systemd neither", "systemd:domain=INET", `bad endpoint "systemd:domain=INET": neither index= nor name= is given: give exactly one, as in systemd:domain=INET:index=0`, ErrSyntax},
		{"systemd bad index", "systemd:domain=INET:index=-1", `bad endpoint "systemd:domain=INET:index=-1": index "-1" is not a number 0, 1, 2, ...`, ErrSyntax},
		{"lone backslash", `unix:/x\`, `bad endpoint "unix:/x\\": it ends in a lone backslash: write \\ for a literal backslash`, ErrSyntax},
		{"keyword first", "port=80", `bad endpoint "port=80": it starts with "port=", not an endpoint type: begin with tcp:, unix:, ssl:, systemd: ...`, ErrSyntax},
		{"missing type", ":80", `bad endpoint ":80": the type is missing: begin with tcp:, unix:, ssl:, systemd: ...`, ErrSyntax},
		{"no keyword", "tcp:80:=x", `bad endpoint "tcp:80:=x": field "=x" has no keyword before '='`, ErrSyntax},
		{"ssl wraps quic", "ssl:quic:443", `bad endpoint "ssl:quic:443": ssl cannot wrap a quic endpoint: it wraps tcp, tcp6, unix, systemd, haproxy`, ErrSyntax},
		{"quic wraps tcp", "quic:tcp:443", `bad endpoint "quic:tcp:443": quic cannot wrap a tcp endpoint: it wraps systemd`, ErrSyntax},
		{"ssl tcp keyword on systemd", "ssl:systemd:domain=INET:index=0:backlog=5", `bad endpoint "ssl:systemd:domain=INET:index=0:backlog=5": unknown keyword "backlog" for systemd: it takes domain, index, name`, ErrSyntax},
		{"ssl no port", "ssl:privateKey=k.pem", `bad endpoint "ssl:privateKey=k.pem": no port: give one, as in ssl:8080`, ErrSyntax},
		{"quic backlog", "quic:443:backlog=5", `bad endpoint "quic:443:backlog=5": unknown keyword "backlog" for quic: it takes port, privateKey, certKey, interface, extraCertChain`, ErrSyntax},
		{"empty key file", "ssl:443:privateKey=", `bad endpoint "ssl:443:privateKey=": privateKey is empty: give a file name`, ErrSyntax},
		{"empty socket path", "unix:address=", `bad endpoint "unix:address=": the socket path is empty: give one, as in unix:/run/www.sock`, ErrSyntax},
		{"empty systemd name", "systemd:domain=INET:name=", `bad endpoint "systemd:domain=INET:name=": name is empty: give the socket's FileDescriptorName=`, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %q", tt.in, e, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n got %s\nwant %s", tt.in, err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != tt.in {
				t.Errorf("error %T is not a *ParseError with Input %q", err, tt.in)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error does not wrap %v", tt.sentinel)
			}
		})
	}
}

// TestParseGolden runs every testdata/parse/*.txt file: the endpoint
// string, a line of ten dashes, then the canonical String() or the error.
// Run with -update to rewrite the expected parts.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files in testdata/parse")
	}
	const sep = "\n----------\n"
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(b), sep)
			if !ok {
				t.Fatalf("%s has no %q line", file, strings.TrimSpace(sep))
			}
			var got string
			if e, err := Parse(in); err != nil {
				got = "error: " + err.Error() + "\n"
			} else {
				got = e.String() + "\n"
				if again, err := Parse(e.String()); err != nil || !reflect.DeepEqual(again, e) {
					t.Errorf("Parse(%q) = %#v, %v; want %#v", e.String(), again, err, e)
				}
			}
			if *update {
				if err := os.WriteFile(file, []byte(in+sep+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s: Parse(%q)\n got %s\nwant %s", file, in, got, want)
			}
		})
	}
}

// FuzzParse checks that Parse never panics and that every endpoint it
// accepts survives a trip through String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"tcp:80", "8080", `tcp6:8080:backlog=12:interface=\:\:1`, `unix:foo\:bar\=baz\:qux\\`,
		"unix:address=foo=bar", "ssl:443:privateKey=k.pem:certKey=c.pem", "systemd:domain=INET:index=0",
		"systemd:domain=INET:name=my-web-port", "ssl:systemd:domain=INET:name=https:certKey=c.pem",
		"quic:systemd:domain=INET6:name=h3", "quic:443", "bogus-type:nothing",
		"haproxy:tcp:80", "haproxy:8080", "ssl:haproxy:unix:/x.sock:privateKey=k.pem", "haproxy:ssl:443",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != s {
				t.Fatalf("Parse(%q) error %v is not a *ParseError", s, err)
			}
			if strings.Contains(pe.Reason, "\n") {
				t.Fatalf("Parse(%q) error has a newline: %q", s, pe.Reason)
			}
			return
		}
		str := e.String()
		again, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, str, err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("Parse(%q) = %#v\nbut Parse(%q) = %#v", s, e, str, again)
		}
		if again.String() != str {
			t.Fatalf("String is not canonical: %q then %q", str, again.String())
		}
	})
}
