//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultMask lists the units masked in every box: servers that would bind
// the ports the tests use or take time to start, consoles and gettys the box
// has no terminal for, timers, and kernel file systems a container has no
// business mounting.
var DefaultMask = []string{
	"nginx.service", "h2o.service", "lighttpd.service", "caddy.service",
	"apache2.service", "ssh.service", "sshd.service", "ssh.socket",
	"cron.service", "anacron.service", "postgresql.service", "rsyslog.service",
	"systemd-timesyncd.service", "systemd-networkd.service", "systemd-resolved.service",
	"e2scrub_reap.service", "e2scrub_all.timer", "apt-daily.timer",
	"apt-daily-upgrade.timer", "dpkg-db-backup.timer", "fstrim.timer", "man-db.timer",
	"console-getty.service", "container-getty@.service", "getty@.service",
	"serial-getty@.service", "getty-static.service",
	"dev-hugepages.mount", "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
	"sys-kernel-config.mount", "sys-fs-fuse-connections.mount",
	"proc-sys-fs-binfmt_misc.automount",
	// These change the host's kernel, which the box shares.
	"modprobe@.service", "systemd-modules-load.service", "kmod-static-nodes.service",
	"systemd-sysctl.service", "systemd-binfmt.service", "systemd-pstore.service",
	"systemd-random-seed.service", "systemd-journald-audit.socket",
	"systemd-hwdb-update.service", "systemd-udevd.service", "systemd-udev-trigger.service",
	"systemd-firstboot.service", "systemd-repart.service", "systemd-remount-fs.service",
}

// droppedCaps are removed from the box's capability bounding set, as
// systemd-nspawn does: its services cannot load modules, set the clock or
// touch raw devices of the host.
var droppedCaps = []string{
	"sys_module", "sys_rawio", "sys_time", "sys_pacct", "syslog", "wake_alarm",
	"block_suspend", "mac_admin", "mac_override", "audit_read",
}

// Config tunes [Start].
type Config struct {
	// Mask lists extra units to mask before boot, e.g. "foo.service".
	Mask []string
	// BootTimeout bounds the wait for `systemctl is-system-running` to say
	// running or degraded. Default: 60s.
	BootTimeout time.Duration
	// CommandTimeout bounds each command run in the box. Default: 60s.
	CommandTimeout time.Duration
	// Overlay, when set, is called before boot with the directory whose
	// contents are copied into the box's overlay upper dir: files put there
	// shadow the host's, in the box only (e.g. other versions of packages,
	// unpacked). It already holds the masks, /etc/hostname and /etc/fstab.
	// Mind merged /usr: a real directory at upperDir/lib would hide the
	// host's /lib -> usr/lib link.
	Overlay func(upperDir string) error
}

// Box is a running throwaway systemd in its own namespaces, over an overlay
// of the host's root. The zero value is not usable; get one from [Start] or
// [Boot].
type Box struct {
	pid     int    // host pid of the box's pid 1 (systemd)
	dir     string // temporary directory: root/ (mount point), layers/, console, boot.log
	cgroup  string // host path of the box's cgroup v2 directory
	timeout time.Duration

	done    chan struct{} // closed when pid 1 has exited
	waitErr error         // pid 1's exit, valid after done

	closeOnce sync.Once
	closeErr  error
}

