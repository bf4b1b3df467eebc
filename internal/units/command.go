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

// cmdLine is what Command builds while it reads the options.
type cmdLine struct {
	o     Options
	out   string // --out; "" prints the units
	force bool   // --force
}

// errHelp is --help's: Command prints the help, and reads no option after
// it.
var errHelp = errors.New("help")

// specs are the options of `gotwistd units`, in the order --help shows,
// each with what it does to the command line being read.
var specs = getopt.Specs[cmdLine]{
	{Option: getopt.Option{Long: "name", Arg: true, Meta: "NAME", Help: "Base name of the units: NAME.service and NAME.socket (required)."},
		Set: func(c *cmdLine, r getopt.Result) error { c.o.Name = r.Value; return nil }},
	{Option: getopt.Option{Long: "path", Arg: true, Meta: "DIR", Help: "Absolute directory the site serves (required)."},
		Set: func(c *cmdLine, r getopt.Result) error { c.o.Path = r.Value; return nil }},
	{Option: getopt.Option{Long: "listen", Arg: true, Meta: "ENDPOINT", Help: "A socket for systemd to bind, repeatable: tcp:PORT, tcp6:PORT, ssl:PORT:privateKey=K:certKey=C, quic:PORT:privateKey=K:certKey=C (HTTP/3), unix:PATH, le:/var/lib/NAME/acme:tcp:443:hosts=H (ACME; the directory becomes StateDirectory=).", Default: "tcp:80"},
		Set: func(c *cmdLine, r getopt.Result) error { c.o.Listen = append(c.o.Listen, r.Value); return nil }},
	{Option: getopt.Option{Long: "user", Arg: true, Meta: "USER", Help: "User= of the service.", Default: "DynamicUser=yes"},
		Set: func(c *cmdLine, r getopt.Result) error { c.o.User = r.Value; return nil }},
	{Option: getopt.Option{Long: "group", Arg: true, Meta: "GROUP", Help: "Group= of the service."},
		Set: func(c *cmdLine, r getopt.Result) error { c.o.Group = r.Value; return nil }},
	{Option: getopt.Option{Long: "watchdog", Arg: true, Meta: "DURATION", Help: "WatchdogSec=, e.g. 30s; 0 for none.", Default: "0"},
		Set: setWatchdog},
	{Option: getopt.Option{Long: "access-log", Help: "Write the access log to /var/log/NAME/access.log instead of the journal."},
		Set: func(c *cmdLine, _ getopt.Result) error { c.o.AccessLog = true; return nil }},
	{Option: getopt.Option{Long: "notify-reload", Help: "Use Type=notify-reload (systemd >= 253) instead of Type=notify + ExecReload=."},
		Set: func(c *cmdLine, _ getopt.Result) error { c.o.NotifyReload = true; return nil }},
	{Option: getopt.Option{Long: "no-socket", Help: "No socket unit: the service binds its own listeners (weaker hardening)."},
		Set: func(c *cmdLine, _ getopt.Result) error { c.o.NoSocket = true; return nil }},
	{Option: getopt.Option{Long: "fdstore-max", Arg: true, Meta: "N", Help: "FileDescriptorStoreMax=: connections kept across a restart; 0 for none.", Default: "4096"},
		Set: setFDStoreMax},
	{Option: getopt.Option{Long: "exit-idle-time", Arg: true, Meta: "DURATION", Help: "Make the service exit once no connection has been open this long; its socket starts it again. 0 for never.", Default: "0"},
		Set: setExitIdleTime},
	{Option: getopt.Option{Long: "binary", Arg: true, Meta: "PATH", Help: "Absolute path of gotwistd.", Default: DefaultBinary},
		Set: func(c *cmdLine, r getopt.Result) error { c.o.Binary = r.Value; return nil }},
	{Option: getopt.Option{Long: "out", Arg: true, Meta: "DIR", Help: "Write the unit files into DIR (e.g. /etc/systemd/system) instead of printing them."},
		Set: func(c *cmdLine, r getopt.Result) error { c.out = r.Value; return nil }},
	{Option: getopt.Option{Long: "force", Help: "With --out, replace unit files that already exist."},
		Set: func(c *cmdLine, _ getopt.Result) error { c.force = true; return nil }},
	{Option: getopt.Option{Long: "help", Help: "Display this help and exit."},
		Set: func(*cmdLine, getopt.Result) error { return errHelp }},
}

var parser = specs.Parser(hint)

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
	var c cmdLine
	if err := specs.Apply(&c, results); errors.Is(err, errHelp) {
		fmt.Fprintln(stdout, "Usage: gotwistd units --name NAME --path DIR [options]")
		fmt.Fprintln(stdout, "Writes a hardened, socket-activated systemd service and socket for a site.")
		fmt.Fprintln(stdout)
		return parser.WriteHelp(stdout)
	} else if err != nil {
		return err
	}
	files, err := Generate(c.o)
	if err != nil {
		if errors.Is(err, ErrOptions) {
			return getopt.Usagef(hint, "%s", err)
		}
		return err
	}
	if c.out == "" {
		for _, f := range files {
			if _, err := fmt.Fprintf(stdout, "# ==> %s <==\n%s\n", f.Name, f.Content); err != nil {
				return err
			}
		}
		return nil
	}
	return write(c.out, files, c.force, stdout)
}

func setWatchdog(c *cmdLine, r getopt.Result) error {
	d, err := time.ParseDuration(r.Value)
	if r.Value == "0" {
		d, err = 0, nil
	}
	if err != nil {
		return getopt.Usagef(hint, "%s %q is not a duration: write e.g. 30s", r.Written, r.Value)
	}
	c.o.Watchdog = d
	return nil
}

func setFDStoreMax(c *cmdLine, r getopt.Result) error {
	n, err := strconv.Atoi(r.Value)
	if err != nil || n < 0 {
		return getopt.Usagef(hint, "%s %q is not a count: write e.g. 4096, or 0 for none", r.Written, r.Value)
	}
	c.o.FDStoreMax = n
	if n == 0 {
		c.o.FDStoreMax = -1
	}
	return nil
}

func setExitIdleTime(c *cmdLine, r getopt.Result) error {
	d, err := time.ParseDuration(r.Value)
	if r.Value == "0" {
		d, err = 0, nil
	}
	if err != nil || d < 0 {
		return getopt.Usagef(hint, "%s %q is not a duration: write e.g. 5m", r.Written, r.Value)
	}
	c.o.ExitIdleTime = d
	return nil
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
