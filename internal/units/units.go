// Package units writes ready-to-install systemd unit files for a gotwistd
// site: a socket unit that binds every listener on gotwistd's behalf, and a
// hardened, socket-activated Type=notify service that inherits them.
//
// The units it writes use only what systemd 252 (Debian 12) understands,
// unless Options ask for newer features (Type=notify-reload needs 253).
// Their service scores well under 1.5 ("SAFE") on `systemd-analyze
// security`: socket activation lets the service run with PrivateNetwork=yes,
// no capabilities, no address families but AF_UNIX (for sd_notify), and a
// read-only view of the system.
//
// The socket unit lists its sockets in the order of Options.Listen, and the
// service picks them by position (index=N): within one socket unit systemd
// passes sockets in the order they are configured.
package units

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gotwistd/gotwistd/endpoint"
)

// DefaultBinary is where the Debian-style install puts gotwistd.
const DefaultBinary = "/usr/bin/gotwistd"

// Options describe a site. The zero value of every field but Name and Path
// has a documented default.
type Options struct {
	// Name is the units' base name: Name.service and Name.socket.
	// Required; e.g. "www.example.com".
	Name string
	// Description goes into both units. Default "NAME web server (gotwistd)".
	Description string
	// Binary is the absolute path of gotwistd. Default DefaultBinary.
	Binary string
	// Path is the absolute directory the site serves. Required.
	Path string
	// Listen are the endpoints systemd binds for the service, in Twisted's
	// endpoint syntax: tcp:PORT, tcp6:PORT, ssl:PORT:privateKey=K:certKey=C,
	// quic:PORT:privateKey=K:certKey=C (HTTP/3 over UDP), unix:PATH and
	// le:/var/lib/DIR:tcp:PORT:hosts=H (ACME; DIR becomes StateDirectory=).
	// Default ["tcp:80"].
	Listen []string
	// User and Group run the service. Default: both empty, which means
	// DynamicUser=yes (a fresh unprivileged uid for each run).
	User, Group string
	// AccessLog, when true, writes the access log to
	// /var/log/NAME/access.log (LogsDirectory=NAME). Default false: access
	// lines go to the journal with the rest of the log.
	AccessLog bool
	// Watchdog is WatchdogSec=. Default 0: none. A negative value is an
	// error.
	Watchdog time.Duration
	// NotifyReload selects Type=notify-reload (systemd >= 253) instead of
	// Type=notify with ExecReload=kill -HUP (any version). Default false.
	NotifyReload bool
	// NoSocket makes the service bind its own listeners instead of
	// inheriting them from a socket unit; it then needs network access and
	// CAP_NET_BIND_SERVICE, so the hardening is weaker. Default false.
	NoSocket bool
	// FDStoreMax is FileDescriptorStoreMax=: how many fds (listeners and
	// idle keep-alive connections) the service may park in systemd across a
	// restart so a restart loses no connection. Default 4096; -1 disables.
	FDStoreMax int
	// ExitIdleTime makes the service exit once idle this long
	// (--exit-idle-time), to be started again by its socket; the service
	// then restarts on failure only (Restart=always would start it again
	// at once). Default 0: never. Not with NoSocket.
	ExitIdleTime time.Duration
}

// File is one unit file.
type File struct {
	// Name is the unit's file name, e.g. "www.example.com.service".
	Name string
	// Content is the unit file's text.
	Content string
}

// ErrOptions is matched (errors.Is) by every error Generate returns.
var ErrOptions = errors.New("bad unit options")

func optErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, args...))
}

// listener is one socket of the site: how systemd binds it and how the
// service names it.
type listener struct {
	directive string      // "ListenStream=0.0.0.0:80"
	service   string      // "systemd:domain=INET:index=0"
	own       string      // the endpoint string for NoSocket
	mode      os.FileMode // SocketMode= for unix sockets, 0 if none
	v6only    bool        // tcp6: BindIPv6Only=ipv6-only
	inet      bool        // needs AF_INET/AF_INET6 (NoSocket)
	lowPort   bool        // binds a port below 1024 (NoSocket)
	creds     []string    // LoadCredential= lines for TLS keys and certificates
	state     string      // StateDirectory= of an le: endpoint's certificates, or ""
	network   bool        // the service talks to the network itself (an ACME CA)
}

