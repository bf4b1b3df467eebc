package handover_test

import (
	"context"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gotwistd/gotwistd/handover"
	"github.com/gotwistd/gotwistd/systemd"
)

// A net/http server, socket-activated, whose restarts lose no keep-alive
// connection. Its unit needs FileDescriptorStoreMax=, e.g.
//
//	[Service]
//	ExecStart=/usr/local/bin/hello
//	FileDescriptorStoreMax=4096
//	Environment=FDSTORE=4096
//
// with a .socket unit giving it the listening socket.
func Example() {
	socks, err := systemd.Sockets()
	if err != nil || len(socks) == 0 {
		log.Fatalf("no listening socket from systemd (run it from a .socket unit): %v", err)
	}
	var ln net.Listener
	for _, s := range socks {
		if s.Listening && s.Type == syscall.SOCK_STREAM {
			if ln, err = net.FileListener(s.File); err != nil {
				log.Fatal(err)
			}
			break
		}
	}
	// Connections the previous instance parked come first.
	parked, _ := systemd.SocketsNamed(handover.DefaultName)
	ln = handover.Adopt(ln, parked)

	t := handover.New(handover.DefaultName)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("hello\n"))
		}),
		ConnState: t.ConnState,
	}
	go srv.Serve(t.Listener(ln))
	systemd.Ready("serving")

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
	systemd.Stopping("handing connections over")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln.Close()        // stop accepting: systemd keeps the socket and its queue
	t.Handover(ctx)   // park idle and just-finished connections in the store
	srv.Shutdown(ctx) // close what could not be parked, at a request boundary
}
