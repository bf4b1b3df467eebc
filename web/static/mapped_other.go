//go:build !unix

package static

import (
	"errors"
	"os"
)

// mapFile cannot map files here: large files are copied as before.
func mapFile(*os.File, int64) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapFile([]byte) {}
