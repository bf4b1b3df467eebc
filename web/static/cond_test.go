package static

import "testing"

func TestETagListMatch(t *testing.T) {
	const etag = `"abc-1"`
	cases := []struct {
		name, list   string
		strong, weak bool
	}{
		{"exact", `"abc-1"`, true, true},
		{"star", "*", true, true},
		{"in list", `"x", "abc-1"`, true, true},
		{"no spaces", `"x","abc-1"`, true, true},
		{"weak", `W/"abc-1"`, false, true},
		{"other", `"abc-2"`, false, false},
		{"unquoted", `abc-1`, false, false},
		{"unterminated", `"abc-1`, false, false},
		{"garbage before", `x, "abc-1"`, false, false},
		{"empty elements", `, ,"abc-1"`, true, true},
		{"comma inside tag", `"a,b", "abc-1"`, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := etagListMatch(tc.list, etag, true); got != tc.strong {
				t.Errorf("strong match of %q = %v", tc.list, got)
			}
			if got := etagListMatch(tc.list, etag, false); got != tc.weak {
				t.Errorf("weak match of %q = %v", tc.list, got)
			}
		})
	}
}

func TestAcceptedCodings(t *testing.T) {
	const br, zstd, gzip = 1, 2, 4
	cases := []struct {
		name   string
		values []string
		want   uint8
	}{
		{"none", nil, 0},
		{"gzip", []string{"gzip"}, gzip},
		{"browser", []string{"gzip, deflate, br, zstd"}, br | zstd | gzip},
		{"two headers", []string{"gzip", "br"}, br | gzip},
		{"case", []string{"GZip, BR"}, br | gzip},
		{"q zero", []string{"br;q=0, gzip;q=0.5"}, gzip},
		{"q zero forms", []string{"br;q=0.0, zstd; q=0.000, gzip;Q=0."}, 0},
		{"q small", []string{"br;q=0.001"}, br},
		{"star", []string{"*"}, br | zstd | gzip},
		{"star zero", []string{"*;q=0"}, 0},
		{"star minus", []string{"*, gzip;q=0"}, br | zstd},
		{"identity only", []string{"identity"}, 0},
		{"x-gzip", []string{"x-gzip"}, gzip},
		{"junk", []string{";;,, ,q=1"}, 0},
		{"malformed q: unlisted", []string{"gzip;q=0.0000, br;q=.5, zstd;q=1.001"}, 0},
		{"malformed q: star covers it", []string{"*, gzip;q=0.5x"}, br | zstd | gzip},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := acceptedCodings(tc.values); got != tc.want {
				t.Errorf("acceptedCodings(%q) = %03b, want %03b", tc.values, got, tc.want)
			}
		})
	}
}
