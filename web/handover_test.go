package web

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestHandoverEnabled(t *testing.T) {
	tests := []struct {
		name, mode, notify, fdstore string
		want                        bool
	}{
		{"auto with store", HandoverAuto, "/run/notify", "4096", true},
		{"auto without store", HandoverAuto, "/run/notify", "", false},
		{"auto store zero", HandoverAuto, "/run/notify", "0", false},
		{"auto garbage", HandoverAuto, "/run/notify", "lots", false},
		{"on", HandoverOn, "/run/notify", "", true},
		{"off", HandoverOff, "/run/notify", "4096", false},
		{"no systemd", HandoverOn, "", "4096", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"NOTIFY_SOCKET": tt.notify, "FDSTORE": tt.fdstore}
			if got := handoverEnabled(tt.mode, func(k string) string { return env[k] }); got != tt.want {
				t.Errorf("handoverEnabled = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestShutdownParksKeepAliveConnection plays systemd's part with a real
// unixgram NOTIFY_SOCKET: on Shutdown the server must send FDSTORE=1 with
// the client's connection attached, without closing it, so that whoever
// holds that fd next answers the client's next request on the same
// connection.
func TestShutdownParksKeepAliveConnection(t *testing.T) {
	dir := t.TempDir()
	notify := filepath.Join(dir, "notify")
	pm, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	t.Setenv("NOTIFY_SOCKET", notify)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644)

	ts := startServer(t, []string{"--listen", "tcp:0:interface=127.0.0.1", "--path", dir, "--handover", "on"})
	c, err := net.Dial("tcp", ts.addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprint(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	if resp.Close {
		t.Fatal("first response closed the connection")
	}

	ts.stop()
	if got := ts.log.find("Handed 1 idle connections"); got == "" {
		t.Errorf("no handover log line in %q", ts.log.all())
	}

	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := pm.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if msg := string(buf[:n]); !strings.Contains(msg, "FDSTORE=1") || !strings.Contains(msg, "FDNAME=gotwistd-conn") {
		t.Fatalf("notification %q is not an FD store entry", msg)
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(cmsgs) != 1 {
		t.Fatalf("control messages %v: %v", cmsgs, err)
	}
	fds, err := unix.ParseUnixRights(&cmsgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds %v: %v", fds, err)
	}
	f := os.NewFile(uintptr(fds[0]), "parked")
	parked, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	// The next holder answers on the same client connection.
	go func() {
		br := bufio.NewReader(parked)
		req, err := http.ReadRequest(br)
		if err != nil {
			parked.Close()
			return
		}
		fmt.Fprintf(parked, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
		parked.Close()
	}()
	fmt.Fprint(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("the parked connection was closed: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "/next" {
		t.Fatalf("next request answered %q", body)
	}
}
