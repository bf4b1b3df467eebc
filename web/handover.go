package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/gotwistd/gotwistd/endpoint"
	"github.com/gotwistd/gotwistd/handover"
	"github.com/gotwistd/gotwistd/systemd"
)

// Values of Config.Handover (--handover).
const (
	// HandoverAuto parks connections when systemd says the unit has a file
	// descriptor store: $FDSTORE > 0 (systemd >= 254 sets it; a unit can
	// set it with Environment=FDSTORE=N), or, with $FDSTORE unset and
	// $NOTIFY_SOCKET set, the unit's FileDescriptorStoreMax= as systemd
	// tells it over D-Bus (systemd 252-253 set no $FDSTORE).
	HandoverAuto = "auto"
	// HandoverOn parks connections whenever NOTIFY_SOCKET is set.
	HandoverOn = "on"
	// HandoverOff never parks connections: Shutdown closes idle ones.
	HandoverOff = "off"
)

// handoverPlan is what Shutdown does with idle connections.
type handoverPlan struct {
	on bool
	// room is how many connections the store takes; -1: no limit known.
	room int
	// stored is how many descriptors the store held when asked (over
	// D-Bus): those of ours among them, which the previous instance
	// parked, leave it when adopted, and make room.
	stored bool
	// note is a line for the log, or "".
	note string
}

// planHandover decides Config.Handover against the environment and, for
// auto without $FDSTORE, systemd's answer over D-Bus (query).
func planHandover(mode string, getenv func(string) string, query func(context.Context) (systemd.FDStore, error)) handoverPlan {
	p, ask := planFromEnv(mode, getenv)
	if !ask {
		return p
	}
	return planFromStore(query(context.Background()))
}

// planFromEnv is planHandover's decision from the environment alone; ask:
// none yet, systemd's answer over D-Bus decides (planFromStore).
func planFromEnv(mode string, getenv func(string) string) (_ handoverPlan, ask bool) {
	if getenv("NOTIFY_SOCKET") == "" || mode == HandoverOff {
		return handoverPlan{room: -1}, false
	}
	if v := getenv("FDSTORE"); v != "" {
		// The environment wins: systemd >= 254 sets it, or the unit.
		n, err := strconv.Atoi(v)
		switch {
		case err == nil && n > 0:
			return handoverPlan{on: true, room: n}, false
		case mode == HandoverOn:
			return handoverPlan{on: true, room: -1}, false
		}
		return handoverPlan{room: -1}, false
	}
	if mode == HandoverOn {
		return handoverPlan{on: true, room: -1}, false
	}
	return handoverPlan{}, true
}

// planFromStore is planHandover's decision from systemd's answer.
func planFromStore(st systemd.FDStore, err error) handoverPlan {
	switch {
	case errors.Is(err, systemd.ErrNoUnit):
		return handoverPlan{room: -1}
	case err != nil:
		return handoverPlan{room: -1, note: fmt.Sprintf("No connection handover on stop: $FDSTORE is unset and systemd could not be asked for FileDescriptorStoreMax= (%v); if the unit has a store, add Environment=FDSTORE=N with its size", err)}
	case st.Max == 0:
		return handoverPlan{room: -1}
	}
	return handoverPlan{on: true, room: st.Free(), stored: true,
		note: fmt.Sprintf("File descriptor store: FileDescriptorStoreMax=%d, %d held (systemd over D-Bus): idle keep-alive connections go to the next instance on a restart", st.Max, st.Stored)}
}

// queryFDStore asks systemd. planHandover takes it as a parameter, so
// tests give their own instead of replacing a package variable.
func queryFDStore(ctx context.Context) (systemd.FDStore, error) { return systemd.QueryFDStore(ctx) }

// adoptable reports whether listener i serves plain HTTP/1.1 on a stream
// socket, the only kind whose connections can be parked and adopted.
func (s *Server) adoptable(i int) bool {
	l := s.listeners[i]
	return l.Stream != nil && l.TLS == nil && !l.AcceptOnce
}