// credDir stands for systemd's %d (the credentials directory) until the
// command line has been quoted, which doubles every other '%'.
const credDir = "\x00credentials\x00/"

// Generate returns the unit files for o: Name.socket (unless NoSocket) and
// Name.service.
func Generate(o Options) ([]File, error) {
	if err := defaults(&o); err != nil {
		return nil, err
	}
	var ls []listener
	for i, s := range o.Listen {
		l, err := plan(s, i)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	var files []File
	if !o.NoSocket {
		files = append(files, File{Name: o.Name + ".socket", Content: socketUnit(o, ls)})
	}
	files = append(files, File{Name: o.Name + ".service", Content: serviceUnit(o, ls)})
	return files, nil
}

func defaults(o *Options) error {
	if o.Name == "" {
		return optErr("a unit name is required: --name www.example.com")
	}
	for _, r := range o.Name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":_.-", r)) {
			return optErr("unit name %q has %q: use letters, digits and \":_.-\"", o.Name, r)
		}
	}
	if strings.HasSuffix(o.Name, ".service") || strings.HasSuffix(o.Name, ".socket") {
		return optErr("unit name %q: give the base name without .service or .socket", o.Name)
	}
	if o.Path == "" {
		return optErr("the directory to serve is required: --path /srv/www/%s/static", o.Name)
	}
	if !filepath.IsAbs(o.Path) {
		return optErr("--path %q must be absolute: systemd starts the service in its own working directory", o.Path)
	}
	if o.Binary == "" {
		o.Binary = DefaultBinary
	}
	if !filepath.IsAbs(o.Binary) {
		return optErr("--binary %q must be an absolute path", o.Binary)
	}
	if o.Description == "" {
		o.Description = o.Name + " web server (gotwistd)"
	}
	if len(o.Listen) == 0 {
		o.Listen = []string{"tcp:80"}
	}
	if o.Watchdog < 0 {
		return optErr("--watchdog %s is negative", o.Watchdog)
	}
	if o.Watchdog > 0 && o.Watchdog < time.Second {
		return optErr("--watchdog %s is under a second: systemd counts WatchdogSec= in seconds here", o.Watchdog)
	}
	if o.FDStoreMax == 0 {
		o.FDStoreMax = 4096
	}
	if o.ExitIdleTime < 0 {
		return optErr("--exit-idle-time %s is negative", o.ExitIdleTime)
	}
	if o.ExitIdleTime > 0 && o.NoSocket {
		return optErr("--exit-idle-time needs the socket unit: without one, nothing starts the service again (leave out --no-socket)")
	}
	if (o.User == "") != (o.Group == "") && o.User == "" {
		return optErr("--group %q needs --user as well (or neither, for DynamicUser=yes)", o.Group)
	}
	return nil
}

