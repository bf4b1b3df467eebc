// Command rawaccept is the floor of the cold socket-activation case: the
// least a Go program can do before its first byte. Started with a listening
// socket as fd 3 (systemd's LISTEN_FDS=1), it answers every connection with
// one file, read at start, using the syscall package alone: no net, no
// net/http, no logging, no options.
//
//	systemd-socket-activate -l 127.0.0.1:8080 -- rawaccept /srv/www/small.html
//
// It is a yardstick for ./bench/run, not a server: it ignores what the
// request asks for.
package main

import (
	"os"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) != 2 {
		fail("usage: rawaccept FILE (with a listening socket as fd 3)")
	}
	body, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("rawaccept: " + err.Error())
	}
	resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\n\r\n"), body...)
	// systemd's NonBlocking=true (the seed's unit) hands the socket over
	// non-blocking: a second accept would then fail with EAGAIN instead
	// of waiting.
	if err := syscall.SetNonblock(3, false); err != nil {
		fail("rawaccept: fd 3: " + err.Error() + " (start it with a listening socket as fd 3, as systemd-socket-activate does)")
	}
	buf := make([]byte, 4096)
	for {
		c, _, err := syscall.Accept4(3, syscall.SOCK_CLOEXEC)
		if err == syscall.EINTR || err == syscall.ECONNABORTED {
			continue
		}
		if err != nil {
			fail("rawaccept: accept on fd 3: " + err.Error() + " (start it with a listening socket as fd 3, as systemd-socket-activate does)")
		}
		// One read is the whole request on loopback; the answer does
		// not depend on it.
		_, _ = syscall.Read(c, buf)
		_, _ = syscall.Write(c, resp)
		_ = syscall.Close(c)
	}
}

func fail(msg string) {
	os.Stderr.WriteString(msg + "\n")
	os.Exit(2)
}
