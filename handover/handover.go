// Package handover keeps HTTP/1.1 keep-alive connections open across a
// restart of an HTTP/1.1 server run by systemd: net/http's, or one that
// tells the Tracker where its requests end (Boundary).
//
// On stop, instead of closing its idle keep-alive connections (which makes
// every client that was about to reuse one see an error or retry), the
// server parks them in systemd's file descriptor store (sd_notify
// FDSTORE=1). systemd keeps them while the service restarts and passes them
// to the next instance with its listening sockets; the next instance adopts
// them and reads the clients' next requests, which waited in the kernel's
// socket buffers meanwhile. In-flight requests finish first, on their own
// connection, and then that connection is parked too.
//
// A connection is parked only at a request boundary with no byte of the
// next request read: the server's Read is interrupted with a deadline, and
// if that Read returned data instead, the handover of that connection is
// called off and the request is served. Nothing the client sent is lost.
// Bytes the server read ahead also count: the one byte net/http's
// background read takes while a handler runs (the start of a fast client's
// next request), or a pipelined request a server buffered.
//
// How the Tracker learns where the boundaries are depends on the server:
//
//   - a server that knows (gotwistd's HTTP/1.1 engine, web/h1, on its
//     goroutines and its event loops) tells it: each time a connection
//     is between requests with no unread byte buffered, it calls the
//     connection's BetweenRequests (see Boundary), found by looking
//     through the wrappers that Unwrap. Its next Read that waits is a
//     boundary; no other Read is. ConnState is not needed.
//   - net/http's Server cannot call it: for it, the Tracker guesses from
//     ConnState and the sizes of the server's Reads. Its buffered reader
//     asks for less than its whole buffer while it holds such bytes, so a
//     Read shorter than the connection's first one is not a boundary:
//     that request is served here, and the connection parked after it.
//     Install Tracker.ConnState on that server.
//
// HTTP/2 connections are never at a boundary another process could take
// up (their HPACK tables and stream state live in the server, and they
// run over TLS): the engine does not call BetweenRequests for them.
// A connection accepted once the handover has started (it was in the
// listening socket's queue when the listener closed, or a previous
// instance parked it and this one had not taken it yet) is parked at once,
// unread: the server never sees it.
// The store holds at most FileDescriptorStoreMax= descriptors, and systemd
// closes what it is sent beyond that: with Tracker.SetRoom, Handover parks
// no more than the room left, and leaves the rest to the server's
// Shutdown, which closes them at a request boundary.
// Connections that cannot be parked (TLS state lives in the process) are
// left to http.Server.Shutdown, which closes them at a request boundary with
// "Connection: close".
//
// Use it with net/http's Server (gotwistd's engine needs no ConnState):
//
//	t := handover.New(handover.DefaultName)
//	srv := &http.Server{Handler: h, ConnState: t.ConnState}
//	go srv.Serve(t.Listener(l))
//	...
//	l.Close()              // stop accepting; a socket unit keeps the socket
//	t.Handover(ctx)        // park idle and just-finished connections
//	srv.Shutdown(ctx)      // whatever is left
//
// and in the next instance, before serving:
//
//	socks, _ := systemd.SocketsNamed(handover.DefaultName)
//	l = handover.Adopt(l, socks)  // serve the parked connections first
//
// The service unit needs FileDescriptorStoreMax= (e.g. 4096). systemd keeps
// the store across `systemctl restart` and Restart= restarts, and empties it
// on `systemctl stop`, which then closes the parked connections.
package handover

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotwistd/gotwistd/systemd"
)

// DefaultName is the FDNAME under which connections are parked.
const DefaultName = "gotwistd-conn"

// Connection states. A connection moves active -> idle (the server called
// BetweenRequests, or reported StateNew or StateIdle) -> waiting (its Read started with no byte of a next
// request read or buffered) -> leaving (Handover interrupted that Read) ->
// parked on Close. Data read in any state but leaving makes it active.
const (
	stActive int32 = iota
	stIdle
	stWaiting
	stLeaving
)

