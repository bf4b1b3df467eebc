package web

import "net/http"

// errorPager is what the site needs of the static handler's error pages
// (--error-page) for the answers it makes itself: a 500 after a panic,
// guard's 414 and 400, and gotwistd's HTTP/1.1 engine's refusals.
type errorPager interface {
	// WriteErrorPage answers r with the page for code; false, with
	// nothing written, when there is none.
	WriteErrorPage(w http.ResponseWriter, r *http.Request, code int) bool
	// ErrorPageBody returns the page for code; ok false when none.
	ErrorPageBody(code int) (contentType string, body []byte, ok bool)
}

// enginePage gives gotwistd's HTTP/1.1 engine the page of its own refusals
// (400, 414, 431, 501...): the configured error page, or the site's page
// in twistd's style, or "" for the engine's own text.
func (s *site) enginePage(code int) (contentType, body string) {
	if s.pages != nil {
		if ct, b, ok := s.pages.ErrorPageBody(code); ok {
			return ct, string(b)
		}
	}
	return enginePage(code)
}
