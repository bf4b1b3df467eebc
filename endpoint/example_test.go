package endpoint_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/gotwistd/gotwistd/endpoint"
)

// Parse an endpoint string as twistd's --listen takes it, bind it, and
// serve HTTP on it.
func Example() {
	e, err := endpoint.Parse("tcp:0:interface=127.0.0.1:backlog=128")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("endpoint:", e)

	l, err := e.Listen(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	// l.Description() is what "Site starting on %s" shows: the port.

	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})}
	go srv.Serve(l.Stream)
	defer srv.Close()

	resp, err := http.Get("http://" + l.Stream.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println("response:", string(body))
	// Output:
	// endpoint: tcp:0:interface=127.0.0.1:backlog=128
	// response: hello
}

// Errors name the bad part of the string.
func ExampleParse_error() {
	_, err := endpoint.Parse("tcp:abc")
	fmt.Println(err)
	_, err = endpoint.Parse("systemd:domain=INET:index=0:name=web")
	fmt.Println(err)
	// Output:
	// bad endpoint "tcp:abc": port "abc" is not a number
	// bad endpoint "systemd:domain=INET:index=0:name=web": both index= and name= are given: give exactly one
}

// TLS on a socket passed by systemd: ssl wraps the systemd endpoint.
func ExampleParse_wrapped() {
	e, err := endpoint.Parse("ssl:systemd:domain=INET6:name=https:privateKey=/etc/ssl/www.key:certKey=/etc/ssl/www.pem")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Type, e.Inner.Type, e.Inner.Domain, e.Inner.Name, e.PrivateKey, e.CertKey)
	// Output:
	// ssl systemd INET6 https /etc/ssl/www.key /etc/ssl/www.pem
}
