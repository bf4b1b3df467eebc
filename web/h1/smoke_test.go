package h1

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
)

func TestSmoke(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %q %q", r.Method, r.URL, r.Proto, r.Host, b)
	})}
	go s.Serve(l)
	defer s.Close()
	for i := 0; i < 3; i++ {
		resp, err := http.Get("http://" + l.Addr().String() + "/a?b=c")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("%d %v %q", resp.StatusCode, resp.Header, b)
	}
}
