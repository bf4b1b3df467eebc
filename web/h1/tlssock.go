package h1

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// NewTLSListener is tls.NewListener for this engine: each connection l
// accepts becomes a server-side *tls.Conn with cfg, as tls.NewListener
// makes them, but over a layer of the engine's own between crypto/tls and
// the connection. Through it, once the handshake chose HTTP/1.x, an idle
// keep-alive connection the fast.Handler answered last can wait in an
// event loop as a plain one does (Linux; see the package documentation),
// the loop reading and decrypting what arrives itself. Other engines can
// serve its connections too: on a goroutine the layer only passes reads
// and writes through.
func NewTLSListener(l net.Listener, cfg *tls.Config) net.Listener {
	return &tlsListener{Listener: l, cfg: cfg}
}

type tlsListener struct {
	net.Listener
	cfg *tls.Config
}

// Accept waits for the next connection and wraps it (the handshake comes
// with the first read or write, as with tls.NewListener's).
func (l *tlsListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&tlsSock{Conn: nc, fd: -1}, l.cfg), nil
}

// tlsSock is what a *tls.Conn from NewTLSListener reads and writes: the
// accepted connection, and, while an event loop has the connection
// (nonblock), its socket directly, without waiting.
//
// It hands crypto/tls at most one record at a time: when a read brings
// more than the rest of the record in progress, the rest of the read
// waits in stash for the next Read. So the tls.Conn never holds a record
// it has not decrypted once its Read returned plaintext, and the engine
// can tell whether input is buffered above the socket (then a loop must
// not wait for the socket to be readable) from the stash alone.
//
// In a loop (nonblock), a read that finds nothing returns errWouldBlock,
// a net.Error crypto/tls does not keep (as a deadline's), with the part
// of a record read so far kept in the tls.Conn; a write never fails for
// want of room: what the socket does not take waits in pend, and the
// loop hands the connection to a goroutine, which writes it (flushPending)
// before anything else. crypto/tls keeps every write error, so a write
// that returned EAGAIN would end the connection.
type tlsSock struct {
	net.Conn
	// fd is the socket under Conn, when every wrapper between passes
	// reads and writes through (Transparent); -1 otherwise. Found after
	// the handshake (socketFD).
	fd int
	// nonblock: an event loop has the connection; read and write fd
	// without waiting. Set and cleared by whoever serves the connection
	// (atomic: a Close from another goroutine writes a close_notify).
	nonblock atomic.Bool
	// ended: a loop's read met the end of the input (or an error), which
	// the tls.Conn keeps: the connection never goes to a loop again.
	ended bool
	// through: the connection never goes to a loop (its protocol is
	// not HTTP/1.x): reads no longer stop at the end of a record.
	through bool

	fr     recordFramer
	stash  []byte // input read past the record in progress: stash[s0:s1]
	s0, s1 int

	mu       sync.Mutex  // for pend: Server.Close may close the tls.Conn as a goroutine flushes it
	pend     []byte      // ciphertext a loop's write left: written before anything else
	hasPend  atomic.Bool // len(pend) > 0, to look without the lock
	flushing atomic.Bool // flushPending is writing

	// Under mu: another package's loop holds the socket (LoopHold), and
	// a Close that came meanwhile, which LoopRelease carries out.
	held, closeWanted bool
	wake              func() // LoopHold's: called on such a Close
	// drained: the held socket's last read did not fill its buffer
	// (readHeld). Only the holder's goroutine uses it.
	drained bool
}

// errFlushing is what a write gets while flushPending writes: it can only
// be the close_notify of a Close from another goroutine, which then
// closes the connection at once, as crypto/tls's Close does when a Write
// is under way.
var errFlushing = errors.New("h1: TLS connection closed while its output was written")

// stashBufs are the stashes of connections that had more than a record
// arrive in one read (pipelining clients); given back once drained.
var stashBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Read gives crypto/tls the stream's next bytes, up to the end of the
// record in progress.
func (s *tlsSock) Read(p []byte) (int, error) {
	if s.s0 < s.s1 {
		n := s.fr.advance(s.stash[s.s0:min(s.s1, s.s0+len(p))])
		copy(p, s.stash[s.s0:s.s0+n])
		s.s0 += n
		if s.s0 == s.s1 {
			s.dropStash()
		}
		return n, nil
	}
	var n int
	var err error
	switch {
	case s.through && s.nonblock.Load():
		return s.readHeld(p)
	case s.through:
		return s.Conn.Read(p)
	case s.nonblock.Load():
		n, err = s.readNow(p)
	default:
		n, err = s.Conn.Read(p)
	}
	if n <= 0 {
		return n, err
	}
	k := s.fr.advance(p[:n])
	if k < n {
		s.keep(p[k:n])
	}
	return k, err
}

// keep stashes b, which was read past the end of the record in progress.
func (s *tlsSock) keep(b []byte) {
	if len(b) <= 32<<10 {
		s.stash = *stashBufs.Get().(*[]byte)
	} else {
		s.stash = make([]byte, len(b))
	}
	s.s0, s.s1 = 0, copy(s.stash, b)
}

func (s *tlsSock) dropStash() {
	if len(s.stash) == 32<<10 {
		b := s.stash
		stashBufs.Put(&b)
	}
	s.stash, s.s0, s.s1 = nil, 0, 0
}

// buffered reports whether input waits in the stash: crypto/tls reads
// more without a system call.
func (s *tlsSock) buffered() bool { return s.s0 < s.s1 }

// Write writes b (crypto/tls's records), after what a loop left.
func (s *tlsSock) Write(b []byte) (int, error) {
	if s.nonblock.Load() {
		return s.writeNow(b)
	}
	if s.flushing.Load() {
		return 0, errFlushing
	}
	if err := s.flushPending(); err != nil {
		return 0, err
	}
	return s.Conn.Write(b)
}