// plan turns the i-th endpoint string into a socket directive and the
// systemd endpoint that inherits it.
func plan(s string, i int) (listener, error) {
	e, err := endpoint.Parse(s)
	if err != nil {
		return listener{}, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	if e.Type == endpoint.TypeLE || e.Type == endpoint.TypeLETS {
		return planACME(s, i, e)
	}
	// Behind a load balancer: the socket unit binds the inner endpoint,
	// and the service reads PROXY headers on the inherited socket
	// (haproxy:systemd:..., ssl:haproxy:systemd:...).
	switch {
	case e.Type == endpoint.TypeHAProxy && e.Inner != nil:
		l, err := planEndpoint(s, e.Inner, i)
		if err == nil {
			l.service = "haproxy:" + l.service
		}
		return l, err
	case e.Type == endpoint.TypeSSL && e.Inner != nil && e.Inner.Type == endpoint.TypeHAProxy &&
		e.Inner.Inner != nil && e.Inner.Inner.Type == endpoint.TypeTCP:
		in, ne := e.Inner.Inner, *e
		ne.Inner, ne.Port, ne.Interface, ne.Backlog = nil, in.Port, in.Interface, in.Backlog
		l, err := planEndpoint(s, &ne, i)
		if err == nil {
			l.service = "ssl:haproxy:" + strings.TrimPrefix(l.service, "ssl:")
		}
		return l, err
	}
	return planEndpoint(s, e, i)
}

// planEndpoint is plan for the parsed endpoint e of the string s.
func planEndpoint(s string, e *endpoint.Endpoint, i int) (listener, error) {
	if e.Inner != nil {
		return listener{}, optErr("--listen %q already names an inner endpoint: give the port (ssl:443:...) and the units bind it", s)
	}
	idx := "index=" + strconv.Itoa(i)
	l := listener{own: s}
	addr := func(domain string) string {
		host := e.Interface
		switch {
		case host == "" && domain == "INET6":
			host = "[::]"
		case host == "":
			host = "0.0.0.0"
		case strings.Contains(host, ":"):
			host = "[" + host + "]"
		}
		return host + ":" + strconv.Itoa(e.Port)
	}
	domainOf := func() string {
		if ip := net.ParseIP(e.Interface); ip != nil && ip.To4() == nil {
			return "INET6"
		}
		return "INET"
	}
	tls := func() string {
		l.creds = append(l.creds,
			fmt.Sprintf("LoadCredential=tls-%d.key:%s", i, specifiers.Replace(e.PrivateKey)),
			fmt.Sprintf("LoadCredential=tls-%d.crt:%s", i, specifiers.Replace(e.CertKey)))
		return fmt.Sprintf(":privateKey=%[1]stls-%[2]d.key:certKey=%[1]stls-%[2]d.crt", credDir, i)
	}
	l.inet = e.Type != endpoint.TypeUNIX
	l.lowPort = l.inet && e.Port > 0 && e.Port < 1024
	switch e.Type {
	case endpoint.TypeTCP:
		d := domainOf()
		l.directive = "ListenStream=" + addr(d)
		l.service = "systemd:domain=" + d + ":" + idx
	case endpoint.TypeTCP6:
		l.directive = "ListenStream=" + addr("INET6")
		l.service = "systemd:domain=INET6:" + idx
		l.v6only = true
	case endpoint.TypeSSL:
		d := domainOf()
		l.directive = "ListenStream=" + addr(d)
		l.service = "ssl:systemd:domain=" + d + ":" + idx + tls()
	case endpoint.TypeQUIC:
		d := domainOf()
		l.directive = "ListenDatagram=" + addr(d)
		l.service = "quic:systemd:domain=" + d + ":" + idx + tls()
	case endpoint.TypeUNIX:
		if !filepath.IsAbs(e.Path) {
			return listener{}, optErr("--listen %q: a UNIX socket for systemd needs an absolute path, e.g. unix:/run/www.sock", s)
		}
		l.directive = "ListenStream=" + e.Path
		l.service = "systemd:domain=UNIX:" + idx
		l.mode = e.Mode.Perm()
	default:
		return listener{}, optErr("--listen %q: a %s endpoint cannot be bound by a socket unit; use tcp, tcp6, ssl, quic or unix", s, e.Type)
	}
	return l, nil
}

// escape protects a value inside an endpoint string (':' and '\') and inside
// a unit file's ExecStart= ('%' and '$').
func escape(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `:`, `\:`, `=`, `\=`)
	return r.Replace(v)
}

// specifiers protects a path from systemd's %-specifier expansion.
var specifiers = strings.NewReplacer("%", "%%")