// bootScript runs as pid 1 of the new namespaces, mounts the box's file
// systems, and execs systemd. $1 is the box directory, whose base/ holds
// the files to put in the upper dir before boot (masks, hostname, fstab);
// $2 the capabilities to drop (setpriv --bounding-set syntax). See the package doc for why each step is there.
const bootScript = `set -eu
umask 022
dir=$1
caps=$2
new=$dir/root
layers=$dir/layers
mount --make-rprivate /
mount -t tmpfs -o mode=0755 gotwistd-e2e-layers "$layers"
mkdir "$layers/upper" "$layers/work"
cp -a "$dir/base/." "$layers/upper/"
mount -t overlay -o "lowerdir=/,upperdir=$layers/upper,workdir=$layers/work" gotwistd-e2e "$new"
mount -t proc proc "$new/proc"
# The kernel's global knobs read-only, the box's own network ones writable.
mount --bind "$new/proc/sys" "$new/proc/sys"
mount --bind "$new/proc/sys/net" "$new/proc/sys/net"
mount -o remount,bind,ro "$new/proc/sys"
if [ -e "$new/proc/sysrq-trigger" ]; then
	mount --bind "$new/proc/sysrq-trigger" "$new/proc/sysrq-trigger"
	mount -o remount,bind,ro "$new/proc/sysrq-trigger"
fi
mount -t sysfs -o ro sysfs "$new/sys"
mount -t cgroup2 cgroup2 "$new/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid dev "$new/dev"
# Real device nodes, as on any machine: systemd's PrivateDevices= copies
# them into a service's /dev and fails on anything else (some sandboxes
# give the host a regular file as /dev/null). A bind mount of the host's
# node if mknod is refused.
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	name=${node%%:*} majmin=${node#*:}
	if ! mknod -m 0666 "$new/dev/$name" c "${majmin%:*}" "${majmin#*:}" 2>/dev/null; then
		: >"$new/dev/$name"
		mount --bind "/dev/$name" "$new/dev/$name"
	fi
done
mkdir "$new/dev/pts" "$new/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$new/dev/pts"
ln -s pts/ptmx "$new/dev/ptmx"
ln -s /proc/self/fd "$new/dev/fd"
ln -s /proc/self/fd/0 "$new/dev/stdin"
ln -s /proc/self/fd/1 "$new/dev/stdout"
ln -s /proc/self/fd/2 "$new/dev/stderr"
: >"$new/dev/console"
mount --bind "$dir/console" "$new/dev/console"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$new/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev run "$new/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$new/tmp"
mkdir -p "$new/.oldroot"
cd "$new"
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
# Shared, as systemd makes / on a machine (it leaves that to the container
# manager when container= is set): LoadCredential= mounts the credentials
# in a helper's namespace and relies on them propagating back.
mount --make-rshared /
export container=other
exec setpriv --bounding-set "$caps" -- /lib/systemd/systemd --system --unit=multi-user.target
`

// boxEnv is the environment of every command run in the box: nothing of the
// test process's, no colours, no pager, wide output.
var boxEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
	"TERM=dumb",
	"SYSTEMD_COLORS=0",
	"SYSTEMD_PAGER=",
	"SYSTEMD_LESS=",
	"COLUMNS=400",
}

// SkipUnlessRoot skips t unless the test runs as root, which booting a box
// needs.
func SkipUnlessRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("e2e: needs root to boot a real systemd in namespaces")
	}
}

// Start boots a box for t and powers it off when t's cleanups run. It skips
// t when not running as root, and fails t with a clear message when the box
// cannot boot.
func Start(t testing.TB, cfg Config) *Box {
	t.Helper()
	SkipUnlessRoot(t)
	begin := time.Now()
	b, err := Boot(cfg)
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("e2e: close box: %v", err)
		}
	})
	t.Logf("e2e: box up in %v (pid %d)", time.Since(begin).Round(time.Millisecond), b.PID())
	return b
}

// Boot boots a box; see the package doc for the recipe. The caller must
// call [Box.Close]. It needs root, util-linux (mount, pivot_root, nsenter,
// setpriv) and systemd.
func Boot(cfg Config) (*Box, error) {
	if cfg.BootTimeout <= 0 {
		cfg.BootTimeout = 60 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 60 * time.Second
	}
	for _, tool := range []string{"/lib/systemd/systemd", "/bin/sh"} {
		if _, err := os.Stat(tool); err != nil {
			return nil, fmt.Errorf("boot box: %w (install systemd)", err)
		}
	}
	for _, tool := range []string{"nsenter", "mount", "pivot_root", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("boot box: %w (install util-linux)", err)
		}
	}
	removeStaleDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("gotwistd-e2e-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("boot box: %w", err)
	}
	b := &Box{dir: dir, timeout: cfg.CommandTimeout, done: make(chan struct{})}
	if err := b.boot(cfg); err != nil {
		if cerr := b.Close(); cerr != nil {
			err = fmt.Errorf("%w; and closing it: %v", err, cerr)
		}
		return nil, err
	}
	return b, nil
}

