package web

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/gotwistd/gotwistd/systemd"
)

// The handover plan's timing. With --handover=auto, $NOTIFY_SOCKET set and
// $FDSTORE unset (systemd 252-253), only systemd knows, over D-Bus, whether
// the unit has a file descriptor store. Its answer matters at Shutdown
// only, so Listen does not wait for it: the question runs in the
// background while the server starts and serves, the plain listeners track
// their connections in the meantime, and Shutdown waits for the answer
// before it parks or closes them.

// pendingPlan is a handoverPlan, decided now or once systemd answers.
type pendingPlan struct {
	// maybe: the handover is on, or may be: the listeners get a tracker.
	maybe bool
	// asked: systemd's answer decides (else the environment did).
	asked bool
	// done is closed once result is set and the after funcs ran.
	done   chan struct{}
	result atomic.Pointer[handoverPlan]

	mu    sync.Mutex
	after []func() // to run once systemd answered (then)
	ran   bool     // after was run, or given up on
}

// startHandoverPlan decides mode against the environment and, when that
// takes systemd's answer, asks query in the background; note gets the
// plan's log line when there is one.
func startHandoverPlan(mode string, getenv func(string) string, query func(context.Context) (systemd.FDStore, error), note func(string)) *pendingPlan {
	p, ask := planFromEnv(mode, getenv)
	if !ask {
		pp := &pendingPlan{maybe: p.on, done: make(chan struct{}), ran: true}
		pp.result.Store(&p)
		close(pp.done)
		return pp
	}
	pp := &pendingPlan{maybe: true, asked: true, done: make(chan struct{})}
	go func() {
		// QueryFDStore bounds itself (2 s).
		p := planFromStore(query(context.Background()))
		pp.result.Store(&p)
		if p.note != "" {
			note(p.note)
		}
		pp.runAfter()
		close(pp.done)
	}()
	return pp
}

// get returns the plan, and whether it is decided.
func (pp *pendingPlan) get() (handoverPlan, bool) {
	if pp == nil {
		return handoverPlan{room: -1}, true
	}
	if p := pp.result.Load(); p != nil {
		return *p, true
	}
	return handoverPlan{room: -1}, false
}

// then runs f once systemd has answered (now, if it has, or if nobody
// asked it): what changes the store, as forgetting adopted connections
// does, waits for the answer, so that the count it gives is the store's
// before the change.
func (pp *pendingPlan) then(f func()) {
	if pp == nil {
		f()
		return
	}
	pp.mu.Lock()
	if pp.ran {
		pp.mu.Unlock()
		f()
		return
	}
	pp.after = append(pp.after, f)
	pp.mu.Unlock()
}

// runAfter runs the funcs then put off, once.
func (pp *pendingPlan) runAfter() {
	pp.mu.Lock()
	fs := pp.after
	pp.after, pp.ran = nil, true
	pp.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// roomOf is the room plan p leaves in the store at Shutdown: a count
// taken over D-Bus held the connections this instance adopted, which have
// left the store since.
func (s *Server) roomOf(p handoverPlan) int {
	if p.stored && p.room >= 0 {
		return p.room + s.adoptedN
	}
	return p.room
}

// settleHandover waits, at Shutdown, for systemd's answer if Listen asked
// for one (no longer than ctx allows; QueryFDStore gives up after 2 s),
// then sets the plan: the trackers get the store's room, or, with no
// store, are dropped, so that Shutdown closes idle connections.
func (s *Server) settleHandover(ctx context.Context) {
	pp := s.pending
	if pp == nil || !pp.asked {
		return
	}
	p := handoverPlan{room: -1}
	select {
	case <-pp.done:
		p = *pp.result.Load()
	default:
		select {
		case <-pp.done:
			p = *pp.result.Load()
		case <-ctx.Done():
			// Nothing is parked: forget the adopted connections now.
			pp.runAfter()
			s.log.Info("No connection handover on stop: systemd did not say in time whether the unit has a file descriptor store")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.room = s.roomOf(p)
	s.plan, s.handover = p, p.on
	for _, ls := range s.served {
		if ls.tracker == nil {
			continue
		}
		if p.on {
			ls.tracker.SetRoom(p.room)
		} else {
			ls.tracker = nil
		}
	}
}

// pendingListener is a plain listener while systemd's answer is awaited:
// it accepts through the handover tracker's listener (tracked) until the
// answer is a no, then directly.
type pendingListener struct {
	net.Listener
	tracked net.Listener
	plan    *pendingPlan
}

// Accept accepts the next connection, tracked unless there is no store.
func (l *pendingListener) Accept() (net.Conn, error) {
	if p, ok := l.plan.get(); ok && !p.on {
		return l.Listener.Accept()
	}
	return l.tracked.Accept()
}

// Close closes the listener.
func (l *pendingListener) Close() error { return l.tracked.Close() }

// storeQuery asks systemd for the unit's file descriptor store
// (queryFDStore; tests give their own).
type storeQuery = func(context.Context) (systemd.FDStore, error)