// past is a deadline that has already passed.
var past = time.Unix(1, 0)

// Tracker follows the connections of one HTTP/1.x server so that Handover
// can park them. Its zero value is not usable: call New.
type Tracker struct {
	// Name is the FDNAME the connections are parked under.
	Name string
	// Store parks files; systemd.StoreFiles by default. Tests replace it.
	Store func(name string, files ...*os.File) (bool, error)

	mu        sync.Mutex
	conns     map[*conn]struct{}
	listeners []*listener
	leaving   atomic.Bool // set under mu
	changed   chan struct{}
	// accepting counts the calls in the listeners' Accept: one may hold
	// a connection accepted before the listener closed.
	accepting atomic.Int64
	parked    atomic.Int64
	failed    atomic.Int64
	refused   atomic.Int64
	// room is how many more connections the store takes; -1: no limit.
	room atomic.Int64
}

// New returns a Tracker that parks connections under name.
func New(name string) *Tracker {
	t := &Tracker{
		Name:    name,
		Store:   systemd.StoreFiles,
		conns:   make(map[*conn]struct{}),
		changed: make(chan struct{}, 1),
	}
	t.room.Store(-1)
	return t
}

// SetRoom bounds how many connections Handover parks: the room left in
// the store (FileDescriptorStoreMax= less the descriptors it holds).
// systemd closes what it is sent beyond its FileDescriptorStoreMax=, which
// would lose those connections; once the room is used up, Handover leaves
// the rest to the server's own Shutdown, which closes them at a request
// boundary. n < 0: no limit (the default). Call it before Handover.
func (t *Tracker) SetRoom(n int) {
	t.room.Store(int64(max(n, -1)))
}

// reserve takes one place in the store; false if none is left.
func (t *Tracker) reserve() bool {
	for {
		r := t.room.Load()
		if r < 0 {
			return true
		}
		if r == 0 {
			return false
		}
		if t.room.CompareAndSwap(r, r-1) {
			return true
		}
	}
}

// unreserve gives back a place reserve took.
func (t *Tracker) unreserve() {
	for {
		r := t.room.Load()
		if r < 0 || t.room.CompareAndSwap(r, r+1) {
			return
		}
	}
}

// Refused reports how many connections Handover left to the server
// because the store had no room for them.
func (t *Tracker) Refused() int64 { return t.refused.Load() }

// Listener wraps l so the connections it accepts can be handed over. Only
// connections that are *net.TCPConn or *net.UnixConn can be; others pass
// through untracked.
func (t *Tracker) Listener(l net.Listener) net.Listener {
	tl := &listener{Listener: l, t: t}
	t.mu.Lock()
	t.listeners = append(t.listeners, tl)
	t.mu.Unlock()
	return tl
}

// Boundary is implemented by the connections a Tracker's listener
// accepts. A server that knows where its connections' requests end calls
// BetweenRequests each time a connection is between two requests (or
// before its first) with no byte of the next one read or buffered, before
// the Read that waits for it. From the first call on, that connection's
// boundaries are the ones the server tells, and ConnState and the sizes of
// Reads are ignored for it. Servers find it by looking through wrappers
// with an Unwrap() net.Conn method.
type Boundary interface {
	BetweenRequests()
}

var _ Boundary = (*conn)(nil)

// ConnState is an http.Server ConnState hook, for servers that do not call
// BetweenRequests (net/http's); install it (or call it from yours) on the
// server whose listener Listener wrapped.
func (t *Tracker) ConnState(c net.Conn, s http.ConnState) {
	tc, ok := c.(*conn)
	for !ok {
		// Look through wrappers that say what they wrap.
		u, isWrapper := c.(interface{ Unwrap() net.Conn })
		if !isWrapper {
			return
		}
		c = u.Unwrap()
		tc, ok = c.(*conn)
	}
	if tc.told.Load() {
		return // the server says where the boundaries are
	}
	switch s {
	case http.StateNew, http.StateIdle:
		tc.state.Store(stIdle)
	case http.StateActive:
		// A Read that returned data already moved it to active, unless the
		// server had the request's bytes buffered (pipelining).
		tc.state.CompareAndSwap(stIdle, stActive)
	}
}

