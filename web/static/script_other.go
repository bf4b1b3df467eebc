//go:build !linux

package static

// resolveBeneath returns the absolute path of rel with every symbolic link
// resolved, refusing a path that leaves Root on the way.
func (h *Handler) resolveBeneath(rel string) (string, error) { return h.resolveEval(rel) }
