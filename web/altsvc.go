package web

import "sync"

// altSvcHeaders gives the fast paths of an ssl listener next to a quic one
// the cached files' header lines with the Alt-Svc line ServeHTTP adds, so
// that announcing HTTP/3 does not send every request down the full
// handler. Each variant is made once per cached header (the static
// handler's header slices never change), and kept while the cached header
// is: the key holds it alive, so its address names it alone.
type altSvcHeaders struct {
	line string // "Alt-Svc: VALUE\r\n"

	mu sync.RWMutex
	m  map[altSvcKey][]byte
}

// altSvcKey names a cached header: its first byte's address and length.
type altSvcKey struct {
	p *byte
	n int
}

// maxAltSvcHeaders bounds the variants kept: past it, they are dropped
// and made again as requests come (files that changed leave theirs
// behind).
const maxAltSvcHeaders = 4096

func newAltSvcHeaders(value string) *altSvcHeaders {
	return &altSvcHeaders{line: "Alt-Svc: " + value + "\r\n", m: make(map[altSvcKey][]byte)}
}

// with returns header with the Alt-Svc line appended.
func (a *altSvcHeaders) with(header []byte) []byte {
	if len(header) == 0 {
		return []byte(a.line)
	}
	k := altSvcKey{&header[0], len(header)}
	a.mu.RLock()
	h, ok := a.m[k]
	a.mu.RUnlock()
	if ok {
		return h
	}
	h = make([]byte, 0, len(header)+len(a.line))
	h = append(append(h, header...), a.line...)
	a.mu.Lock()
	if len(a.m) >= maxAltSvcHeaders {
		clear(a.m)
	}
	a.m[k] = h
	a.mu.Unlock()
	return h
}
