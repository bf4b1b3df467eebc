package static

// seams are the parts of a Config that only this package's tests set, in
// place of the system's defaults. They live in the Config (and so in each
// Handler), not in package variables, so that tests needing different
// ones can run in parallel.
type seams struct {
	// noSystemMIME leaves out systemMIMEFile: the built-in types only, so
	// that a test's output does not depend on this machine's mime.types.
	noSystemMIME bool
	// forceWalk makes NoFollowSymlinks take the component-by-component
	// walk used without openat2, also where openat2 works.
	forceWalk bool
}

// mimeFile is the system MIME types file New reads, or "" for none.
func (s seams) mimeFile() string {
	if s.noSystemMIME {
		return ""
	}
	return systemMIMEFile
}
