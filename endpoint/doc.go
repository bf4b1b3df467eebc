// Package endpoint turns Twisted's server endpoint strings into listening
// sockets: "tcp:8080", "unix:/run/www.sock:mode=660",
// "ssl:443:privateKey=key.pem:certKey=cert.pem",
// "systemd:domain=INET:name=my-web-port". It is what gotwistd's --listen
// option uses, and any Go daemon can import it to accept the same strings.
//
//	e, err := endpoint.Parse("systemd:domain=INET:name=my-web-port")
//	if err != nil {
//		return err // bad endpoint "...": what is wrong and how to fix it
//	}
//	l, err := e.Listen(ctx)
//	if err != nil {
//		return err
//	}
//	defer l.Close()
//	log.Printf("Site starting on %s", l.Description())
//	return http.Serve(l.Stream, handler)
//
// # Grammar
//
// An endpoint string is a list of fields separated by ':'. A backslash makes
// the next character literal, so "\:" is a colon inside a field, "\=" an
// equals sign and "\\" a backslash. The first field is the type, matched
// without regard to case. A field holding an unescaped '=' is a keyword
// argument: the text before the first '=' is the key (matched without
// regard to case), everything after it the value, further '=' included. A
// field without '=' is positional: positional fields fill the type's
// arguments in Twisted's order. A keyword given twice: the last wins; an
// argument given both positionally and as a keyword is an error, as is an
// unknown keyword or an extra positional field. A bare number N, or a
// first field that is a number, means tcp:N (Twisted dropped that form in
// 17.1; gotwistd keeps it so old command lines such as --port 8080 work).
//
// # Types
//
// tcp: TCP on IPv4 and IPv6.
//
//	tcp:PORT[:INTERFACE[:BACKLOG]]
//	port       required; 0 picks a free port
//	interface  default "": every address, IPv4 and IPv6 (Twisted: IPv4 only)
//	backlog    default 50
//
// tcp6: TCP on IPv6 only (IPV6_V6ONLY is set).
//
//	tcp6:PORT[:BACKLOG[:INTERFACE]]
//	port       required
//	backlog    default 50
//	interface  default "": every IPv6 address; e.g. interface=\:\:1
//
// unix: a UNIX stream socket.
//
//	unix:ADDRESS[:MODE[:BACKLOG[:LOCKFILE]]]
//	address    required: the socket file's path; a path starting with '@'
//	           is in Linux's abstract namespace (no file, mode or lock)
//	mode       default 0666: octal permission bits of the socket file
//	backlog    default 50
//	lockfile   default 1: take ADDRESS.lock (a symbolic link to the owner's
//	           pid, as Twisted writes it), refuse to start while a live
//	           process holds it, remove a stale socket file left by a dead
//	           one, and remove both files on Close. With lockfile=0 an
//	           existing socket file makes Listen fail.
//
// ssl: TLS over TCP (HTTPS).
//
//	ssl:PORT[:PRIVATEKEY[:CERTKEY[:SSLMETHOD[:INTERFACE[:BACKLOG[:EXTRACERTCHAIN[:DHPARAMETERS]]]]]]]
//	port            required
//	privateKey      default server.pem: PEM file with the private key
//	certKey         default: privateKey (one file may hold key and certificate)
//	sslmethod       accepted and ignored: TLS 1.2 and 1.3 are always offered
//	interface       default "": every address, IPv4 and IPv6
//	backlog         default 50
//	extraCertChain  default none: PEM file of intermediate certificates,
//	                appended to the chain sent to clients
//	dhParameters    accepted and ignored: Go's TLS has no finite-field
//	                Diffie-Hellman; key exchange is always ECDHE (X25519MLKEM768,
//	                X25519, P-256, ...)
//
// TLS settings: TLS 1.2 at least; for TLS 1.2 only ECDHE suites with
// AES-GCM or ChaCha20-Poly1305 (no CBC, no RSA key exchange); ALPN offers
// h2 and http/1.1. The certificate files are read at Listen, and again by
// Listener.ReloadCertificates.
//
// systemd: a socket passed by systemd socket activation (LISTEN_FDS).
//
//	systemd:DOMAIN[:INDEX[:NAME]]
//	domain  required: INET, INET6 or UNIX, the socket's address family
//	index   the socket's position among those passed: 0 is fd 3
//	name    the socket's FileDescriptorName= (LISTEN_FDNAMES)
//
// Exactly one of index and name must be given. Unlike Twisted >= 22.10,
// index= works when systemd passes no names. When several sockets have the
// name, the first whose family and type suit the endpoint is used, so one
// .socket unit with FileDescriptorName=https may carry both ListenStream=443
// (for ssl:systemd:...:name=https) and ListenDatagram=443 (for
// quic:systemd:...:name=https). Listen checks the socket's real family and
// type: a UDP socket for a stream endpoint, an INET6 socket for
// domain=INET, a missing index or name are errors that say how to fix the
// unit, where Twisted would log "Site starting" and then fail every
// accept. A connected socket (a unit with Accept=yes) gives a Listener
// whose AcceptOnce is true: its Stream returns that connection once, and
// later Accepts block until Close; the server should exit when that
// connection ends.
//
// # TLS and HTTP/3 on any socket (gotwistd extensions)
//
// Twisted cannot put TLS on an inherited socket. Here ssl wraps another
// endpoint when its first positional field is an endpoint type; the TLS
// keywords (privateKey, certKey, extraCertChain, dhParameters, sslmethod)
// stay with ssl and every other field belongs to the wrapped endpoint:
//
//	ssl:systemd:domain=INET6:name=https:privateKey=key.pem:certKey=cert.pem
//	ssl:unix:/run/www-tls.sock:mode=660:privateKey=key.pem
//	ssl:tcp6:443:interface=\:\:1:privateKey=key.pem
//
// quic is HTTP/3's transport: a UDP socket and a TLS 1.3 configuration with
// ALPN h3. Listen binds the socket and loads the certificate; the server
// (for example quic-go's http3) runs QUIC on Listener.Packet.
//
//	quic:PORT[:PRIVATEKEY[:CERTKEY[:INTERFACE[:EXTRACERTCHAIN]]]]
//	quic:systemd:domain=INET6:name=https:privateKey=key.pem:certKey=cert.pem
//
// port, privateKey, certKey, interface and extraCertChain mean what they
// mean for ssl. quic wraps only systemd sockets, which must then be
// datagram sockets (ListenDatagram=).
//
// # Automatic HTTPS by ACME (le, lets)
//
// le gets its certificate from an ACME certificate authority (Let's
// Encrypt by default) and renews it; lets is the same with Let's
// Encrypt's staging directory as the default CA (txacme's two spellings).
// The first field is the directory that keeps the ACME account key and the
// certificates across restarts; the endpoint that follows is the socket
// (tcp, tcp6, unix or systemd, as for ssl):
//
//	le:DIRECTORY:ENDPOINT:hosts=NAME[,NAME...][:ca=URL][:email=ADDRESS]
//	le:/var/lib/gotwistd/certs:tcp:443:hosts=example.com,www.example.com
//	le:/var/lib/gotwistd/certs:systemd:domain=INET6:name=https:hosts=example.com
//
//	directory  required: created if missing (mode 0700)
//	hosts      required: the DNS names of the one certificate, lower-cased;
//	           no wildcards (they need dns-01)
//	ca         default "": the server's choice (gotwistd web --acme-ca),
//	           else LetsEncryptURL (le) or LetsEncryptStagingURL (lets)
//	email      default "": the account's contact (gotwistd web --acme-email)
//
// Listen binds the socket and loads a cached certificate without any
// network traffic; Listener.ACME then obtains and renews it (see package
// acme). The TLS configuration is ssl's, with acme-tls/1 added to ALPN so
// the CA's tls-alpn-01 validation is answered on the same socket.
//
// # PROXY protocol behind a load balancer (haproxy)
//
// haproxy wraps a stream endpoint (tcp, tcp6, unix or systemd) whose every
// connection starts with a PROXY protocol header, version 1 (text) or 2
// (binary), as HAProxy's send-proxy and send-proxy-v2, nginx's
// proxy_protocol, and the network load balancers of AWS and GCP send it.
// It has no arguments of its own, as in Twisted:
//
//	haproxy:tcp:8080
//	haproxy:8080                          (the same)
//	haproxy:unix:/run/www.sock:mode=660
//	haproxy:systemd:domain=INET:name=lb
//	ssl:haproxy:tcp:443:privateKey=key.pem:certKey=cert.pem
//	ssl:haproxy:systemd:domain=INET6:name=https:privateKey=key.pem
//
// A balancer passing TLS through sends the header first and the TLS
// handshake after it, so the PROXY layer sits beneath TLS: ssl wraps
// haproxy, read from the outside in. haproxy:ssl:... is refused with that
// hint (in Twisted it would expect the header inside TLS, which no
// balancer sends). quic cannot be wrapped: the PROXY protocol is for
// streams.
//
// The header is required. Listener.Stream is then a *ProxyListener:
// Accept returns at once, and each connection reads its header on its
// first Read, RemoteAddr or Handshake, on the goroutine that serves it,
// within ProxyListener.HeaderTimeout; it reads exactly the header (with
// MSG_PEEK), so a server may read the socket itself afterwards. Its
// RemoteAddr and LocalAddr are then the header's source and destination
// (the socket's own for version 2 LOCAL commands, a balancer's health
// checks, and version 1 UNKNOWN). A connection whose header is missing,
// malformed, longer than the specification allows (107 bytes for version
// 1; MaxProxyV2Header for version 2) or late fails its reads, and
// ProxyListener.OnError hears of it once. Version 2 TLVs are checked to
// fit the header and skipped; the AF_INET, AF_INET6 and AF_UNIX families
// are understood.
//
// # Canonical form
//
// Endpoint.String gives a canonical string: the lower-case type, the first
// positional argument (port, path; domain as domain=), then only the
// arguments that differ from their defaults, as key=value with ':', '=' and
// '\' escaped. Parse(e.String()) returns an Endpoint equal to e.
//
// # A socket unit
//
// The tutorial's socket-activated web server, with HTTPS and HTTP/3 added:
//
//	# www.socket
//	[Socket]
//	ListenStream=443
//	ListenDatagram=443
//	FileDescriptorName=https
//
//	# www.service
//	[Service]
//	ExecStart=/usr/bin/gotwistd --nodaemon --pidfile= web \
//	    --listen ssl:systemd:domain=INET6:name=https:privateKey=/etc/ssl/www.key:certKey=/etc/ssl/www.pem \
//	    --listen quic:systemd:domain=INET6:name=https:privateKey=/etc/ssl/www.key:certKey=/etc/ssl/www.pem \
//	    --path /srv/www
//
// (ListenStream=443 makes an IPv6 socket that also accepts IPv4, hence
// domain=INET6; ListenStream=0.0.0.0:443 would make an INET one.)
//
// The package works on Linux; the systemd type needs Linux.
package endpoint
