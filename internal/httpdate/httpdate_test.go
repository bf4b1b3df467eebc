package httpdate

import (
	"net/http"
	"testing"
	"time"
)

// TestFor: the value is http.TimeFormat in UTC of the second asked for,
// the line wraps it, and a second already formatted is not formatted again.
func TestFor(t *testing.T) {
	cases := []struct {
		name string
		now  time.Time
		want string
	}{
		{"UTC", time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC), "Wed, 25 Nov 2026 08:00:00 GMT"},
		{"another zone", time.Date(2026, 11, 25, 9, 30, 5, 0, time.FixedZone("X", 3600)), "Wed, 25 Nov 2026 08:30:05 GMT"},
		{"fraction of a second", time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC), "Fri, 02 Jan 2026 03:04:05 GMT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := For(tc.now)
			if d.Value() != tc.want {
				t.Errorf("Value = %q, want %q", d.Value(), tc.want)
			}
			if got, want := string(d.Line()), "Date: "+tc.want+"\r\n"; got != want {
				t.Errorf("Line = %q, want %q", got, want)
			}
			if _, err := http.ParseTime(d.Value()); err != nil {
				t.Errorf("net/http cannot read it back: %v", err)
			}
			if again := For(tc.now.Add(-time.Duration(tc.now.Nanosecond()))); again != d {
				t.Error("the same second was formatted again")
			}
		})
	}
}
