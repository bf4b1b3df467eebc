package systemd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeActivationOS is an activationOS over a map environment and a table
// of descriptors.
type fakeActivationOS struct {
	env      map[string]string
	pid      int
	fds      map[int]activationFakeFD
	unsetErr error
	files    []string // names newFile was given
	pidfd    uint64   // this process's pidfd id, when pidfdOK
	pidfdOK  bool
}

type activationFakeFD struct {
	family, typ int
	listening   bool
	err         error
}

func (f *fakeActivationOS) os() activationOS {
	return activationOS{
		getenv: func(k string) string { return f.env[k] },
		unsetenv: func(k string) error {
			if f.unsetErr != nil {
				return f.unsetErr
			}
			delete(f.env, k)
			return nil
		},
		getpid:  func() int { return f.pid },
		pidfdID: func() (uint64, bool) { return f.pidfd, f.pidfdOK },
		prepare: func(fd int) (int, int, bool, error) {
			d, ok := f.fds[fd]
			if !ok {
				return 0, 0, false, unix.EBADF
			}
			return d.family, d.typ, d.listening, d.err
		},
		// Real *os.File values for fake numbers would close this process's
		// descriptors when collected: record the name only.
		newFile: func(fd int, name string) *os.File {
			f.files = append(f.files, name)
			return nil
		},
	}
}

var (
	fdTCP  = activationFakeFD{unix.AF_INET, unix.SOCK_STREAM, true, nil}
	fdTCP6 = activationFakeFD{unix.AF_INET6, unix.SOCK_STREAM, true, nil}
	fdUDP  = activationFakeFD{unix.AF_INET, unix.SOCK_DGRAM, false, nil}
	fdConn = activationFakeFD{unix.AF_INET, unix.SOCK_STREAM, false, nil}
	fdFile = activationFakeFD{}
)

func TestActivationRead(t *testing.T) {
	t.Parallel()
	three := map[int]activationFakeFD{3: fdTCP, 4: fdUDP, 5: fdTCP6}
	tests := []struct {
		name    string
		env     map[string]string
		fds     map[int]activationFakeFD
		want    []Socket
		wantErr string
		files   []string
		noPidfd bool // the kernel has no pidfd ids
	}{
		{name: "not activated", env: map[string]string{}},
		{name: "LISTEN_FDS without LISTEN_PID", env: map[string]string{"LISTEN_FDS": "1"}, fds: three},
		{name: "another process", env: map[string]string{"LISTEN_PID": "99", "LISTEN_FDS": "3"}, fds: three},
		{name: "zero descriptors", env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "0"}},
		{name: "bad LISTEN_PID", env: map[string]string{"LISTEN_PID": "me", "LISTEN_FDS": "1"},
			wantErr: `socket activation: LISTEN_PID="me" is not a process id: malformed systemd environment variable`},
		{name: "bad LISTEN_FDS", env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "two"},
			wantErr: `socket activation: LISTEN_FDS="two" is not a count of descriptors: malformed systemd environment variable`},
		{name: "negative LISTEN_FDS", env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "-1"},
			wantErr: `socket activation: LISTEN_FDS="-1" is not a count of descriptors: malformed systemd environment variable`},
		{name: "named", env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "3", "LISTEN_FDNAMES": "web:dns:web6"}, fds: three,
			want: []Socket{
				{FD: 3, Name: "web", Family: unix.AF_INET, Type: unix.SOCK_STREAM, Listening: true},
				{FD: 4, Name: "dns", Family: unix.AF_INET, Type: unix.SOCK_DGRAM},
				{FD: 5, Name: "web6", Family: unix.AF_INET6, Type: unix.SOCK_STREAM, Listening: true},
			}, files: []string{"web", "dns", "web6"}},
		{name: "no names: index still works", env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "2"}, fds: three,
			want: []Socket{
				{FD: 3, Family: unix.AF_INET, Type: unix.SOCK_STREAM, Listening: true},
				{FD: 4, Family: unix.AF_INET, Type: unix.SOCK_DGRAM},
			}, files: []string{"LISTEN_FD_3", "LISTEN_FD_4"}},
		{name: "too few names are ignored", env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "web"}, fds: three,
			want: []Socket{
				{FD: 3, Family: unix.AF_INET, Type: unix.SOCK_STREAM, Listening: true},
				{FD: 4, Family: unix.AF_INET, Type: unix.SOCK_DGRAM},
			}, files: []string{"LISTEN_FD_3", "LISTEN_FD_4"}},
		{name: "connected socket and stored file", env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "connection:stored"},
			fds: map[int]activationFakeFD{3: fdConn, 4: fdFile},
			want: []Socket{
				{FD: 3, Name: "connection", Family: unix.AF_INET, Type: unix.SOCK_STREAM},
				{FD: 4, Name: "stored"},
			}, files: []string{"connection", "stored"}},
		{name: "LISTEN_PIDFDID is this process", env: map[string]string{"LISTEN_PID": "42", "LISTEN_PIDFDID": "4242", "LISTEN_FDS": "1"}, fds: three,
			want: []Socket{{FD: 3, Family: unix.AF_INET, Type: unix.SOCK_STREAM, Listening: true}}, files: []string{"LISTEN_FD_3"}},
		{name: "LISTEN_PIDFDID of another process with our pid", env: map[string]string{"LISTEN_PID": "42", "LISTEN_PIDFDID": "1000", "LISTEN_FDS": "1"}, fds: three},
		{name: "LISTEN_PIDFDID on a kernel without pidfd ids", env: map[string]string{"LISTEN_PID": "42", "LISTEN_PIDFDID": "1000", "LISTEN_FDS": "1"}, fds: three,
			noPidfd: true,
			want:    []Socket{{FD: 3, Family: unix.AF_INET, Type: unix.SOCK_STREAM, Listening: true}}, files: []string{"LISTEN_FD_3"}},
		{name: "bad LISTEN_PIDFDID", env: map[string]string{"LISTEN_PID": "42", "LISTEN_PIDFDID": "-3", "LISTEN_FDS": "1"}, fds: three,
			wantErr: `socket activation: LISTEN_PIDFDID="-3" is not a pidfd id: malformed systemd environment variable`},
		{name: "descriptor not open", env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "4"}, fds: three,
			wantErr: "socket activation: LISTEN_FDS=4 but fd 6 is not usable: bad file descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeActivationOS{env: tt.env, pid: 42, fds: tt.fds, pidfd: 4242, pidfdOK: !tt.noPidfd}
			got, err := readSockets(f.os())
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "LISTEN_PID=") || strings.Contains(tt.wantErr, "LISTEN_PIDFDID=") || strings.Contains(tt.wantErr, "LISTEN_FDS=\"") {
					if !errors.Is(err, ErrBadEnvironment) {
						t.Errorf("error does not wrap ErrBadEnvironment")
					}
				}
				if got != nil {
					t.Errorf("sockets %v returned with an error", got)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sockets\n got %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(f.files, tt.files) {
				t.Errorf("file names %q, want %q", f.files, tt.files)
			}
			for _, k := range []string{"LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
				if v, ok := f.env[k]; ok {
					t.Errorf("%s=%q is still set", k, v)
				}
			}
		})
	}
}

