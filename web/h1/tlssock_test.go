package h1

import (
	"bytes"
	"io"
	"net"
	"slices"
	"testing"
)

// record is a TLS record of type 23 (application data) with body.
func record(body string) []byte {
	return append([]byte{23, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
}

// chunkConn is a connection whose reads return the chunks given, then EOF.
type chunkConn struct {
	net.Conn
	chunks [][]byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// TestTLSSockRecords: a tlsSock hands crypto/tls at most one record per
// read, whatever the reads underneath bring: the rest waits in its stash
// (buffered), and the stream comes through whole and in order.
func TestTLSSockRecords(t *testing.T) {
	r1, r2, r3, empty := record("first"), record("second record"), record(string(make([]byte, 3000))), record("")
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name   string
		chunks [][]byte
		size   int      // of the reader's buffer
		want   [][]byte // what each Read returns
	}{
		{"one record a read", [][]byte{r1, r2}, 4096, [][]byte{r1, r2}},
		{"three records in one read", [][]byte{cat(r1, r2, r3)}, 8192, [][]byte{r1, r2, r3}},
		{"an empty record between", [][]byte{cat(r1, empty, r2)}, 8192, [][]byte{r1, empty, r2}},
		{"a record and a half, then the rest", [][]byte{cat(r1, r2[:4]), r2[4:]}, 4096, [][]byte{r1, r2[:4], r2[4:]}},
		{"a header split", [][]byte{r1[:2], r1[2:]}, 4096, [][]byte{r1[:2], r1[2:]}},
		{"a small reader buffer", [][]byte{cat(r1, r2)}, 4, [][]byte{r1[:4], r1[4:8], r1[8:], r2[:2], r2[2:6], r2[6:10], r2[10:14], r2[14:]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &tlsSock{Conn: &chunkConn{chunks: slices.Clone(tc.chunks)}, fd: -1}
			var got [][]byte
			buf := make([]byte, tc.size)
			for {
				n, err := s.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, slices.Clone(buf[:n]))
			}
			if !slices.EqualFunc(got, tc.want, bytes.Equal) {
				t.Errorf("reads %q, want %q", got, tc.want)
			}
			if s.buffered() {
				t.Error("input left in the stash")
			}
		})
	}
}

// FuzzRecordFramer: fed a stream in pieces of any size, the framer stops
// at the end of every record and nowhere else.
func FuzzRecordFramer(f *testing.F) {
	f.Add(append(record("ab"), record("")...), uint8(3))
	f.Add(append(record(string(make([]byte, 300))), 23, 3), uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, size uint8) {
		var ends []int
		for i := 0; i+5 <= len(stream); {
			i += 5 + (int(stream[i+3])<<8 | int(stream[i+4]))
			if i <= len(stream) {
				ends = append(ends, i)
			}
		}
		var fr recordFramer
		var got []int
		step := int(size)%41 + 1
		for pos := 0; pos < len(stream); {
			b := stream[pos:min(len(stream), pos+step)]
			k := fr.advance(b)
			if k <= 0 || k > len(b) {
				t.Fatalf("advance over %d bytes at %d took %d", len(b), pos, k)
			}
			pos += k
			if k < len(b) && fr.hn != 0 {
				t.Fatalf("advance stopped at %d, inside a record", pos)
			}
			if fr.hn == 0 {
				got = append(got, pos)
			}
		}
		if !slices.Equal(got, ends) {
			t.Errorf("record ends %v, want %v", got, ends)
		}
	})
}
