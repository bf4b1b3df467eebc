package web

import (
	"strconv"
	"strings"

	"github.com/gotwistd/gotwistd/internal/getopt"
	"github.com/gotwistd/gotwistd/web/static"
)

// The options that shape what the files' responses look like:
// --cache-control, --cors, --error-page, --spa-fallback and --listing.

func setCacheControl(cfg *Config, v string) error {
	rule, err := static.ParseCacheRule(v)
	if err != nil {
		return getopt.Usagef(hint, "--cache-control: %v", err)
	}
	cfg.CacheControl = append(cfg.CacheControl, rule)
	return nil
}

func setCORS(cfg *Config, v string) error {
	origins, err := static.ParseCORS(v)
	if err != nil {
		return getopt.Usagef(hint, "%v", err)
	}
	for _, o := range origins {
		if !contains(cfg.CORS, o) {
			cfg.CORS = append(cfg.CORS, o)
		}
	}
	if len(cfg.CORS) > 1 && contains(cfg.CORS, "*") {
		return getopt.Usagef(hint, "--cors * already allows every origin: give it alone")
	}
	return nil
}

func setErrorPage(cfg *Config, v string) error {
	code, path, err := parseErrorPage(v)
	if err != nil {
		return err
	}
	if _, dup := cfg.ErrorPages[code]; dup {
		return getopt.Usagef(hint, "--error-page %q: status %d has a page already: give one per status", v, code)
	}
	if cfg.ErrorPages == nil {
		cfg.ErrorPages = make(map[int]string)
	}
	cfg.ErrorPages[code] = path
	return nil
}

func setSPAFallback(cfg *Config, v string) error {
	if !strings.HasPrefix(v, "/") {
		return getopt.Usagef(hint, "--spa-fallback %q: give the URL path of a file under --path, such as /index.html", v)
	}
	cfg.SPAFallback = v
	return nil
}

func setListing(cfg *Config, v string) error {
	switch v {
	case static.ListingGotwistd, static.ListingTwistd, static.ListingOff:
		cfg.Listing = v
		return nil
	}
	return getopt.Usagef(hint, "--listing %q: give gotwistd, twistd or off", v)
}

// parseErrorPage reads STATUS=PATH.
func parseErrorPage(v string) (int, string, error) {
	status, path, ok := strings.Cut(v, "=")
	code, err := strconv.Atoi(status)
	if !ok || err != nil || len(status) != 3 {
		return 0, "", getopt.Usagef(hint, "--error-page %q: write STATUS=PATH, such as 404=/404.html", v)
	}
	if code < 400 || code > 599 {
		return 0, "", getopt.Usagef(hint, "--error-page %q: %d is not an error status; give one of 400-599", v, code)
	}
	if !strings.HasPrefix(path, "/") {
		return 0, "", getopt.Usagef(hint, "--error-page %q: give the URL path of a file under --path, such as %d=/%d.html", v, code, code)
	}
	return code, path, nil
}

// checkSiteOptions refuses the options that need files to serve when
// there are none (no --path: the welcome page).
func checkSiteOptions(cfg *Config) error {
	if cfg.Root != "" {
		return nil
	}
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"cache-control", len(cfg.CacheControl) > 0},
		{"cors", len(cfg.CORS) > 0},
		{"error-page", len(cfg.ErrorPages) > 0},
		{"spa-fallback", cfg.SPAFallback != ""},
		{"listing", cfg.Listing != ""},
	} {
		if o.set {
			return getopt.Usagef(hint, "--%s needs --path: without it only the welcome page is served", o.name)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