func (b *Box) boot(cfg Config) error {
	for _, d := range []string{"root", "layers"} {
		if err := os.Mkdir(filepath.Join(b.dir, d), 0o755); err != nil {
			return fmt.Errorf("boot box: %w", err)
		}
	}
	if err := writeBase(filepath.Join(b.dir, "base"), masks(cfg.Mask)); err != nil {
		return fmt.Errorf("boot box: %w", err)
	}
	if cfg.Overlay != nil {
		if err := cfg.Overlay(filepath.Join(b.dir, "base")); err != nil {
			return fmt.Errorf("boot box: overlay: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(b.dir, "console"), nil, 0o600); err != nil {
		return fmt.Errorf("boot box: %w", err)
	}
	bootLog, err := os.Create(filepath.Join(b.dir, "boot.log"))
	if err != nil {
		return fmt.Errorf("boot box: %w", err)
	}
	defer bootLog.Close()

	cg, err := newCgroup()
	if err != nil {
		return fmt.Errorf("boot box: %w", err)
	}
	b.cgroup = cg
	cgfd, err := unix.Open(cg, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("boot box: open cgroup: %w", err)
	}
	defer unix.Close(cgfd)

	drop := "-" + strings.Join(droppedCaps, ",-")
	cmd := exec.Command("/bin/sh", "-c", bootScript, "gotwistd-e2e-boot", b.dir, drop)
	cmd.Stdin = nil
	cmd.Stdout = bootLog
	cmd.Stderr = bootLog
	cmd.Env = boxEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWCGROUP,
		UseCgroupFD: true,
		CgroupFD:    cgfd,
		// The box dies with the test process, even when a test times
		// out or panics before its cleanups run.
		Pdeathsig: syscall.SIGKILL,
	}

	// Pdeathsig fires when the thread that started the child exits, so
	// start and wait from one locked thread that lives as long as the box.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(b.done)
			return
		}
		started <- nil
		b.waitErr = cmd.Wait()
		close(b.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("boot box: cannot create namespaces (needs root with CAP_SYS_ADMIN, "+
			"e.g. a VM or a privileged container): %w", err)
	}
	b.pid = cmd.Process.Pid
	return b.waitRunning(cfg.BootTimeout)
}

// masks returns the units to mask: DefaultMask, what the host enables in
// /etc/systemd/system/*.wants (services, sockets, timers, paths), and extra.
func masks(extra []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(u string) {
		if u != "" && !seen[u] && !strings.ContainsAny(u, "/\x00") {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, u := range DefaultMask {
		add(u)
	}
	wants, _ := filepath.Glob("/etc/systemd/system/*.wants/*")
	for _, w := range wants {
		u := filepath.Base(w)
		switch filepath.Ext(u) {
		case ".service", ".socket", ".timer", ".path":
			// An enabled instance (getty@tty1.service) is masked by
			// its own name.
			add(u)
		}
	}
	for _, u := range extra {
		add(u)
	}
	return out
}

// writeBase writes the files the box's upper dir starts with: the masks,
// /etc/hostname, and an empty /etc/fstab (the host's names its disks).
func writeBase(base string, masked []string) error {
	units := filepath.Join(base, "etc", "systemd", "system")
	for _, d := range []string{base, filepath.Join(base, "etc"), filepath.Join(base, "etc", "systemd"), units} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil { // whatever the umask
			return err
		}
	}
	for _, u := range masked {
		if err := os.Symlink("/dev/null", filepath.Join(units, u)); err != nil {
			return err
		}
	}
	files := map[string]string{"hostname": "gotwistd-e2e\n", "fstab": ""}
	for name, content := range files {
		p := filepath.Join(base, "etc", name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// newCgroup creates a cgroup v2 directory below the test process's own.
func newCgroup() (string, error) {
	mnt, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("read own cgroup: %w", err)
	}
	own := ""
	for _, line := range strings.Split(string(self), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			own = p
		}
	}
	parent := filepath.Join(mnt, own)
	removeStaleCgroups(parent)
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("random cgroup name: %w", err)
	}
	cg := filepath.Join(parent, fmt.Sprintf("gotwistd-e2e-%d-%s", os.Getpid(), hex.EncodeToString(rnd[:])))
	if err := os.Mkdir(cg, 0o755); err != nil {
		return "", fmt.Errorf("create box cgroup: %w", err)
	}
	return cg, nil
}

// cgroup2Mount finds where the host mounts the cgroup v2 hierarchy
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts).
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find cgroup2 mount: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if fields := strings.Fields(pre); len(fields) >= 5 {
			return unescapeMountinfo(fields[4]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("find cgroup2 mount: %w", err)
	}
	return "", errors.New("the host has no cgroup v2 hierarchy mounted " +
		"(mount one: mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified)")
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				out.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		out.WriteByte(s[i])
	}
	return out.String()
}

