package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gotwistd/gotwistd/endpoint"
)

// proxyLogEvery is how often a cause of bad PROXY headers is logged again
// while connections keep failing with it.
const proxyLogEvery = time.Minute

// proxyLog logs the connections a haproxy listener closes for their PROXY
// protocol header: the first of each cause at once, then at most one line
// a minute per cause, counting the ones in between, so that a
// misconfigured balancer or a scanner does not write a line per
// connection.
type proxyLog struct {
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	causes map[string]*proxyCause
}

type proxyCause struct {
	last   time.Time // when it was last logged
	quiet  int       // connections since, not logged
	logged bool
}

func newProxyLog(l *slog.Logger) *proxyLog {
	return &proxyLog{log: l, now: time.Now, causes: map[string]*proxyCause{}}
}

// onError is a ProxyListener.OnError.
func (p *proxyLog) onError(c net.Conn, err error) {
	cause := err.Error()
	var pe *endpoint.ProxyError
	if errors.As(err, &pe) {
		cause = pe.Cause
	}
	from := "?"
	if u, ok := c.(interface{ Unwrap() net.Conn }); ok {
		from = u.Unwrap().RemoteAddr().String()
	}
	now := p.now()
	p.mu.Lock()
	st := p.causes[cause]
	if st == nil {
		st = &proxyCause{}
		p.causes[cause] = st
	}
	if st.logged && now.Sub(st.last) < proxyLogEvery {
		st.quiet++
		p.mu.Unlock()
		return
	}
	quiet := st.quiet
	first := !st.logged
	st.logged, st.last, st.quiet = true, now, 0
	p.mu.Unlock()
	msg := fmt.Sprintf("Closed a connection from %s: %v", from, err)
	switch {
	case first:
		msg += fmt.Sprintf(" (more of this cause are logged at most once a minute; is the balancer sending the PROXY header, send-proxy or send-proxy-v2, to a haproxy: endpoint?)")
	case quiet > 0:
		msg += fmt.Sprintf(" (and %d more of this cause since the last line)", quiet)
	}
	p.log.Warn(msg)
}