// unitQuote protects a command-line word for ExecStart=.
func unitQuote(w string) string {
	w = strings.NewReplacer("%", "%%", "$", "$$").Replace(w)
	if w == "" || strings.ContainsAny(w, " \t\"'\\;") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
	}
	return w
}

func socketUnit(o Options, ls []listener) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by `gotwistd units`. Install with:\n")
	fmt.Fprintf(&b, "#   systemctl daemon-reload && systemctl enable --now %s.socket\n", o.Name)
	fmt.Fprintf(&b, "[Unit]\nDescription=%s: sockets\n\n[Socket]\n", o.Description)
	var v6only bool
	var mode os.FileMode
	for _, l := range ls {
		fmt.Fprintf(&b, "%s\n", l.directive)
		v6only = v6only || l.v6only
		if l.mode != 0 {
			mode = l.mode
		}
	}
	if v6only {
		b.WriteString("BindIPv6Only=ipv6-only\n")
	}
	if mode != 0 {
		fmt.Fprintf(&b, "SocketMode=%04o\n", uint32(mode))
	}
	b.WriteString("# Connections queue here while the service (re)starts.\nBacklog=4096\n")
	fmt.Fprintf(&b, "Service=%s.service\n\n[Install]\nWantedBy=sockets.target\n", o.Name)
	return b.String()
}

func serviceUnit(o Options, ls []listener) string {
	var u unitText
	line := u.line
	line("# Written by `gotwistd units`.")
	line("[Unit]")
	line("Description=%s", o.Description)
	if !o.NoSocket {
		line("Requires=%s.socket", o.Name)
		line("After=%s.socket", o.Name)
	} else {
		line("After=network.target")
	}
	line("")
	line("[Service]")
	if o.NotifyReload {
		line("Type=notify-reload")
	} else {
		line("Type=notify")
		line("ExecReload=/bin/kill -HUP $MAINPID")
	}
	line("ExecStart=%s", execStart(o, ls))
	line("WorkingDirectory=%s", specifiers.Replace(o.Path))
	if o.ExitIdleTime > 0 {
		line("# It exits 0 when idle; the socket starts it again.")
		line("Restart=on-failure")
	} else {
		line("Restart=always")
	}
	line("NotifyAccess=main")
	if o.Watchdog > 0 {
		line("WatchdogSec=%d", int(o.Watchdog/time.Second))
	}
	if o.FDStoreMax > 0 {
		line("# Idle keep-alive connections wait here across a restart.")
		line("FileDescriptorStoreMax=%d", o.FDStoreMax)
		line("# systemd >= 254 sets FDSTORE itself; gotwistd parks connections when it is set.")
		line("Environment=FDSTORE=%d", o.FDStoreMax)
	}
	if o.AccessLog {
		line("LogsDirectory=%s", o.Name)
	}
	u.stateAndCredentials(o, ls)
	u.user(o)
	u.sandbox(o, ls)
	return u.b.String()
}

// unitText is a unit file being written, a line at a time.
type unitText struct{ b strings.Builder }

func (u *unitText) line(format string, args ...any) { fmt.Fprintf(&u.b, format+"\n", args...) }

// execStart returns the service's command line, one option and its value a
// line, as the tutorial writes ExecStart=.
func execStart(o Options, ls []listener) string {
	words := [][]string{{o.Binary}, {"--nodaemon"}, {"--pidfile="}, {"web", "--path", "."}}
	for _, l := range ls {
		ep := l.service
		if o.NoSocket {
			ep = l.own
		}
		words = append(words, []string{"--listen", ep})
	}
	if o.AccessLog {
		words = append(words, []string{"--logfile", "/var/log/" + o.Name + "/access.log"})
	}
	if o.ExitIdleTime > 0 {
		words = append(words, []string{"--exit-idle-time", o.ExitIdleTime.String()})
	}
	var cmd []string
	for _, ws := range words {
		for i, w := range ws {
			ws[i] = unitQuote(w)
		}
		cmd = append(cmd, strings.Join(ws, " "))
	}
	exec := strings.Join(cmd, " \\\n    ")
	return strings.ReplaceAll(exec, credDir, "%d/")
}

