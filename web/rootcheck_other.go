//go:build !unix

package web

// rootProblem: the permission check is Unix only.
func rootProblem(string) string { return "" }
