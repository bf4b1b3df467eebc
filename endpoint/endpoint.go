package endpoint

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Endpoint types, the values of Endpoint.Type.
const (
	TypeTCP     = "tcp"
	TypeTCP6    = "tcp6"
	TypeUNIX    = "unix"
	TypeSSL     = "ssl"
	TypeQUIC    = "quic"
	TypeSystemd = "systemd"
	// TypeHAProxy wraps a stream endpoint and reads the PROXY protocol
	// header a load balancer sends first on every connection.
	TypeHAProxy = "haproxy"
)

// Defaults Parse fills in when a string leaves a field out.
const (
	// DefaultBacklog is Twisted's listen backlog for tcp, tcp6, unix and ssl.
	DefaultBacklog = 50
	// DefaultMode is the permission of a unix endpoint's socket file.
	DefaultMode os.FileMode = 0o666
	// DefaultPrivateKey is the key file of ssl and quic endpoints; the
	// certificate file defaults to the key file.
	DefaultPrivateKey = "server.pem"
)

// Systemd socket domains, the values of Endpoint.Domain.
const (
	DomainINET  = "INET"
	DomainINET6 = "INET6"
	DomainUNIX  = "UNIX"
)

// Sentinel errors a *ParseError wraps, for errors.Is.
var (
	// ErrUnknownType: the first field names no endpoint type.
	ErrUnknownType = errors.New("unknown endpoint type")
	// ErrSyntax: any other problem with an endpoint string.
	ErrSyntax = errors.New("endpoint syntax")
)

// Endpoint is a parsed server endpoint string. Parse fills every field
// that applies to Type, with its default when the string leaves it out;
// fields that do not apply to Type are zero. An Endpoint may also be built
// by hand, but Listen takes its fields as they are (a unix Mode of 0 makes
// a socket nobody but root can use), so start from Parse or set every
// field that applies. The zero value is not a valid endpoint.
type Endpoint struct {
	// Type is the endpoint type: "tcp", "tcp6", "unix", "ssl", "quic",
	// "systemd", "le", "lets" or "haproxy" (the Type* constants), always
	// lower case.
	Type string

	// Port is the TCP or UDP port of tcp, tcp6, ssl and quic endpoints
	// (without Inner). Required in the string; 0 picks a free port.
	Port int
	// Interface is the address to bind for tcp, tcp6, ssl and quic
	// endpoints (without Inner). Default "": every address. For tcp, ssl
	// and quic that is every IPv4 and IPv6 address; for tcp6 every IPv6
	// address only.
	Interface string
	// Backlog is the listen queue length of tcp, tcp6, unix and ssl
	// (without Inner) endpoints. Default DefaultBacklog (50), Twisted's;
	// raise it for servers that take bursts of new connections. In an
	// Endpoint built by hand, 0 keeps the system's default (somaxconn).
	Backlog int

	// Path is a unix endpoint's socket file. Required.
	Path string
	// Mode is the permission bits of a unix endpoint's socket file.
	// Default DefaultMode (0666).
	Mode os.FileMode
	// Lockfile, for unix endpoints, guards Path with Path+".lock" holding
	// the owner's pid, and lets Listen remove a stale socket file left by a
	// dead process. Default true.
	Lockfile bool

	// Domain is a systemd endpoint's address family: "INET", "INET6" or
	// "UNIX". Required.
	Domain string
	// Index selects a systemd endpoint's socket by position among the
	// inherited ones (0 is fd 3) when Name is "". Default 0.
	Index int
	// Name selects a systemd endpoint's socket by its FileDescriptorName=.
	// Exactly one of index= and name= must be given in the string; a
	// non-empty Name takes precedence and Index is then 0.
	Name string

	// PrivateKey is the PEM file holding the private key of ssl and quic
	// endpoints. Default DefaultPrivateKey ("server.pem").
	PrivateKey string
	// CertKey is the PEM file holding the certificate (and optionally its
	// chain) of ssl and quic endpoints. Default: PrivateKey, so one file
	// may hold both.
	CertKey string
	// ExtraCertChain is an optional PEM file of intermediate certificates
	// appended to the chain sent to clients. Default "".
	ExtraCertChain string
	// DHParameters is accepted for compatibility with Twisted and ignored:
	// Go's TLS has no finite-field Diffie-Hellman; ECDHE is always used.
	// Default "".
	DHParameters string
	// SSLMethod is accepted for compatibility with Twisted and ignored:
	// gotwistd always negotiates TLS 1.2 or 1.3. Default "".
	SSLMethod string

	// CertDir is the directory where an le or lets endpoint keeps its ACME
	// account key and certificates (and where it looks for them at the
	// next start). Required.
	CertDir string
	// Hosts are the DNS names an le or lets endpoint gets one certificate
	// for (hosts=, separated by commas), lower case. Required.
	Hosts []string
	// CA is the ACME directory URL of an le or lets endpoint (ca=).
	// Default "": the server's choice (gotwistd's --acme-ca), else
	// DefaultCA.
	CA string
	// Email is the contact address of an le or lets endpoint's ACME
	// account (email=). Default "": the server's --acme-email, else none.
	Email string

	// Inner is the endpoint an ssl, quic, le or lets endpoint adds TLS (or
	// QUIC) to (le and lets always have one),
	// for the wrapped forms "ssl:systemd:...", "ssl:unix:...",
	// "ssl:tcp6:...", "ssl:tcp:...", "ssl:haproxy:..." and
	// "quic:systemd:...", and the stream endpoint a haproxy endpoint reads
	// PROXY protocol headers on (always set for haproxy). When it is set,
	// Port, Interface and Backlog of the outer endpoint are zero and the
	// inner endpoint holds its own. Default nil.
	Inner *Endpoint

	// sockets, when set, replaces systemd.Sockets for this endpoint
	// (tests; see systemd.go).
	sockets socketSource
}