// stateAndCredentials writes the StateDirectory= of le: endpoints and the
// credentials that carry TLS keys.
func (u *unitText) stateAndCredentials(o Options, ls []listener) {
	var states []string
	for _, l := range ls {
		if l.state != "" && !slices.Contains(states, l.state) {
			states = append(states, l.state)
		}
	}
	if len(states) > 0 {
		u.line("# ACME account and certificates (le:), kept across restarts in /var/lib.")
		u.line("StateDirectory=%s", specifiers.Replace(strings.Join(states, " ")))
	}
	var creds bool
	for _, l := range ls {
		for _, c := range l.creds {
			if !creds {
				u.line("# TLS keys reach the service through systemd's credentials, readable by it alone.")
				u.line("# After renewing a certificate: systemctl restart %s.service", o.Name)
				creds = true
			}
			u.line("%s", c)
		}
	}
}

// user writes who runs the service.
func (u *unitText) user(o Options) {
	u.line("")
	u.line("# Who runs it.")
	if o.User == "" {
		u.line("DynamicUser=yes")
	} else {
		u.line("User=%s", o.User)
		if o.Group != "" {
			u.line("Group=%s", o.Group)
		}
	}
}

// sandbox writes the hardening: what the listeners need of the network and
// of capabilities, then what every service gets.
func (u *unitText) sandbox(o Options, ls []listener) {
	u.line("")
	u.line("# Hardening: score it with `systemd-analyze security %s.service`.", o.Name)
	if o.NoSocket {
		u.line("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6")
		low := false
		for _, l := range ls {
			low = low || l.lowPort
		}
		if low {
			u.line("AmbientCapabilities=CAP_NET_BIND_SERVICE")
			u.line("CapabilityBoundingSet=CAP_NET_BIND_SERVICE")
		} else {
			u.line("CapabilityBoundingSet=")
			u.line("AmbientCapabilities=")
		}
	} else if slices.ContainsFunc(ls, func(l listener) bool { return l.network }) {
		u.line("# The sockets come from %s.socket; the service reaches the ACME CA itself.", o.Name)
		u.line("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6")
		u.line("CapabilityBoundingSet=")
		u.line("AmbientCapabilities=")
		u.line("PrivateUsers=yes")
	} else {
		u.line("# The sockets come from %s.socket, so the service needs no network of its own.", o.Name)
		u.line("PrivateNetwork=yes")
		u.line("IPAddressDeny=any")
		u.line("RestrictAddressFamilies=AF_UNIX")
		u.line("CapabilityBoundingSet=")
		u.line("AmbientCapabilities=")
		u.line("PrivateUsers=yes")
	}
	for _, d := range hardening {
		u.line("%s", d)
	}
}

// hardening is what every generated service gets, whatever its listeners.
var hardening = []string{
	"NoNewPrivileges=yes",
	"ProtectSystem=strict",
	"ProtectHome=yes",
	"PrivateTmp=yes",
	"PrivateDevices=yes",
	"PrivateMounts=yes",
	"DevicePolicy=closed",
	"ProtectKernelTunables=yes",
	"ProtectKernelModules=yes",
	"ProtectKernelLogs=yes",
	"ProtectControlGroups=yes",
	"ProtectClock=yes",
	"ProtectHostname=yes",
	"ProtectProc=invisible",
	"ProcSubset=pid",
	"RestrictNamespaces=yes",
	"RestrictRealtime=yes",
	"RestrictSUIDSGID=yes",
	"LockPersonality=yes",
	"MemoryDenyWriteExecute=yes",
	"RemoveIPC=yes",
	"KeyringMode=private",
	"UMask=0077",
	"SystemCallArchitectures=native",
	"SystemCallFilter=@system-service",
	"SystemCallFilter=~@privileged @resources",
	"SystemCallErrorNumber=EPERM",
}
