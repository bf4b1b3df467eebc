package main

// How each server is started: gotwistd and twistd3 as the tutorial's unit
// runs them, the peers with configurations as their Debian packages ship
// them. Split from servers.go, which keeps the server list and starting
// and waiting for one.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func writeConfigs(dir string, files map[string]string) error {
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// launchTwistdLike runs twistd3 or gotwistd the way the tutorial's unit file
// does. The runner's own log goes to /dev/null; without web's --logfile,
// twistd writes access lines to that main log, so "off" means "formatted and
// thrown away" for twistd3 (it has no way to turn them off).
func launchTwistdLike(def **serverDef, gomaxprocs bool) func(e *benchEnv, dir string, o launchOpts) (launchSpec, error) {
	return func(e *benchEnv, dir string, o launchOpts) (launchSpec, error) {
		// twistd's log file rotates every 1,000,000 bytes whatever it
		// is: given /dev/null, it renames the device away and leaves a
		// plain file in its place. So twistd3 logs into the run's dir;
		// gotwistd never rotates anything but a regular file.
		mainLog := "/dev/null"
		if (*def).name == "twistd3" {
			mainLog = filepath.Join(dir, "twistd.log")
		}
		argv := []string{"--nodaemon", "--pidfile=", "-l", mainLog, "web",
			"--listen", fmt.Sprintf("tcp:%d:interface=127.0.0.1", o.httpPort)}
		if o.httpsPort != 0 {
			argv = append(argv, "--listen",
				fmt.Sprintf("ssl:%d:privateKey=%s:certKey=%s:interface=127.0.0.1", o.httpsPort, e.key, e.cert))
			if (*def).h3 {
				// HTTP/3 on the UDP port of the same number, with the same certificate.
				argv = append(argv, "--listen",
					fmt.Sprintf("quic:%d:privateKey=%s:certKey=%s:interface=127.0.0.1", o.httpsPort, e.key, e.cert))
			}
		}
		argv = append(argv, (*def).args...)
		argv = append(argv, "--path", e.docroot)
		if o.accessLog != "" {
			argv = append(argv, "--logfile", o.accessLog)
		} else if (*def).noAccessLog {
			argv = append(argv, "--no-access-log")
		}
		var env []string
		if gomaxprocs {
			env = append(env, "GOMAXPROCS=2")
		}
		return launchSpec{argv: argv, env: env}, nil
	}
}

func launchNginx(e *benchEnv, dir string, o launchOpts) (launchSpec, error) {
	logLine := "access_log off;"
	if o.accessLog != "" {
		logLine = fmt.Sprintf("access_log %s combined;", o.accessLog)
	}
	https := ""
	if o.httpsPort != 0 {
		https = fmt.Sprintf(`    server {
        listen 127.0.0.1:%d ssl http2;
        ssl_certificate %s;
        ssl_certificate_key %s;
        root %s;
    }
`, o.httpsPort, e.cert, e.key, e.docroot)
	}
	conf := fmt.Sprintf(`# gotwistd bench: nginx with Debian's usual file-serving settings.
user root;
worker_processes 2;
worker_rlimit_nofile 65536;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events {
    worker_connections 20000;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    # No cap on requests per connection, like h2o, caddy and gotwistd: with
    # nginx's default of 1000, each HTTP/2 connection ends with a GOAWAY that
    # h2load does not reconnect after.
    keepalive_requests 1000000;
    # Compression on, as a user serving a site would have it (the br
    # cases); nginx has no brotli without a third-party module.
    gzip on;
    gzip_types text/css application/javascript text/javascript application/json image/svg+xml text/plain text/xml;
    gzip_vary on;
    %[2]s
    client_body_temp_path %[1]s/tmp;
    proxy_temp_path %[1]s/tmp;
    fastcgi_temp_path %[1]s/tmp;
    uwsgi_temp_path %[1]s/tmp;
    scgi_temp_path %[1]s/tmp;
    server {
        listen 127.0.0.1:%[3]d;
        root %[4]s;
    }
%[5]s}
`, dir, logLine, o.httpPort, e.docroot, https)
	files := map[string]string{"nginx.conf": conf}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return launchSpec{}, err
	}
	if err := writeConfigs(dir, files); err != nil {
		return launchSpec{}, err
	}
	return launchSpec{
		argv:    []string{"-p", dir + "/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log")},
		configs: files,
	}, nil
}