func TestActivationUnsetFails(t *testing.T) {
	t.Parallel()
	f := &fakeActivationOS{env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "1"}, pid: 42,
		fds: map[int]activationFakeFD{3: fdTCP}, unsetErr: errors.New("read-only")}
	if _, err := readSockets(f.os()); err == nil || !strings.Contains(err.Error(), "unset LISTEN_PID: read-only") {
		t.Fatalf("error = %v", err)
	}
}

// TestActivationSameForEveryCaller checks that Sockets reads once and that
// every caller, concurrent or later, sees the same sockets although the
// first read unset the environment.
func TestActivationSameForEveryCaller(t *testing.T) {
	t.Parallel()
	f := &fakeActivationOS{env: map[string]string{"LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:dns"}, pid: 42, fds: map[int]activationFakeFD{3: fdTCP, 4: fdUDP}}
	a := &activation{os: f.os()}
	results := make([][]Socket, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			s, err := a.get()
			if err != nil {
				t.Error(err)
			}
			results[i] = s
		})
	}
	wg.Wait()
	for i, r := range results {
		if len(r) != 2 || !reflect.DeepEqual(r, results[0]) {
			t.Errorf("caller %d got %+v, caller 0 %+v", i, r, results[0])
		}
	}
	if len(f.files) != 2 {
		t.Errorf("the environment was read %d times for 2 sockets", len(f.files)/2)
	}
	// A caller modifying its slice does not change what others get.
	results[0][0].Name = "changed"
	if s, _ := a.get(); s[0].Name != "web" {
		t.Errorf("a caller's change leaked: %q", s[0].Name)
	}
	named, err := a.named("dns")
	if err != nil || len(named) != 1 || named[0].FD != 4 {
		t.Errorf("SocketsNamed(dns) = %+v, %v", named, err)
	}
	if named, err := a.named("none"); named != nil || err != nil {
		t.Errorf("SocketsNamed(none) = %+v, %v", named, err)
	}
}

// activationReport is what the child process prints.
type activationReport struct {
	First, Second, Named []childSocket
	Err                  string
	Env                  map[string]string
}

type childSocket struct {
	FD                int
	Name, FileName    string
	Family, Type      int
	Listening         bool
	CloseOnExec       bool
	SameFileAsSockets bool
}

