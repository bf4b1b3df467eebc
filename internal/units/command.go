package units

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
)

const hint = "gotwistd units --help"

var parser = &getopt.Parser{Hint: hint, Options: []getopt.Option{
	{Long: "name", Arg: true, Meta: "NAME", Help: "Base name of the units: NAME.service and NAME.socket (required)."},
	{Long: "path", Arg: true, Meta: "DIR", Help: "Absolute directory the site serves (required)."},
	{Long: "listen", Arg: true, Meta: "ENDPOINT", Help: "A socket for systemd to bind, repeatable: tcp:PORT, tcp6:PORT, ssl:PORT:privateKey=K:certKey=C, quic:PORT:privateKey=K:certKey=C (HTTP/3), unix:PATH, le:/var/lib/NAME/acme:tcp:443:hosts=H (ACME; the directory becomes StateDirectory=).", Default: "tcp:80"},
	{Long: "user", Arg: true, Meta: "USER", Help: "User= of the service.", Default: "DynamicUser=yes"},
	{Long: "group", Arg: true, Meta: "GROUP", Help: "Group= of the service."},
	{Long: "watchdog", Arg: true, Meta: "DURATION", Help: "WatchdogSec=, e.g. 30s; 0 for none.", Default: "0"},
	{Long: "access-log", Help: "Write the access log to /var/log/NAME/access.log instead of the journal."},
	{Long: "notify-reload", Help: "Use Type=notify-reload (systemd >= 253) instead of Type=notify + ExecReload=."},
	{Long: "no-socket", Help: "No socket unit: the service binds its own listeners (weaker hardening)."},
	{Long: "fdstore-max", Arg: true, Meta: "N", Help: "FileDescriptorStoreMax=: connections kept across a restart; 0 for none.", Default: "4096"},
	{Long: "exit-idle-time", Arg: true, Meta: "DURATION", Help: "Make the service exit once no connection has been open this long; its socket starts it again. 0 for never.", Default: "0"},
	{Long: "binary", Arg: true, Meta: "PATH", Help: "Absolute path of gotwistd.", Default: DefaultBinary},
	{Long: "out", Arg: true, Meta: "DIR", Help: "Write the unit files into DIR (e.g. /etc/systemd/system) instead of printing them."},
	{Long: "force", Help: "With --out, replace unit files that already exist."},
	{Long: "help", Help: "Display this help and exit."},
}}

// Command runs `gotwistd units ARGS`: it writes the unit files of a site to
// stdout, or into the --out directory, and returns a usage or I/O error.
func Command(args []string, stdout io.Writer) error {
	results, rest, err := parser.Parse(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return getopt.Usagef(hint, "unexpected argument %q", rest[0])
	}
	var o Options
	var out string
	var force bool
	for _, r := range results {
		switch r.Name {
		case "name":
			o.Name = r.Value
		case "path":
			o.Path = r.Value
		case "listen":
			o.Listen = append(o.Listen, r.Value)
		case "user":
			o.User = r.Value
		case "group":
			o.Group = r.Value
		case "watchdog":
			d, err := time.ParseDuration(r.Value)
			if r.Value == "0" {
				d, err = 0, nil
			}
			if err != nil {
				return getopt.Usagef(hint, "%s %q is not a duration: write e.g. 30s", r.Written, r.Value)
			}
			o.Watchdog = d
		case "access-log":
			o.AccessLog = true
		case "notify-reload":
			o.NotifyReload = true
		case "no-socket":
			o.NoSocket = true
		case "fdstore-max":
			n, err := strconv.Atoi(r.Value)
			if err != nil || n < 0 {
				return getopt.Usagef(hint, "%s %q is not a count: write e.g. 4096, or 0 for none", r.Written, r.Value)
			}
			o.FDStoreMax = n
			if n == 0 {
				o.FDStoreMax = -1
			}
		case "exit-idle-time":
			d, err := time.ParseDuration(r.Value)
			if r.Value == "0" {
				d, err = 0, nil
			}
			if err != nil || d < 0 {
				return getopt.Usagef(hint, "%s %q is not a duration: write e.g. 5m", r.Written, r.Value)
			}
			o.ExitIdleTime = d
		case "binary":
			o.Binary = r.Value
		case "out":
			out = r.Value
		case "force":
			force = true
		case "help":
			fmt.Fprintln(stdout, "Usage: gotwistd units --name NAME --path DIR [options]")
			fmt.Fprintln(stdout, "Writes a hardened, socket-activated systemd service and socket for a site.")
			fmt.Fprintln(stdout)
			return parser.WriteHelp(stdout)
		}
	}
	files, err := Generate(o)
	if err != nil {
		if errors.Is(err, ErrOptions) {
			return getopt.Usagef(hint, "%s", err)
		}
		return err
	}
	if out == "" {
		for _, f := range files {
			if _, err := fmt.Fprintf(stdout, "# ==> %s <==\n%s\n", f.Name, f.Content); err != nil {
				return err
			}
		}
		return nil
	}
	return write(out, files, force, stdout)
}

// write puts files into dir; it never replaces an existing file unless
// force, and checks them all before writing any.
func write(dir string, files []File, force bool, stdout io.Writer) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--out %s: not a directory", dir)
	}
	if !force {
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(dir, f.Name)); !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s already exists: use --force to replace it", filepath.Join(dir, f.Name))
			}
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, []byte(f.Content), 0o644); err != nil {
			return fmt.Errorf("write unit: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("write unit: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	fmt.Fprintf(stdout, "next: systemctl daemon-reload && systemctl enable --now %s\n", firstUnit(files))
	return nil
}

func firstUnit(files []File) string { return files[0].Name }
