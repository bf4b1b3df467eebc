// Package systemd lets a Go daemon cooperate with systemd (or any service
// manager speaking its protocols): inherited sockets, start-up, reload and
// shutdown notifications, the watchdog, and the file descriptor store.
//
// Everything is driven by the environment the manager sets, and everything
// is safe to call without systemd: a function whose variable is unset does
// nothing and says so, as (false, nil) or (0, nil), so one binary runs the
// same from a shell, a container or a unit. A variable that is set but
// malformed is an error wrapping [ErrBadEnvironment]; a caller's mistake
// that systemd would reject or misread (a bad FDNAME, a message it would
// drop) is an error wrapping [ErrInvalidArgument], reported with or without
// systemd so that tests catch it.
//
// Several components of one program may all use the package: the notify
// and watchdog functions read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID
// on every call and never unset them, and [Sockets] reads LISTEN_PID,
// LISTEN_FDS and LISTEN_FDNAMES once and hands every caller the same
// sockets (it then unsets those three so that child processes do not
// mistake the sockets for theirs). Every function is safe for concurrent
// use.
//
// # A unit file
//
// A service using every feature, with its socket unit. Type=notify makes
// systemctl start wait for [Ready]; NotifyAccess=main accepts notifications
// from the main process only; WatchdogSec= sets WATCHDOG_USEC for
// [RunWatchdog]; FileDescriptorStoreMax= enables [StoreFiles]:
//
//	# /etc/systemd/system/exampled.service
//	[Unit]
//	Description=Example daemon
//	Requires=exampled.socket
//	After=network.target exampled.socket
//
//	[Service]
//	Type=notify
//	NotifyAccess=main
//	ExecStart=/usr/local/bin/exampled
//	# systemd >= 253 can use Type=notify-reload instead, which sends SIGHUP
//	# and waits for RELOADING=1 ... READY=1 (see Reloading).
//	ExecReload=/bin/kill -HUP $MAINPID
//	TimeoutStartSec=30s
//	WatchdogSec=20s
//	FileDescriptorStoreMax=64
//	Restart=always
//	User=www-data
//
//	[Install]
//	WantedBy=multi-user.target
//
//	# /etc/systemd/system/exampled.socket
//	[Socket]
//	ListenStream=80
//	ListenDatagram=443
//	FileDescriptorName=web
//
//	[Install]
//	WantedBy=sockets.target
//
// # How the pieces fit
//
// At start-up, take inherited sockets from [Sockets] (or [SocketsNamed] to
// pick them by FileDescriptorName=, which is robust where indexes are not:
// with several socket units their order is undefined), and open whatever
// else is needed. Each [Socket] reports its family and type, so a caller can
// reject a socket of the wrong kind with a clear error, not a silent gap. Files that an earlier
// run put in the store with [StoreFiles] come back through Sockets too,
// after the socket-unit ones, named by their FDNAME.
//
// While starting slowly, send [ExtendTimeout] before TimeoutStartSec= runs
// out. When every listener is up, send [Ready] with a [Status] line saying
// what is served, and start [RunWatchdog] in a goroutine with a health
// check. On SIGHUP send [Reloading], reload, then [Ready] again. On
// SIGTERM send [Stopping], drain, and exit. A fatal error goes out as
// [Errno] (STATUS= and ERRNO=) before the exit, and [Barrier] waits until
// the manager has read it. To survive a plain systemctl restart without
// dropping its own listeners, a daemon that opened them itself can push
// them into the store with StoreFiles before exiting and find them again
// with SocketsNamed. How much the store takes is $FDSTORE on systemd >=
// 254; on 252-253, [QueryFDStore] asks systemd over D-Bus for the unit's
// FileDescriptorStoreMax= and how many descriptors it holds (systemd
// closes what it is sent beyond that).
//
// [Notify] and [NotifyWithFiles] send any other assignment (MAINPID=,
// WATCHDOG=trigger, ...).
//
// # Versions
//
// Type=notify-reload and MONOTONIC_USEC need systemd 253; Debian 12 ships
// 252, where ExecReload=/bin/kill -HUP $MAINPID does the same job.
// BARRIER=1 needs 246, FileDescriptorStorePreserve= 254.
//
// # Trying it without systemd
//
// systemd-socket-activate -l 8080 ./exampled passes a socket as systemd
// would. For notifications, point NOTIFY_SOCKET at a datagram socket you
// read, e.g. with socat -u UNIX-RECV:/tmp/notify - , or run the daemon
// under systemd with systemd-run -p Type=notify -p WatchdogSec=10 --wait.
//
// The package builds on every system; off Linux, a set NOTIFY_SOCKET is an
// error wrapping errors.ErrUnsupported.
package systemd