// Parked reports how many connections Handover has parked, and how many it
// could not park (they were closed instead).
func (t *Tracker) Parked() (parked, failed int64) { return t.parked.Load(), t.failed.Load() }

// Handover parks every tracked connection as it reaches a request boundary,
// until none is left or ctx is done. The caller must have stopped accepting
// (closed the listener) first: Handover also waits for the calls in the
// listener's Accept to return, since one may hold a connection accepted
// just before the close (it is parked, unread). It returns how many
// connections are still open when it returns, and ctx.Err() if that is not
// zero.
func (t *Tracker) Handover(ctx context.Context) (left int, err error) {
	// Under mu: a connection is either tracked before this, and seen
	// below, or sees leaving when it is wrapped, and parks itself.
	t.mu.Lock()
	t.leaving.Store(true)
	listeners := t.listeners
	t.mu.Unlock()
	// Adopted connections the server has not taken yet: park them back.
	for _, l := range listeners {
		if a, ok := l.Listener.(*adopting); ok {
			for _, c := range a.takeQueued() {
				t.wrap(c)
			}
		}
	}
	for {
		t.mu.Lock()
		conns := make([]*conn, 0, len(t.conns))
		for c := range t.conns {
			conns = append(conns, c)
		}
		t.mu.Unlock()
		if len(conns) == 0 && t.accepting.Load() == 0 {
			return 0, nil
		}
		for _, c := range conns {
			c.leave()
		}
		select {
		case <-t.changed:
		case <-time.After(50 * time.Millisecond):
			// A connection may go idle without a Read (pipelined bytes
			// already buffered); look again.
		case <-ctx.Done():
			return len(conns), ctx.Err()
		}
	}
}

func (t *Tracker) poke() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

func (t *Tracker) remove(c *conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.poke()
}

// park sends f to the store under name, counting the outcome.
func (t *Tracker) park(name string, f *os.File) {
	ok, err := t.Store(name, f)
	if ok && err == nil {
		t.parked.Add(1)
	} else {
		t.failed.Add(1)
	}
}

type listener struct {
	net.Listener
	t *Tracker
}

func (l *listener) Accept() (net.Conn, error) {
	l.t.accepting.Add(1)
	defer func() {
		if l.t.accepting.Add(-1) == 0 {
			l.t.poke()
		}
	}()
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if w := l.t.wrap(c); w != nil {
			return w, nil
		}
		// Parked: the handover has started.
	}
}

// fileConn is what a parkable connection is.
type fileConn interface {
	net.Conn
	File() (*os.File, error)
}

// wrap tracks c, or parks it and returns nil once the handover has
// started: nothing of it has been read, so it is at a request boundary.
func (t *Tracker) wrap(c net.Conn) net.Conn {
	fc, ok := c.(fileConn)
	if !ok {
		return c
	}
	tc := &conn{fileConn: fc, t: t}
	t.mu.Lock()
	t.conns[tc] = struct{}{} // until parked: Handover waits for it
	leaving := t.leaving.Load()
	t.mu.Unlock()
	if leaving {
		if !t.reserve() {
			// The store is full: the server serves it, and its
			// Shutdown closes it at a request boundary.
			t.refused.Add(1)
			t.remove(tc)
			return tc
		}
		tc.state.Store(stLeaving)
		tc.Close()
		return nil
	}
	return tc
}

// conn is a tracked connection.
type conn struct {
	fileConn
	t     *Tracker
	state atomic.Int32

	mu       sync.Mutex // orders leave() against a Read that got data
	deadline time.Time  // the read deadline the server last set
	closed   bool

	// told is set once the server called BetweenRequests: then state
	// idle means the server said it is between requests.
	told atomic.Bool
	// firstLen is the length of the connection's first Read: the size of
	// the server's read buffer when it holds nothing (0 until then). For
	// servers that do not call BetweenRequests.
	firstLen atomic.Int64
}

