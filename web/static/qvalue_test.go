package static

import (
	"fmt"
	"testing"
)

// TestParseQ pins RFC 9110's qvalue grammar, the one the Accept-Encoding
// and Accept readers share.
func TestParseQ(t *testing.T) {
	cases := []struct {
		name   string
		params string
		q      int
		ok     bool
	}{
		{"no parameters", "", 1000, true},
		{"other parameter", "level=1", 1000, true},
		{"q=0", "q=0", 0, true},
		{"q=0.", "q=0.", 0, true},
		{"q=0.0", "q=0.0", 0, true},
		{"q=0.000", "q=0.000", 0, true},
		{"q=0.0000: four decimals", "q=0.0000", 0, false},
		{"q=0.001", "q=0.001", 1, true},
		{"q=0.5", "q=0.5", 500, true},
		{"q=0.123", "q=0.123", 123, true},
		{"q=0.1234: four decimals", "q=0.1234", 0, false},
		{"q=1", "q=1", 1000, true},
		{"q=1.", "q=1.", 1000, true},
		{"q=1.000", "q=1.000", 1000, true},
		{"q=1.001: over one", "q=1.001", 0, false},
		{"q=1.0000: four decimals", "q=1.0000", 0, false},
		{"q=.5: no leading digit", "q=.5", 0, false},
		{"q=2", "q=2", 0, false},
		{"q=-0", "q=-0", 0, false},
		{"q=0.5x", "q=0.5x", 0, false},
		{"q=0..5", "q=0..5", 0, false},
		{"q= empty", "q=", 0, false},
		{"q=1e0", "q=1e0", 0, false},
		{"upper-case Q", "Q=0.3", 300, true},
		{"whitespace", " q = 0.8 ", 800, true},
		{"after another parameter", "level=1; q=0.2", 200, true},
		{"the first q counts", "q=0.5;q=1", 500, true},
		{"q without =", "q", 1000, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, ok := parseQ(tc.params)
			if ok != tc.ok || ok && q != tc.q {
				t.Errorf("parseQ(%q) = %d, %v; want %d, %v", tc.params, q, ok, tc.q, tc.ok)
			}
		})
	}
}

func TestParseQAllValues(t *testing.T) {
	for n := 0; n <= 1000; n++ {
		s := fmt.Sprintf("q=%d.%03d", n/1000, n%1000)
		if got, ok := parseQ(s); !ok || got != n {
			t.Fatalf("parseQ(%q) = %d, %v", s, got, ok)
		}
	}
}

// FuzzParseQ: a weight parseQ accepts is in [0, 1000], and written back
// as a qvalue it parses to itself.
func FuzzParseQ(f *testing.F) {
	for _, s := range []string{"", "q=0", "q=0.", "q=0.0000", "q=0.001", "q=1.000", "q=1.001", "q=.5", " Q = 0.8 ", "a=b;q=0.2", "q=1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, params string) {
		q, ok := parseQ(params)
		if !ok {
			return
		}
		if q < 0 || q > 1000 {
			t.Fatalf("parseQ(%q) = %d, out of range", params, q)
		}
		back := fmt.Sprintf("q=%d.%03d", q/1000, q%1000)
		if q2, ok2 := parseQ(back); !ok2 || q2 != q {
			t.Fatalf("parseQ(%q) = %d, but parseQ(%q) = %d, %v", params, q, back, q2, ok2)
		}
	})
}
