package h2

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzConn feeds a connection arbitrary frames after a valid preface and
// SETTINGS: the engine must neither panic nor hang once the client is
// gone.
func FuzzConn(f *testing.F) {
	var hb bytes.Buffer
	he := hpack.NewEncoder(&hb)
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":path", "/fast"}} {
		he.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	var seed bytes.Buffer
	fr := http2.NewFramer(&seed, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes(), EndHeaders: false})
	fr.WriteContinuation(3, true, nil)
	fr.WriteData(3, true, []byte("body"))
	fr.WriteWindowUpdate(0, 100)
	fr.WritePing(false, [8]byte{})
	fr.WriteRSTStream(3, http2.ErrCodeCancel)
	f.Add(seed.Bytes())
	f.Add([]byte{0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	s := &Server{Fast: fastFiles{}, Handler: http2Handler()}
	f.Fuzz(func(t *testing.T, in []byte) {
		cli, srv := net.Pipe()
		done := make(chan struct{})
		go func() {
			s.ServeConn(srv)
			srv.Close()
			close(done)
		}()
		go io.Copy(io.Discard, cli)
		var pre bytes.Buffer
		pre.WriteString(http2.ClientPreface)
		http2.NewFramer(&pre, nil).WriteSettings()
		cli.SetWriteDeadline(time.Now().Add(time.Second))
		cli.Write(pre.Bytes())
		cli.Write(in)
		cli.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the connection did not end after the client closed it")
		}
	})
}

func http2Handler() http.Handler { return http.HandlerFunc(testHandler) }