// TestActivationHelperChild is the child process of TestActivationInherited,
// run with real inherited descriptors; it does nothing in a normal run.
func TestActivationHelperChild(t *testing.T) {
	if os.Getenv("GOTWISTD_TEST_ACTIVATION_CHILD") != "1" {
		t.Skip("helper process for TestActivationInherited")
	}
	var r activationReport
	conv := func(socks []Socket) []childSocket {
		var out []childSocket
		for _, s := range socks {
			flags, _ := unix.FcntlInt(uintptr(s.FD), unix.F_GETFD, 0)
			out = append(out, childSocket{FD: s.FD, Name: s.Name, FileName: s.File.Name(), Family: s.Family,
				Type: s.Type, Listening: s.Listening, CloseOnExec: flags&unix.FD_CLOEXEC != 0})
		}
		return out
	}
	first, err := Sockets()
	if err != nil {
		r.Err = err.Error()
	}
	second, _ := Sockets()
	named, _ := SocketsNamed("dns")
	r.First, r.Second, r.Named = conv(first), conv(second), conv(named)
	for i := range first {
		r.First[i].SameFileAsSockets = first[i].File == second[i].File
	}
	r.Env = map[string]string{}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(k); ok {
			r.Env[k] = v
		}
	}
	b, _ := json.Marshal(r)
	os.Stdout.Write(append([]byte("\nREPORT "), append(b, '\n')...))
}

// runActivationChild runs the test binary as a child with files as fds
// 3, 4, ... and env added. With ownPid the child's LISTEN_PID is its own
// pid, set by a shell that then execs the child (as systemd does).
func runActivationChild(t *testing.T, files []*os.File, env []string, ownPid bool) activationReport {
	t.Helper()
	args := []string{os.Args[0], "-test.run=^TestActivationHelperChild$", "-test.count=1"}
	if ownPid {
		args = append([]string{"/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), append(env, "GOTWISTD_TEST_ACTIVATION_CHILD=1")...)
	cmd.ExtraFiles = files
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "REPORT "); ok {
			var r activationReport
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("child printed no report:\n%s", out)
	return activationReport{}
}

// TestActivationInherited passes real sockets of every kind to a child
// process the way systemd does and checks what Sockets reports there.
func TestActivationInherited(t *testing.T) {
	dir := t.TempDir()
	var files []*os.File
	var want []childSocket
	add := func(name string, f *os.File, family, typ int, listening bool) {
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
		want = append(want, childSocket{FD: 2 + len(files), Name: name, FileName: name, Family: family, Type: typ,
			Listening: listening, CloseOnExec: true, SameFileAsSockets: true})
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	f, _ := tcp.(*net.TCPListener).File()
	add("web", f, unix.AF_INET, unix.SOCK_STREAM, true)
	if tcp6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		defer tcp6.Close()
		f, _ := tcp6.(*net.TCPListener).File()
		add("web6", f, unix.AF_INET6, unix.SOCK_STREAM, true)
	}
	ux, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ux.Close()
	f, _ = ux.(*net.UnixListener).File()
	add("local", f, unix.AF_UNIX, unix.SOCK_STREAM, true)
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	f, _ = udp.(*net.UDPConn).File()
	add("dns", f, unix.AF_INET, unix.SOCK_DGRAM, false)
	client, err := net.Dial("tcp4", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := tcp.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, _ = server.(*net.TCPConn).File()
	server.Close()
	add("connection", f, unix.AF_INET, unix.SOCK_STREAM, false)
	stored, err := os.Create(filepath.Join(dir, "stored"))
	if err != nil {
		t.Fatal(err)
	}
	add("stored", stored, 0, 0, false)

	var names []string
	for _, w := range want {
		names = append(names, w.Name)
	}
	n := strconv.Itoa(len(files))

	t.Run("activated", func(t *testing.T) {
		r := runActivationChild(t, files, []string{"LISTEN_FDS=" + n, "LISTEN_FDNAMES=" + strings.Join(names, ":")}, true)
		if r.Err != "" {
			t.Fatal(r.Err)
		}
		if !reflect.DeepEqual(r.First, want) {
			t.Errorf("Sockets in the child\n got %+v\nwant %+v", r.First, want)
		}
		for i := range r.First {
			r.First[i].SameFileAsSockets = false
		}
		if !reflect.DeepEqual(r.Second, r.First) {
			t.Errorf("second call differs:\n%+v\n%+v", r.Second, r.First)
		}
		if len(r.Named) != 1 || r.Named[0].Name != "dns" || r.Named[0].Type != unix.SOCK_DGRAM {
			t.Errorf("SocketsNamed(dns) = %+v", r.Named)
		}
		if len(r.Env) != 0 {
			t.Errorf("environment still holds %v", r.Env)
		}
	})
	t.Run("names missing", func(t *testing.T) {
		r := runActivationChild(t, files, []string{"LISTEN_FDS=" + n, "LISTEN_FDNAMES=web:dns"}, true)
		if len(r.First) != len(want) {
			t.Fatalf("got %d sockets, want %d", len(r.First), len(want))
		}
		for i, s := range r.First {
			if s.Name != "" || s.FD != 3+i || s.Type != want[i].Type || s.FileName != "LISTEN_FD_"+strconv.Itoa(3+i) {
				t.Errorf("socket %d: %+v", i, s)
			}
		}
	})
	t.Run("another process's sockets", func(t *testing.T) {
		r := runActivationChild(t, files, []string{"LISTEN_PID=1", "LISTEN_FDS=" + n}, false)
		if r.Err != "" || r.First != nil {
			t.Errorf("got %+v, %q; want nothing", r.First, r.Err)
		}
		if len(r.Env) != 0 {
			t.Errorf("environment still holds %v", r.Env)
		}
	})
}