// BetweenRequests is Boundary's: the server is between two requests on
// this connection, with no byte of the next one read.
func (c *conn) BetweenRequests() {
	c.told.Store(true)
	c.state.CompareAndSwap(stActive, stIdle)
}

func (c *conn) Read(p []byte) (int, error) {
	if c.boundary(len(p)) && c.state.CompareAndSwap(stIdle, stWaiting) && c.t.leaving.Load() {
		c.t.poke()
	}
	n, err := c.fileConn.Read(p)
	if n > 0 && !c.state.CompareAndSwap(stWaiting, stActive) && !c.state.CompareAndSwap(stIdle, stActive) &&
		c.state.Load() == stLeaving {
		// The handover raced with the client's next request, and the
		// request won: its bytes are ours now, so serve it.
		c.mu.Lock()
		if c.state.CompareAndSwap(stLeaving, stActive) {
			c.fileConn.SetReadDeadline(c.deadline)
			c.t.unreserve()
		}
		c.mu.Unlock()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = nil
		}
	}
	return n, err
}

// boundary says whether a Read into a buffer of n bytes can be the server
// waiting for a next request with none of it read yet. For a server that
// calls BetweenRequests, every Read in state idle is (the state says it):
// this is called only then. For the others, the first Read of a
// connection is (nothing was read before it). After that, a server's
// buffered reader asks for its whole buffer, as long as the first Read,
// only when it holds no byte; a shorter Read means it holds the start of a
// request (read ahead by net/http's background read, or pipelined), which
// parking would lose.
func (c *conn) boundary(n int) bool {
	if n == 0 {
		return false // returns at once: waits for nothing
	}
	if c.told.Load() {
		return true
	}
	if c.firstLen.CompareAndSwap(0, int64(n)) {
		return true
	}
	return int64(n) >= c.firstLen.Load()
}

// ReadFrom keeps sendfile(2) for net/http's file responses.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.fileConn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.fileConn}, r)
}

// CloseWrite half-closes the connection, as net/http does after an error
// response.
func (c *conn) CloseWrite() error {
	if cw, ok := c.fileConn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Unwrap returns the connection underneath.
func (c *conn) Unwrap() net.Conn { return c.fileConn }

// leave interrupts the Read of a connection waiting for its next request,
// if the store has room for it; if not, the connection is no longer
// tracked, and left to the server.
func (c *conn) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != stWaiting {
		return
	}
	if !c.t.reserve() {
		c.t.refused.Add(1)
		c.t.remove(c)
		return
	}
	if c.state.CompareAndSwap(stWaiting, stLeaving) {
		c.fileConn.SetReadDeadline(past)
	} else {
		c.t.unreserve()
	}
}

func (c *conn) SetReadDeadline(d time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = d
	if c.state.Load() == stLeaving {
		return nil // keep the interruption in force
	}
	return c.fileConn.SetReadDeadline(d)
}

func (c *conn) SetDeadline(d time.Time) error {
	if err := c.SetReadDeadline(d); err != nil {
		return err
	}
	return c.fileConn.SetWriteDeadline(d)
}

// Close parks the connection if Handover interrupted it at a request
// boundary, and closes this process's descriptor in every case.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.fileConn.Close()
	}
	c.closed = true
	leaving := c.state.Load() == stLeaving
	c.mu.Unlock()
	var f *os.File
	var name string
	if leaving {
		var ok bool
		var err error
		if name, ok = c.t.nameOf(c.fileConn); !ok {
			c.t.failed.Add(1)
		} else if f, err = c.fileConn.File(); err != nil {
			f = nil
			c.t.failed.Add(1)
		}
	}
	err := c.fileConn.Close()
	if f != nil {
		c.t.park(name, f)
		f.Close()
	}
	c.t.remove(c)
	return err
}