// Hold and Release pass to the connection beneath when it can gather
// writes (web/tlsbatch's Conn): web/h2, serving a connection that chose h2
// by ALPN, sends a large write's records in one system call through them.
// Such a connection never goes to a loop, so nothing is held while a loop
// writes the socket directly.
func (s *tlsSock) Hold() {
	if h, ok := s.Conn.(interface{ Hold() }); ok {
		h.Hold()
	}
}

// Release writes what Hold gathered; see Hold.
func (s *tlsSock) Release() error {
	if h, ok := s.Conn.(interface{ Release() error }); ok {
		return h.Release()
	}
	return nil
}

// blocked reports whether a loop's writes left output in pend.
func (s *tlsSock) blocked() bool { return s.hasPend.Load() }

// flushPending writes, on the connection's goroutine, what an event loop
// could not.
func (s *tlsSock) flushPending() error {
	if !s.hasPend.Load() {
		return nil
	}
	s.mu.Lock()
	p := s.pend
	s.pend = nil
	s.hasPend.Store(false)
	s.mu.Unlock()
	if len(p) == 0 {
		return nil
	}
	s.flushing.Store(true)
	_, err := s.Conn.Write(p)
	s.flushing.Store(false)
	return err
}

// socketFD finds the socket under the connection, if the engine may read
// and write it directly: every wrapper on the way is Transparent.
func (s *tlsSock) socketFD() int {
	var sc syscall.Conn
	for inner := s.Conn; inner != nil && sc == nil; {
		switch t := inner.(type) {
		case *net.TCPConn:
			sc = t
		case *net.UnixConn:
			sc = t
		case interface{ Unwrap() net.Conn }:
			if _, ok := inner.(Transparent); !ok {
				return -1
			}
			inner = t.Unwrap()
		default:
			return -1
		}
	}
	if sc == nil {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if raw.Control(func(f uintptr) { fd = int(f) }) != nil {
		return -1
	}
	return fd
}

// recordFramer follows the TLS record layer's framing (a 5-byte header
// whose last two bytes are the length of what follows) of the bytes
// handed to crypto/tls.
type recordFramer struct {
	hdr  [5]byte
	hn   int // header bytes seen of the record in progress
	left int // its body bytes still to come, once hn is 5
}

// advance takes b, the stream's next bytes, up to and including the end
// of the record in progress: it returns how many bytes of b that is
// (len(b) if the record goes on past b).
func (f *recordFramer) advance(b []byte) int {
	i := 0
	for i < len(b) {
		if f.hn < len(f.hdr) {
			k := copy(f.hdr[f.hn:], b[i:])
			f.hn += k
			i += k
			if f.hn < len(f.hdr) {
				break
			}
			f.left = int(f.hdr[3])<<8 | int(f.hdr[4])
		} else {
			k := min(f.left, len(b)-i)
			f.left -= k
			i += k
		}
		if f.left == 0 {
			f.hn = 0
			return i
		}
	}
	return i
}

// tlsIdle reports whether a TLS connection's input is all with the
// engine: nothing decrypted waits in its tls.Conn (the engine's last read
// did not fill its buffer) nor in the stash, so the next bytes must come
// from the socket. Always true for other connections.
func (c *conn) tlsIdle() bool {
	return c.sock == nil || !c.readFull && !c.sock.buffered() && !c.sock.ended
}

// passThrough makes the tlsSock under tc, if there is one, pass reads
// through once its stash is drained: tc's protocol is served elsewhere
// (NextProto), never from a loop.
func passThrough(tc *tls.Conn) {
	if s, ok := tc.NetConn().(*tlsSock); ok {
		s.through = true
	}
}

// adoptSock lets c, a TLS connection whose handshake chose HTTP/1.x,
// go to event loops, if it came from NewTLSListener over a socket the
// engine can read itself.
func (c *conn) adoptSock() {
	s, ok := c.tc.NetConn().(*tlsSock)
	if !ok {
		return
	}
	if s.fd = s.socketFD(); s.fd >= 0 {
		c.sock, c.fd = s, s.fd
	}
}

// loopTLSChunk is how much of a large body an event loop encrypts and
// writes at a time: it stops once the socket takes no more.
const loopTLSChunk = 64 << 10

// loopWriteTLS is writeWith in an event loop, for a TLS connection: the
// output buffer and then p, a fast.Handler's body (which stays valid),
// through crypto/tls, stopping once the socket takes no more: the rest of
// p goes to c.pending, for the goroutine the loop then hands c to.
func (c *conn) loopWriteTLS(p []byte) error {
	w := c.w
	if len(w.wbuf) > 0 && len(w.wbuf) < tlsRecord {
		// The head shares its record with the body's start, as on a
		// goroutine (writeWith).
		k := min(len(p), tlsRecord-len(w.wbuf))
		w.wbuf = append(w.wbuf, p[:k]...)
		p = p[k:]
	}
	if len(w.wbuf) > 0 {
		_, err := c.tc.Write(w.wbuf)
		w.wbuf = w.wbuf[:0]
		if err != nil {
			c.werr = err
			return err
		}
	}
	for len(p) > 0 && !c.sock.blocked() {
		k := min(len(p), loopTLSChunk)
		if _, err := c.tc.Write(p[:k]); err != nil {
			c.werr = err
			return err
		}
		p = p[k:]
	}
	if len(p) > 0 {
		c.pending = append(c.pending, p)
	}
	return nil
}

// loopBlocked reports whether an event loop's writes to c left output
// for a goroutine to write.
func (c *conn) loopBlocked() bool {
	return len(c.pending) > 0 || c.sock != nil && c.sock.blocked()
}