func launchH2O(e *benchEnv, dir string, o launchOpts) (launchSpec, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `# gotwistd bench: h2o
user: root
num-threads: 2
max-connections: 20000
http1-request-timeout: 60
http2-idle-timeout: 60
pid-file: %s/h2o.pid
error-log: %s/error.log
listen:
  host: 127.0.0.1
  port: %d
`, dir, dir, o.httpPort)
	if o.httpsPort != 0 {
		// h2o takes a repeated "listen" key for a second listener.
		fmt.Fprintf(&b, `listen:
  host: 127.0.0.1
  port: %d
  ssl:
    certificate-file: %s
    key-file: %s
`, o.httpsPort, e.cert, e.key)
	}
	if o.accessLog != "" {
		fmt.Fprintf(&b, "access-log: %s\n", o.accessLog)
	}
	fmt.Fprintf(&b, `compress: ON
hosts:
  default:
    paths:
      /:
        file.dir: %s
`, e.docroot)
	files := map[string]string{"h2o.conf": b.String()}
	if err := writeConfigs(dir, files); err != nil {
		return launchSpec{}, err
	}
	return launchSpec{argv: []string{"-c", filepath.Join(dir, "h2o.conf")}, configs: files}, nil
}

func launchLighttpd(e *benchEnv, dir string, o launchOpts) (launchSpec, error) {
	var b strings.Builder
	mods := `"mod_openssl"`
	deflate := ""
	if _, err := os.Stat("/usr/lib/lighttpd/mod_deflate.so"); err == nil {
		// Debian ships it apart, in lighttpd-mod-deflate (./bench/run installs it).
		mods += `, "mod_deflate"`
		// With a cache dir, as Debian's conf-available/20-deflate.conf has it:
		// a static file is compressed once and served from the cache.
		cache := filepath.Join(dir, "compress")
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return launchSpec{}, err
		}
		deflate = fmt.Sprintf("deflate.mimetypes = ( \"text/\", \"application/javascript\" )\n"+
			"deflate.allowed-encodings = ( \"brotli\", \"gzip\" )\ndeflate.cache-dir = \"%s/\"\n", cache)
	}
	if o.accessLog != "" {
		mods += `, "mod_accesslog"`
	}
	fmt.Fprintf(&b, `# gotwistd bench: lighttpd
server.modules = ( %s )
server.document-root = "%s"
server.bind = "127.0.0.1"
server.port = %d
server.max-worker = 2
server.max-fds = 40000
server.max-connections = 20000
server.max-keep-alive-idle = 60
server.max-keep-alive-requests = 65535
server.errorlog = "%s/error.log"
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html", ".js" => "text/javascript", ".bin" => "application/octet-stream" )
%s`, mods, e.docroot, o.httpPort, dir, deflate)
	if o.httpsPort != 0 {
		fmt.Fprintf(&b, `$SERVER["socket"] == "127.0.0.1:%d" {
    ssl.engine = "enable"
    ssl.pemfile = "%s"
    ssl.privkey = "%s"
}
`, o.httpsPort, e.cert, e.key)
	}
	if o.accessLog != "" {
		fmt.Fprintf(&b, "accesslog.filename = \"%s\"\n", o.accessLog)
	}
	files := map[string]string{"lighttpd.conf": b.String()}
	if err := writeConfigs(dir, files); err != nil {
		return launchSpec{}, err
	}
	return launchSpec{argv: []string{"-D", "-f", filepath.Join(dir, "lighttpd.conf")}, configs: files}, nil
}

func launchCaddy(e *benchEnv, dir string, o launchOpts) (launchSpec, error) {
	logBlock := ""
	if o.accessLog != "" {
		logBlock = fmt.Sprintf("    log {\n        output file %s\n    }\n", o.accessLog)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# gotwistd bench: caddy
{
    admin off
    auto_https off
    servers {
        protocols h1 h2 h3
    }
}
http://127.0.0.1:%d {
    bind 127.0.0.1
    root * %s
    encode zstd gzip
    file_server
%s}
`, o.httpPort, e.docroot, logBlock)
	if o.httpsPort != 0 {
		fmt.Fprintf(&b, `https://127.0.0.1:%d {
    bind 127.0.0.1
    tls %s %s
    root * %s
    encode zstd gzip
    file_server
%s}
`, o.httpsPort, e.cert, e.key, e.docroot, logBlock)
	}
	files := map[string]string{"Caddyfile": b.String()}
	if err := writeConfigs(dir, files); err != nil {
		return launchSpec{}, err
	}
	return launchSpec{
		argv: []string{"run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile"},
		env: []string{"GOMAXPROCS=2", "HOME=" + dir, "XDG_DATA_HOME=" + filepath.Join(dir, "data"),
			"XDG_CONFIG_HOME=" + filepath.Join(dir, "config")},
		configs: files,
	}, nil
}
