//go:build !unix

package web

import "errors"

// openFilesLimit is not known on this system.
func openFilesLimit() (uint64, error) {
	return 0, errors.New("no open-files limit on this system")
}

// countOpenFDs is not known on this system.
func countOpenFDs() (int, error) {
	return 0, errors.New("no count of open descriptors on this system")
}
