package static

import (
	"math"
	"testing"
)

func TestParseRange(t *testing.T) {
	type r = byteRange
	cases := []struct {
		name   string
		header string
		size   int64
		want   rangeResult
		ranges []byteRange
	}{
		{"first-last", "bytes=0-4", 12, rangeOK, []r{{0, 5}}},
		{"open end", "bytes=6-", 12, rangeOK, []r{{6, 6}}},
		{"suffix", "bytes=-3", 12, rangeOK, []r{{9, 3}}},
		{"suffix longer than file", "bytes=-20", 12, rangeOK, []r{{0, 12}}},
		{"end clipped", "bytes=10-99", 12, rangeOK, []r{{10, 2}}},
		{"last byte", "bytes=11-11", 12, rangeOK, []r{{11, 1}}},
		{"whole", "bytes=0-", 12, rangeOK, []r{{0, 12}}},
		{"two", "bytes=0-1,4-5", 12, rangeOK, []r{{0, 2}, {4, 2}}},
		{"whitespace", "bytes = 0-1 ,\t4-5 ", 12, rangeOK, []r{{0, 2}, {4, 2}}},
		{"empty elements", "bytes=,0-1,,", 12, rangeOK, []r{{0, 2}}},
		{"unit case", "Bytes=0-1", 12, rangeOK, []r{{0, 2}}},
		{"request order kept", "bytes=6-7,0-1", 12, rangeOK, []r{{6, 2}, {0, 2}}},
		{"unsatisfiable dropped", "bytes=0-1,50-60", 12, rangeOK, []r{{0, 2}}},
		{"huge end", "bytes=0-99999999999999999999999", 12, rangeOK, []r{{0, 12}}},
		{"start past end", "bytes=12-", 12, rangeUnsatisfiable, nil},
		{"all past end", "bytes=20-30,40-", 12, rangeUnsatisfiable, nil},
		{"zero suffix", "bytes=-0", 12, rangeUnsatisfiable, nil},
		{"empty file", "bytes=0-", 0, rangeUnsatisfiable, nil},
		{"empty file suffix", "bytes=-5", 0, rangeIgnore, nil},
		{"empty file suffix among others", "bytes=10-20,-5", 0, rangeIgnore, nil},
		{"empty file zero suffix", "bytes=-0", 0, rangeUnsatisfiable, nil},
		{"huge start", "bytes=99999999999999999999-", 12, rangeUnsatisfiable, nil},
		{"reversed", "bytes=5-3", 12, rangeIgnore, nil},
		{"reversed among good", "bytes=0-1,5-3", 12, rangeIgnore, nil},
		{"no dash", "bytes=5", 12, rangeIgnore, nil},
		{"no equals", "bytes", 12, rangeIgnore, nil},
		{"other unit", "items=0-1", 12, rangeIgnore, nil},
		{"letters", "bytes=a-b", 12, rangeIgnore, nil},
		{"sign", "bytes=+1-2", 12, rangeIgnore, nil},
		{"negative", "bytes=-1-2", 12, rangeIgnore, nil},
		{"double dash", "bytes=--1", 12, rangeIgnore, nil},
		{"nothing", "bytes=", 12, rangeIgnore, nil},
		{"only commas", "bytes=,,", 12, rangeIgnore, nil},
		{"dash only", "bytes=-", 12, rangeIgnore, nil},
		{"empty", "", 12, rangeIgnore, nil},
		{"overlap beyond size", "bytes=0-9,0-9", 12, rangeIgnore, nil},
		{"overlap within size", "bytes=0-3,2-5", 12, rangeOK, []r{{0, 4}, {2, 4}}},
		{"sixteen", manyRanges(16), 1000, rangeOK, nil},
		{"seventeen", manyRanges(17), 1000, rangeIgnore, nil},
		{"seventeen some unsatisfiable", manyRanges(17), 10, rangeIgnore, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf [maxRanges]byteRange
			got, res := parseRange(tc.header, tc.size, buf[:0])
			if res != tc.want {
				t.Fatalf("parseRange(%q, %d) result %d, want %d", tc.header, tc.size, res, tc.want)
			}
			if tc.ranges != nil {
				if len(got) != len(tc.ranges) {
					t.Fatalf("ranges %v, want %v", got, tc.ranges)
				}
				for i := range got {
					if got[i] != tc.ranges[i] {
						t.Fatalf("ranges %v, want %v", got, tc.ranges)
					}
				}
			}
		})
	}
}

func TestParseDigits(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "007": 7, "1234": 1234, "9223372036854775807": math.MaxInt64,
		"9223372036854775808": math.MaxInt64, "99999999999999999999999999": math.MaxInt64} {
		if got, ok := parseDigits(in); !ok || got != want {
			t.Errorf("parseDigits(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1a", " 1", "1.0"} {
		if _, ok := parseDigits(in); ok {
			t.Errorf("parseDigits(%q) accepted", in)
		}
	}
}

// FuzzRange: the parser never panics; accepted ranges lie within the file,
// are non-empty, number at most maxRanges, and several never add up to
// more than the file.
func FuzzRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=0-1,3-4", "bytes=5-3", "bytes=,,", "bytes=-0",
		"bytes=99999999999999999999-", manyRanges(17), "bytes=0-0,0-0,0-0", "BYTES = 1-2"} {
		f.Add(s, int64(12))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		var buf [maxRanges]byteRange
		got, res := parseRange(header, size, buf[:0])
		if res != rangeOK {
			return
		}
		if len(got) == 0 || len(got) > maxRanges {
			t.Fatalf("%q: %d ranges", header, len(got))
		}
		var sum int64
		for _, r := range got {
			if r.start < 0 || r.length <= 0 || r.start >= size || r.length > size-r.start {
				t.Fatalf("%q size %d: range %+v outside the file", header, size, r)
			}
			sum += r.length
		}
		if len(got) > 1 && sum > size {
			t.Fatalf("%q size %d: ranges add up to %d", header, size, sum)
		}
	})
}
