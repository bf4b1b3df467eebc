package systemd

import (
	"fmt"
	"os"
)

// maxFDName is systemd's FDNAME_MAX.
const maxFDName = 255

// StoreFiles pushes files into the service's file descriptor store:
// FDSTORE=1 and FDNAME=name, with the files attached. systemd keeps them
// while the service restarts (and, with FileDescriptorStorePreserve=yes on
// systemd >= 254, while it is stopped) and passes them back at the next
// start through LISTEN_FDS/LISTEN_FDNAMES after the socket-unit fds, where
// Sockets reads them by name. The unit needs FileDescriptorStoreMax= > 0,
// or systemd drops them (and logs it). systemd also drops an fd from the
// store by itself when it sees EPOLLHUP or EPOLLERR on it (a closed
// connection). The files stay open and owned by the caller.
//
// name follows LISTEN_FDNAMES rules: at most 255 bytes of printable ASCII
// without ':'. An empty name omits FDNAME=, and systemd names the entries
// "stored". Several entries may share one name.
//
// Results as NotifyWithFiles; in addition, a bad name or no files is an
// error wrapping ErrInvalidArgument, reported even when NOTIFY_SOCKET is
// unset.
func StoreFiles(name string, files ...*os.File) (bool, error) {
	return sys.storeFiles(name, files...)
}

func (e env) storeFiles(name string, files ...*os.File) (bool, error) {
	if err := checkFDName(name); err != nil {
		return false, err
	}
	if len(files) == 0 {
		return false, fmt.Errorf("sd_notify FDSTORE=1: no files to store: %w", ErrInvalidArgument)
	}
	state := "FDSTORE=1"
	if name != "" {
		state += "\nFDNAME=" + name
	}
	return e.notify(state, files)
}

// RemoveStoredFiles closes and forgets every entry named name in the
// service's file descriptor store: FDSTOREREMOVE=1 and FDNAME=name. Use
// "stored" for entries stored without a name. name follows StoreFiles's
// rules and must not be empty. Results as Notify; removing a name that is
// not stored succeeds and does nothing.
func RemoveStoredFiles(name string) (bool, error) {
	return sys.removeStoredFiles(name)
}

func (e env) removeStoredFiles(name string) (bool, error) {
	if name == "" {
		return false, fmt.Errorf("sd_notify FDSTOREREMOVE=1: empty FDNAME (use \"stored\" for unnamed entries): %w", ErrInvalidArgument)
	}
	if err := checkFDName(name); err != nil {
		return false, err
	}
	return e.notify("FDSTOREREMOVE=1\nFDNAME="+name, nil)
}

// checkFDName applies systemd's fdname_is_valid.
func checkFDName(name string) error {
	if len(name) > maxFDName {
		return fmt.Errorf("FDNAME %.20q...: %d bytes, at most %d allowed: %w", name, len(name), maxFDName, ErrInvalidArgument)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == ':' {
			return fmt.Errorf("FDNAME %q: ':' separates names in LISTEN_FDNAMES and is not allowed: %w", name, ErrInvalidArgument)
		}
		if c < ' ' || c > '~' {
			return fmt.Errorf("FDNAME %q: byte %d (0x%02x) is not printable ASCII: %w", name, i, c, ErrInvalidArgument)
		}
	}
	return nil
}
