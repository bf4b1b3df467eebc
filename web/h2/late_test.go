package h2

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
)

// TestLateConnection: a connection accepted as the server shuts down
// (after GOAWAY went to the others), or open but with no stream yet when
// it does, is still served the requests its client sends first, then
// GOAWAY names the last of them; one whose client sends none gets GOAWAY
// with last stream 0, and ends.
func TestLateConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		streams []uint32 // sent in one flight after the preface
		last    uint32
		open    bool // connected before the shutdown began, no stream yet
	}{
		{"one request", []uint32{1}, 1, false},
		{"three at once", []uint32{1, 3, 5}, 5, false},
		{"no request", nil, 0, false},
		{"open before, one request", []uint32{1}, 1, true},
		{"open before, no request", nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{Fast: fastFiles{}}
			hs := start(t, s)
			var r *rawConn
			if tc.open {
				r = dialRaw(t, hs)
				r.until(func(f http2.Frame) bool { _, ok := f.(*http2.SettingsFrame); return ok })
			}
			s.goAway() // what http.Server.Shutdown calls: the server is stopping
			if !tc.open {
				r = dialRaw(t, hs)
			}
			// One write, so that the server reads the flight at once.
			var flight bytes.Buffer
			fr := r.fr
			r.fr = http2.NewFramer(&flight, nil)
			for _, id := range tc.streams {
				r.headers(id, true, get1...)
			}
			r.fr = fr
			if _, err := r.nc.Write(flight.Bytes()); err != nil {
				t.Fatal(err)
			}
			ended := map[uint32]bool{}
			var goAway *http2.GoAwayFrame
			r.until(func(f http2.Frame) bool {
				switch f := f.(type) {
				case *http2.DataFrame:
					if f.StreamEnded() {
						ended[f.StreamID] = true
					}
				case *http2.RSTStreamFrame:
					t.Errorf("stream %d reset (%v)", f.StreamID, f.ErrCode)
				case *http2.GoAwayFrame:
					goAway = f
				}
				return goAway != nil && len(ended) == len(tc.streams)
			})
			if goAway.ErrCode != http2.ErrCodeNo || goAway.LastStreamID != tc.last {
				t.Errorf("GOAWAY %v last %d, want NO_ERROR last %d", goAway.ErrCode, goAway.LastStreamID, tc.last)
			}
			for _, id := range tc.streams {
				if !ended[id] {
					t.Errorf("stream %d not answered", id)
				}
			}
		})
	}
}
