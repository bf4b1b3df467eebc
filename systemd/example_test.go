package systemd_test

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gotwistd/gotwistd/systemd"
)

// A daemon that tells systemd when it is ready, feeds the watchdog while it
// is healthy, and says when it is stopping. Without systemd every call
// returns (false, nil) and the daemon runs the same.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		systemd.Errno(err, "") // STATUS=listen tcp ...: address already in use, ERRNO=98
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir("/srv/www"))}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}()

	if _, err := systemd.Ready("serving /srv/www on tcp:8080"); err != nil {
		log.Printf("sd_notify: %v", err) // a broken NOTIFY_SOCKET; serve anyway
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		// Healthy while the server answers itself; a hung server stops
		// the pings and systemd restarts it after WatchdogSec=.
		client := &http.Client{Timeout: 5 * time.Second}
		healthy := func() bool {
			resp, err := client.Head("http://127.0.0.1:8080/")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return true
		}
		if err := systemd.RunWatchdog(ctx, healthy); err != nil {
			log.Printf("watchdog: %v", err)
		}
	}()

	<-ctx.Done()
	systemd.Stopping("draining connections")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
}

// Answering a reload so that Type=notify-reload (and systemctl reload with
// ExecReload=kill -HUP) knows when it has finished.
func ExampleReloading() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	for range hup {
		systemd.Reloading() // RELOADING=1, MONOTONIC_USEC=...
		// ... re-read certificates, reopen logs ...
		systemd.Ready("serving, reloaded")
	}
}

// Keeping a listener across systemctl restart: store it before exiting,
// find it by name at the next start. The unit needs FileDescriptorStoreMax=.
func ExampleStoreFiles() {
	var ln net.Listener
	stored, err := systemd.SocketsNamed("http")
	switch {
	case err != nil:
		log.Fatal(err)
	case len(stored) == 1:
		ln, err = net.FileListener(stored[0].File) // dup; the Socket stays shared
	default:
		ln, err = net.Listen("tcp", ":8080")
	}
	if err != nil {
		log.Fatal(err)
	}

	// ... serve, and on shutdown:
	f, err := ln.(*net.TCPListener).File() // a duplicate descriptor
	if err != nil {
		log.Fatal(err)
	}
	if _, err := systemd.StoreFiles("http", f); err != nil {
		log.Printf("fd store: %v", err)
	}
	f.Close() // systemd holds its own copy now
}

// Asking for more time while a slow start is still making progress.
func ExampleExtendTimeout() {
	for _, step := range []func() error{ /* load caches, warm up ... */ } {
		systemd.ExtendTimeout(30 * time.Second)
		if err := step(); err != nil {
			systemd.Errno(err, "start-up failed")
			systemd.Barrier(5 * time.Second) // make sure systemd read it
			os.Exit(1)
		}
	}
	systemd.Ready("")
}

// Checking what the manager asked for.
func ExampleWatchdogInterval() {
	d, err := systemd.WatchdogInterval()
	switch {
	case err != nil:
		log.Fatal(err) // WATCHDOG_USEC or WATCHDOG_PID is garbage
	case d == 0:
		log.Print("no watchdog")
	default:
		log.Printf("systemd kills us after %v without a ping", d)
	}
}