// ParseError reports a malformed endpoint string.
type ParseError struct {
	// Input is the endpoint string as given.
	Input string
	// Reason says what is wrong and, where possible, how to fix it.
	Reason string
	// Err is ErrUnknownType or ErrSyntax.
	Err error
}

// Error reads like `bad endpoint "tcp:abc": port "abc" is not a number`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("bad endpoint %q: %s", e.Input, e.Reason)
}

// Unwrap returns ErrUnknownType or ErrSyntax.
func (e *ParseError) Unwrap() error { return e.Err }

// String returns the canonical endpoint string: the type, its first
// positional field, then every other field that differs from its default
// as key=value, with ':', '=' and '\' escaped. Parse(e.String()) returns
// an Endpoint equal to e.
func (e *Endpoint) String() string {
	if e == nil || e.Type == TypeHAProxy && e.Inner == nil {
		return "<nil>"
	}
	var b strings.Builder
	b.WriteString(e.Type)
	kv := func(k, v string) {
		b.WriteString(":" + k + "=" + escape(v))
	}
	netFields := func() {
		b.WriteString(":" + strconv.Itoa(e.Port))
		if e.Interface != "" {
			kv("interface", e.Interface)
		}
	}
	backlog := func() {
		if e.Backlog != DefaultBacklog {
			kv("backlog", strconv.Itoa(e.Backlog))
		}
	}
	tlsFields := func() {
		if e.PrivateKey != DefaultPrivateKey {
			kv("privateKey", e.PrivateKey)
		}
		if e.CertKey != e.PrivateKey {
			kv("certKey", e.CertKey)
		}
		if e.ExtraCertChain != "" {
			kv("extraCertChain", e.ExtraCertChain)
		}
		if e.Type == TypeSSL {
			if e.DHParameters != "" {
				kv("dhParameters", e.DHParameters)
			}
			if e.SSLMethod != "" {
				kv("sslmethod", e.SSLMethod)
			}
		}
	}
	switch e.Type {
	case TypeTCP, TypeTCP6:
		netFields()
		backlog()
	case TypeUNIX:
		b.WriteString(":" + escape(e.Path))
		if e.Mode != DefaultMode {
			kv("mode", fmt.Sprintf("0%03o", uint32(e.Mode.Perm())))
		}
		backlog()
		if !e.Lockfile {
			kv("lockfile", "0")
		}
	case TypeHAProxy:
		b.WriteString(":" + e.Inner.String())
	case TypeSSL, TypeQUIC:
		if e.Inner != nil {
			b.WriteString(":" + e.Inner.String())
		} else {
			netFields()
			if e.Type == TypeSSL {
				backlog()
			}
		}
		tlsFields()
	case TypeLE, TypeLETS:
		e.acmeString(&b)
	case TypeSystemd:
		kv("domain", e.Domain)
		if e.Name != "" {
			kv("name", e.Name)
		} else {
			kv("index", strconv.Itoa(e.Index))
		}
	}
	return b.String()
}