// ownerDead says whether name, gotwistd-e2e-<pid>-<random>, belongs to a
// test process that is gone.
func ownerDead(name string) bool {
	owner, _, _ := strings.Cut(strings.TrimPrefix(name, "gotwistd-e2e-"), "-")
	pid, err := strconv.Atoi(owner)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}

// removeStaleDirs removes the temporary directories of boxes whose test
// process was killed before cleaning up. Their mounts lived only in the
// box's mount namespace, which died with it (parent-death signal), so on
// the host they hold only empty directories and logs.
func removeStaleDirs() {
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), "gotwistd-e2e-*-*"))
	for _, d := range stale {
		if ownerDead(filepath.Base(d)) {
			_ = os.RemoveAll(d)
		}
	}
}

// removeStaleCgroups removes the cgroups of boxes whose test process died
// before cleaning up: a box cgroup is named gotwistd-e2e-<test pid>-<random>.
// Boxes of a live test process, and populated cgroups, stay.
func removeStaleCgroups(parent string) {
	stale, _ := filepath.Glob(filepath.Join(parent, "gotwistd-e2e-*-*"))
	for _, cg := range stale {
		if ownerDead(filepath.Base(cg)) {
			_ = removeCgroup(cg)
		}
	}
}

// removeCgroup removes a cgroup tree, deepest first.
func removeCgroup(cg string) error {
	var dirs []string
	err := filepath.WalkDir(cg, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
		}
	}
	return nil
}

