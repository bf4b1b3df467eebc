package runner

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/internal/testbin"
	"github.com/gotwistd/gotwistd/service"
)

func noRun(ctx context.Context, in *Input) error { <-ctx.Done(); return nil }

func TestDaemonOptions(t *testing.T) {
	d := &Daemon{
		Name: "t", Listen: []string{"tcp:7000"}, Run: noRun,
		Options: []Option{
			{Long: "greeting", Short: 'g', Meta: "TEXT", Default: "hello"},
			{Long: "loud", Flag: true},
			{Long: "tag", Meta: "TAG"},
		},
		Check: func(o Values) error {
			if o.Get("greeting") == "" {
				return errors.New("--greeting is empty")
			}
			return nil
		},
		Status: func(o Values) string {
			return strings.Join(o.All("listen"), ",") + " " + o.Get("greeting") + " loud=" + map[bool]string{true: "yes", false: "no"}[o.Flag("loud")] + " tags=" + strings.Join(o.All("tag"), ",")
		},
	}
	tests := []struct {
		name, want, wantErr string
		args                []string
	}{
		{name: "defaults", want: "tcp:7000 hello loud=no tags="},
		{name: "given", args: []string{"--listen", "tcp:1", "--listen=unix:/x", "-g", "hi", "--loud", "--tag", "a", "--tag", "b"}, want: "tcp:1,unix:/x hi loud=yes tags=a,b"},
		{name: "prefix and last wins", args: []string{"--greet", "a", "--gr=b"}, want: "tcp:7000 b loud=no tags="},
		{name: "check fails", args: []string{"--greeting="}, wantErr: "--greeting is empty"},
		{name: "bad endpoint", args: []string{"--listen", "tcp:x"}, wantErr: `bad endpoint "tcp:x"`},
		{name: "unknown", args: []string{"--bogus"}, wantErr: "option --bogus not recognized"},
		{name: "argument", args: []string{"extra"}, wantErr: `unexpected argument "extra": t takes only options`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := d.Plugin().New(tt.args, service.Env{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, getopt.ErrUsage) || getopt.Hint(err) != "gotwistd t --help" {
					t.Fatalf("New(%q) = %v (hint %q), want a usage error containing %q with a hint", tt.args, err, getopt.Hint(err), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := svc.Status(); got != tt.want {
				t.Errorf("Status() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDaemonListenRequiredAndHelp(t *testing.T) {
	d := &Daemon{Name: "t", Run: noRun, ListenOption: "port", ListenShort: 'p', Description: "Does t."}
	if _, err := d.Plugin().New(nil, service.Env{}); err == nil || !strings.Contains(err.Error(), "no endpoint to serve on: give --port ENDPOINT") {
		t.Errorf("no endpoint and no default: %v", err)
	}
	svc, err := d.Plugin().New([]string{"-p", "8080"}, service.Env{})
	if err != nil || svc.Status() != "serving on 8080" {
		t.Errorf("-p 8080: %v, %v", svc, err)
	}
	var out bytes.Buffer
	if _, err := d.Plugin().New([]string{"--help"}, service.Env{Stdout: &out}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	for _, want := range []string{"Usage: gotwistd [options] t [options]", "-p, --port=ENDPOINT", "--help", "Does t."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

// serveDaemon runs d on a UNIX socket the way the runner does and returns
// the service, the socket's path and Serve's result.
func serveDaemon(t *testing.T, d *Daemon, logs *testbin.Log) (service.Service, string, chan error) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	svc, err := d.Plugin().New([]string{"--listen", "unix:" + sock}, service.Env{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Listen(context.Background()); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- svc.Serve() }()
	return svc, sock, served
}

func TestDaemonStop(t *testing.T) {
	t.Run("listeners closed when ctx ends, in-flight work finishes", func(t *testing.T) {
		release := make(chan struct{})
		accepted := make(chan struct{})
		var sawCtx error
		d := &Daemon{Name: "t", Factory: "TFactory", Run: func(ctx context.Context, in *Input) error {
			c, err := Accepting(in.Listeners[0]).Accept()
			if err != nil {
				return err
			}
			close(accepted)
			<-ctx.Done()
			// The listener is closed by now: a second Accept fails.
			_, err = Accepting(in.Listeners[0]).Accept()
			sawCtx = err
			<-release // in-flight work
			c.Close()
			return nil
		}}
		var logs testbin.Log
		svc, sock, served := serveDaemon(t, d, &logs)
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-accepted
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			shut <- svc.Shutdown(ctx)
		}()
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v while Run was still working", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if sawCtx == nil {
			t.Error("Accept after ctx ended succeeded: the runner did not close the listener")
		}
		for _, want := range []string{"TFactory starting on '" + sock + "'", "Starting factory <gotwistd.t.TFactory on unix:" + sock + ">", "(UNIX Port '" + sock + "' Closed)", "Stopping factory"} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, logs.String())
			}
		}
	})
	t.Run("grace period over: Hard ends and Shutdown says so", func(t *testing.T) {
		running := make(chan struct{})
		d := &Daemon{Name: "t", Run: func(ctx context.Context, in *Input) error {
			close(running)
			<-ctx.Done()
			<-in.Hard.Done()
			return nil
		}}
		svc, _, served := serveDaemon(t, d, &testbin.Log{})
		<-running
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := svc.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
		}
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
	})
	t.Run("Run ending on its own is fatal", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			ret  error
			want string
		}{
			{"nil", nil, "t: Run returned before the service was stopped"},
			{"error", errors.New("disk on fire"), "disk on fire"},
		} {
			d := &Daemon{Name: "t", Run: func(context.Context, *Input) error { return tc.ret }}
			_, _, served := serveDaemon(t, d, &testbin.Log{})
			if err := <-served; err == nil || err.Error() != tc.want {
				t.Errorf("%s: Serve = %v, want %q", tc.name, err, tc.want)
			}
		}
	})
	t.Run("Shutdown before Serve", func(t *testing.T) {
		ran := false
		d := &Daemon{Name: "t", Run: func(context.Context, *Input) error { ran = true; return nil }}
		sock := filepath.Join(t.TempDir(), "d.sock")
		svc, err := d.Plugin().New([]string{"--listen", "unix:" + sock}, service.Env{})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Listen(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := svc.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := svc.Serve(); err != nil || ran {
			t.Errorf("Serve after Shutdown = %v, ran=%v; want nil without running", err, ran)
		}
	})
}

func TestDaemonReloadAndHealthy(t *testing.T) {
	reloads := 0
	d := &Daemon{Name: "t", Listen: []string{"tcp:0:interface=127.0.0.1"}, Run: noRun,
		Reload:  func() error { reloads++; return nil },
		Healthy: func(context.Context) error { return errors.New("wedged") },
	}
	svc, err := d.Plugin().New(nil, service.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Reload(); err != nil || reloads != 1 {
		t.Errorf("Reload = %v, reloads %d", err, reloads)
	}
	h, ok := svc.(interface{ Healthy(context.Context) error })
	if !ok || h.Healthy(context.Background()) == nil {
		t.Error("the runner's watchdog does not see Daemon.Healthy")
	}
}