// adopt takes the connections a previous instance parked in systemd's file
// descriptor store, and hands them to the first plain HTTP listener. With
// no such listener they are closed (the clients reconnect).
func (s *Server) adopt() {
	all, err := systemd.Sockets()
	if err != nil {
		return
	}
	var socks []systemd.Socket
	names := map[string]bool{}
	for _, sk := range all {
		// DefaultName, and DefaultName@ADDRESS for connections from a
		// load balancer (handover.NameFor).
		if _, _, ok := handover.AddrOf(handover.DefaultName, sk.Name); ok {
			socks = append(socks, sk)
			names[sk.Name] = true
		}
	}
	if len(socks) == 0 {
		return
	}
	// They leave the store (handover.AdoptLater's forget removes them),
	// after systemd said how full it is: settleHandover counts them.
	s.adoptedN = len(socks)
	for i := range s.listeners {
		if s.adoptable(i) {
			s.served[i].adopted = socks
			if s.metrics != nil {
				s.metrics.adopted.Add(uint64(len(socks)))
			}
			s.log.Info(fmt.Sprintf("Adopted %d connections from the previous instance", len(socks)))
			return
		}
	}
	for _, sk := range socks {
		if sk.File != nil {
			sk.File.Close()
		}
	}
	s.pending.then(func() {
		for name := range names {
			systemd.RemoveStoredFiles(name)
		}
	})
}

// wrapPlain puts the handover machinery around listener i's socket.
// Call it with mu held.
func (s *Server) wrapPlain(i int, ln net.Listener) net.Listener {
	if !s.adoptable(i) {
		return ln
	}
	ls := s.served[i]
	if socks := ls.adopted; socks != nil {
		// Connections parked before their PROXY header was read are
		// read by this listener's header reader, or one configured as
		// it would be.
		pl := s.listeners[i].Proxy
		if pl == nil {
			pl = endpoint.NewProxyListener(nil)
			pl.HeaderTimeout, pl.OnError = s.cfg.ReadHeaderTimeout, s.proxyLog.onError
		}
		var forget func()
		ln, forget = handover.AdoptLater(ln, socks, func(c net.Conn) net.Conn { return pl.Wrap(c) })
		s.pending.then(forget)
		ls.adopted = nil
	}
	if !s.handover {
		return ln
	}
	p, settled := s.pending.get()
	if settled && !p.on {
		return ln
	}
	t := handover.New(handover.DefaultName)
	ls.tracker = t
	if settled {
		t.SetRoom(s.roomOf(p))
		return t.Listener(ln)
	}
	// Until systemd answers, connections are tracked; from a "no" on,
	// they are accepted as without a store.
	return &pendingListener{Listener: ln, tracked: t.Listener(ln), plan: s.pending}
}

// handOver stops accepting on listener i and parks its connections as each
// reaches a request boundary, until none is left or ctx is done; what is
// left is then shut down as usual.
func (s *Server) handOver(ctx context.Context, i int) error {
	ls := s.served[i]
	t := ls.tracker
	ls.l.Stream.Close() // stop accepting; systemd keeps the socket
	left, err := t.Handover(ctx)
	parked, failed := t.Parked()
	if s.metrics != nil && parked > 0 {
		s.metrics.parked.Add(uint64(parked))
	}
	if parked > 0 || failed > 0 || left > 0 {
		s.log.Info(fmt.Sprintf("Handed %d idle connections to systemd's file descriptor store (%d failed, %d still busy)", parked, failed, left))
	}
	if n := t.Refused(); n > 0 {
		s.log.Warn(fmt.Sprintf("The file descriptor store is full: %d connections closed at a request boundary instead of handed over (raise FileDescriptorStoreMax=)", n))
	}
	if err != nil {
		return err
	}
	err = ls.engine.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		// Shutdown closes the listener too, and hears that it is closed
		// already when Serve has not yet noticed our Close above. It has
		// still waited for every request in flight: no failure, and no
		// reason to close the connections left (Shutdown's caller would).
		err = nil
	}
	return err
}

// getenv is os.Getenv. planHandover takes it as a parameter, so tests
// give their own instead of replacing a package variable.
func getenv(key string) string { return os.Getenv(key) }