// waitRunning polls is-system-running until the boot is over.
func (b *Box) waitRunning(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		select {
		case <-b.done:
			return fmt.Errorf("boot box: systemd exited (%v) before the system was up\n%s",
				b.waitErr, b.diagnostics())
		default:
		}
		out, _ := b.runContext(context.Background(), nil, "systemctl", "is-system-running")
		state := strings.TrimSpace(out)
		switch state {
		case "running", "degraded":
			return nil
		}
		if state != "" {
			last = state
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("boot box: not up after %v (is-system-running: %q)\n%s",
				timeout, last, b.diagnostics())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// diagnostics returns the boot log, the console and the journal's tail,
// for failure messages.
func (b *Box) diagnostics() string {
	var s strings.Builder
	for _, name := range []string{"boot.log", "console"} {
		if data, err := os.ReadFile(filepath.Join(b.dir, name)); err == nil && len(data) > 0 {
			fmt.Fprintf(&s, "--- %s:\n%s\n", name, tail(string(data), 40))
		}
	}
	select {
	case <-b.done:
	default:
		if failed, err := b.Systemctl("--failed", "--no-legend"); err == nil && failed != "" {
			fmt.Fprintf(&s, "--- failed units:\n%s\n", failed)
		}
		if j, err := b.Run("journalctl", "--no-pager", "-n", "60"); err == nil {
			fmt.Fprintf(&s, "--- journal tail:\n%s\n", j)
		}
	}
	return s.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PID is the host pid of the box's pid 1 (its systemd), for nsenter -t.
func (b *Box) PID() int { return b.pid }

// Run runs a command inside the box (all its namespaces and root, working
// directory /) with a clean environment, and returns its standard output.
// A failure, including a non-zero exit, is an error that quotes the command
// and its standard error; the output is returned with it.
func (b *Box) Run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	return b.runContext(ctx, nil, args...)
}

// RunInput is [Box.Run] with stdin.
func (b *Box) RunInput(stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	return b.runContext(ctx, stdin, args...)
}

func (b *Box) runContext(ctx context.Context, stdin []byte, args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("box: run: no command")
	}
	full := append([]string{"-t", strconv.Itoa(b.pid), "-a", "-r", "-w", "--"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.Env = boxEnv
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			msg = "timed out; " + msg
		}
		return stdout.String(), fmt.Errorf("box: %s: %w: %s", quoteArgs(args), err, msg)
	}
	return stdout.String(), nil
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// Systemctl runs systemctl in the box; see [Box.Run].
func (b *Box) Systemctl(args ...string) (string, error) {
	return b.Run(append([]string{"systemctl", "--no-pager"}, args...)...)
}

// Status returns `systemctl status --full` of a unit. Its exit status says
// whether the unit is active (3 when not), so only a failure to run it, or
// an unknown unit (4), is an error.
func (b *Box) Status(unit string) (string, error) {
	out, err := b.Systemctl("status", "--full", "--lines=20", unit)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() != 4 {
		err = nil
	}
	return out, err
}

// Show returns one property of a unit (systemctl show -p NAME --value).
func (b *Box) Show(unit, property string) (string, error) {
	out, err := b.Systemctl("show", "-p", property, "--value", unit)
	return strings.TrimSpace(out), err
}

// MainPID returns the unit's main pid, as seen inside the box; 0 when it has
// none.
func (b *Box) MainPID(unit string) (int, error) {
	v, err := b.Show(unit, "MainPID")
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("box: MainPID of %s: %w", unit, err)
	}
	return pid, nil
}

// Journal returns the unit's journal (short format, with systemd's own
// messages about the unit).
func (b *Box) Journal(unit string) (string, error) {
	return b.Run("journalctl", "--no-pager", "-o", "short", "-u", unit)
}

// Curl runs curl inside the box's network namespace (the box has its own
// loopback) and returns the body. Extra curl arguments come before the URL.
// An HTTP error status is an error (curl --fail-with-body).
func (b *Box) Curl(url string, extra ...string) (string, error) {
	args := append([]string{"curl", "--silent", "--show-error", "--fail-with-body",
		"--max-time", "20"}, extra...)
	return b.Run(append(args, url)...)
}

// WriteFile writes a file in the box, creating its parent directories
// (mode 0755), owned by root. The write happens inside the box, so symlinks
// resolve against the box's root and nothing reaches the host.
func (b *Box) WriteFile(path string, data []byte, mode fs.FileMode) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("box: write %q: path must be absolute", path)
	}
	_, err := b.RunInput(data, "/bin/sh", "-c",
		`umask 022 && mkdir -p -- "$(dirname -- "$1")" && cat >"$1" && chmod "$2" -- "$1"`,
		"write", path, strconv.FormatUint(uint64(mode.Perm()), 8))
	return err
}

// ReadFile reads a file in the box.
func (b *Box) ReadFile(path string) ([]byte, error) {
	out, err := b.Run("cat", "--", path)
	return []byte(out), err
}

// CopyFile copies a host file into the box.
func (b *Box) CopyFile(hostPath, boxPath string, mode fs.FileMode) error {
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return fmt.Errorf("box: copy %s: %w", hostPath, err)
	}
	return b.WriteFile(boxPath, data, mode)
}

// Close powers the box off: `systemctl poweroff`, then SIGKILL of its pid 1
// if it is still up after a few seconds, which ends every process in its
// pid namespace and with them its mounts. It then removes the box's cgroup
// and temporary directory. Close is idempotent.
func (b *Box) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Box) close() error {
	var errs []error
	if b.pid > 0 {
		select {
		case <-b.done:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = b.runContext(ctx, nil, "systemctl", "poweroff", "--no-block")
			cancel()
			select {
			case <-b.done:
			case <-time.After(5 * time.Second):
				if err := unix.Kill(b.pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
					errs = append(errs, fmt.Errorf("kill box pid 1: %w", err))
				}
				<-b.done
			}
		}
	}
	if b.cgroup != "" {
		// The kernel reaps the namespace's processes asynchronously;
		// a populated cgroup cannot be removed yet.
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err = removeCgroup(b.cgroup); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	// The mounts lived only in the box's mount namespace: here root/ and
	// layers/ are empty directories.
	if err := os.RemoveAll(b.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
