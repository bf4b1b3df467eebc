package static

import (
	"errors"
	"path/filepath"
	"strings"
)

// errOutsideRoot: a script's path leads out of Root through a link.
var errOutsideRoot = errors.New("its path leads out of the root directory through a symbolic link")

// resolveEval is resolveBeneath by filepath.EvalSymlinks: the script's
// real path must be inside Root's real path.
func (h *Handler) resolveEval(rel string) (string, error) {
	root, err := filepath.EvalSymlinks(h.root)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(h.root, filepath.FromSlash(rel)))
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(real, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator)) {
		return "", errOutsideRoot
	}
	return real, nil
}
