// Package e2e runs gotwistd under a real, throwaway systemd and walks
// Twisted's tutorial "Deploying Twisted with systemd" step by step, checking
// what each step shows: systemctl status, the journal, the page served, the
// enable symlinks, Restart=always, User=/Group=, socket activation.
//
// The tests need root (they create namespaces and mount an overlay); as any
// other user they skip. See README.md in this directory for how to run them.
//
// # Booting the box
//
// [Start] boots a Box. The recipe, all of it done inside new namespaces so
// that nothing is mounted in, written to or left running on the host:
//
//  1. The test process creates a cgroup v2 directory below its own cgroup
//     (gotwistd-e2e-<test pid>-<random>) and starts /bin/sh with
//     CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWUTS|CLONE_NEWIPC|
//     CLONE_NEWCGROUP, placed into that cgroup with CLONE_INTO_CGROUP and
//     with SIGKILL as its parent-death signal. The shell is pid 1 of the new
//     pid namespace; its host pid is [Box.PID].
//  2. The shell makes every mount private, mounts a tmpfs for the overlay's
//     upper and work dirs (so what the box writes never reaches the host's
//     disk, and vanishes with the box; tmpfs always supports upper dirs),
//     copies into the upper dir the files the test process prepared in the
//     box directory's base/ (masks: units linked to /dev/null; /etc/hostname;
//     an empty /etc/fstab), and mounts the overlay: lowerdir=/.
//  3. Inside the overlay it mounts proc (with /proc/sys read-only but for
//     /proc/sys/net, and /proc/sysrq-trigger read-only), sysfs read-only
//     (so udev and other host-only units skip themselves), cgroup2 (the namespace's root is the
//     box cgroup), a tmpfs /dev with device nodes null, zero, full, random,
//     urandom and tty (made with mknod, so PrivateDevices= can copy them),
//     a new devpts instance, a file as /dev/console, and tmpfs on /dev/shm,
//     /run and /tmp.
//  4. It pivots into the overlay, detaches the old root, makes every mount
//     shared again (as systemd does on a machine, but not in a container:
//     LoadCredential= needs it), sets
//     container=other and execs /lib/systemd/systemd --system
//     --unit=multi-user.target through setpriv, which drops from the
//     capability bounding set what systemd-nspawn drops (CAP_SYS_MODULE,
//     CAP_SYS_TIME, CAP_SYS_RAWIO...). systemd brings up lo in the new
//     network namespace itself.
//  5. [Start] polls `systemctl is-system-running` through nsenter until it
//     says running or degraded (under a second here), or fails after
//     [Config.BootTimeout] with the journal's tail.
//
// Every later command runs inside the box with
// `nsenter -t PID -a -r -w CMD...`, so systemctl, journalctl, curl and the
// files they touch are the box's. [Box.Close] powers the box off (SIGKILL of
// its pid 1 after a grace period, which ends the whole pid namespace), and
// with the last process the mount namespace and all its mounts disappear;
// Close then removes the box's cgroup and temporary directory.
//
// Units masked before boot: [DefaultMask], every service, socket, timer and
// path the host enables in /etc/systemd/system/*.wants, and [Config.Mask].
package e2e
