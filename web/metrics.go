package web

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Protocols the metrics tell apart, indexes of metrics.proto.
const (
	protoHTTP1 = iota
	protoHTTP2
	protoHTTP3
	numProtos
)

// protoLabels are the values of the metrics' protocol label.
var protoLabels = [numProtos]string{"http1", "http2", "http3"}

// classLabels are the values of the status class label: index 0 holds
// statuses outside 100-599, which no response should have.
var classLabels = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// cacheLine is the size the counters of one protocol are padded to, so
// the engines of different protocols do not write the same cache line.
const cacheLine = 64

// protoCounters are the counters of one protocol: one cache line.
type protoCounters struct {
	requests  [6]atomic.Uint64 // by status class (classLabels)
	bytes     atomic.Uint64    // response body bytes
	cacheHits atomic.Uint64    // answered by a fast path from the file cache
}

// metrics are the counters --metrics shows. Every counter is an atomic
// add on the request's path: no lock, no allocation. A nil *metrics
// counts nothing (--metrics and --metrics-listen not given).
type metrics struct {
	_     [cacheLine]byte
	proto [numProtos]protoCounters
	_     [cacheLine]byte

	accepted       atomic.Uint64 // TCP and UNIX connections accepted
	open           atomic.Int64  // TCP and UNIX connections open
	adopted        atomic.Uint64 // connections adopted from the previous instance
	parked         atomic.Uint64 // connections parked in the FD store on stop
	reloads        atomic.Uint64 // SIGHUP reloads that succeeded
	reloadFailures atomic.Uint64 // SIGHUP reloads that failed
	start          time.Time
	version        string
}

// protoIndex maps an *http.Request's ProtoMajor to a protocol index.
func protoIndex(major int) int {
	switch major {
	case 2:
		return protoHTTP2
	case 3:
		return protoHTTP3
	}
	return protoHTTP1
}

// statusClass maps a status code to its index in classLabels.
func statusClass(code int) int {
	if code < 100 || code > 599 {
		return 0
	}
	return code / 100
}

// request counts one response of the handler.
func (m *metrics) request(proto, code int, size int64) {
	c := &m.proto[proto]
	c.requests[statusClass(code)].Add(1)
	if size > 0 {
		c.bytes.Add(uint64(size))
	}
}

// cached counts one 200 a fast path answered from the file cache.
func (m *metrics) cached(proto, size int) {
	c := &m.proto[proto]
	c.requests[2].Add(1)
	c.cacheHits.Add(1)
	if size > 0 {
		c.bytes.Add(uint64(size))
	}
}

// metricsContentType is the Prometheus text exposition format's type.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// appendText appends the metrics in the Prometheus text exposition format
// (version 0.0.4): every family with its HELP and TYPE, every series
// even when it is zero, so dashboards see them from the first scrape.
func (m *metrics) appendText(b []byte) []byte {
	family := func(name, typ, help string) {
		b = append(b, "# HELP "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = append(b, help...)
		b = append(b, "\n# TYPE "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = append(b, typ...)
		b = append(b, '\n')
	}
	// sample appends name{labels} value; labels are pairs, already valid
	// (they are constants here).
	sample := func(name string, v uint64, labels ...string) {
		b = append(b, name...)
		if len(labels) > 0 {
			b = append(b, '{')
			for i := 0; i < len(labels); i += 2 {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, labels[i]...)
				b = append(b, `="`...)
				b = append(b, labels[i+1]...)
				b = append(b, '"')
			}
			b = append(b, '}')
		}
		b = append(b, ' ')
		b = strconv.AppendUint(b, v, 10)
		b = append(b, '\n')
	}
	family("gotwistd_http_requests_total", "counter", "HTTP requests answered, by protocol and status class.")
	for p := range numProtos {
		for c := 1; c < len(classLabels); c++ {
			sample("gotwistd_http_requests_total", m.proto[p].requests[c].Load(), "protocol", protoLabels[p], "code", classLabels[c])
		}
		if n := m.proto[p].requests[0].Load(); n > 0 {
			sample("gotwistd_http_requests_total", n, "protocol", protoLabels[p], "code", classLabels[0])
		}
	}
	family("gotwistd_http_response_body_bytes_total", "counter", "Body bytes of the responses sent, by protocol.")
	for p := range numProtos {
		sample("gotwistd_http_response_body_bytes_total", m.proto[p].bytes.Load(), "protocol", protoLabels[p])
	}
	family("gotwistd_cache_hits_total", "counter", "Requests answered from the in-memory file cache without the full handler, by protocol.")
	for p := range numProtos {
		sample("gotwistd_cache_hits_total", m.proto[p].cacheHits.Load(), "protocol", protoLabels[p])
	}
	family("gotwistd_connections_open", "gauge", "TCP and UNIX connections open now (HTTP/3 is not counted).")
	open := m.open.Load()
	if open < 0 {
		open = 0
	}
	sample("gotwistd_connections_open", uint64(open))
	family("gotwistd_connections_accepted_total", "counter", "TCP and UNIX connections accepted, adopted ones included.")
	sample("gotwistd_connections_accepted_total", m.accepted.Load())
	family("gotwistd_handover_adopted_total", "counter", "Keep-alive connections adopted from the previous instance through systemd's file descriptor store.")
	sample("gotwistd_handover_adopted_total", m.adopted.Load())
	family("gotwistd_handover_parked_total", "counter", "Keep-alive connections parked in systemd's file descriptor store for the next instance.")
	sample("gotwistd_handover_parked_total", m.parked.Load())
	family("gotwistd_reloads_total", "counter", "Reloads (SIGHUP), by result.")
	sample("gotwistd_reloads_total", m.reloads.Load(), "result", "ok")
	sample("gotwistd_reloads_total", m.reloadFailures.Load(), "result", "failed")
	family("gotwistd_build_info", "gauge", "Always 1; the version label says which gotwistd serves.")
	sample("gotwistd_build_info", 1, "version", m.version)
	family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.")
	sample("process_start_time_seconds", uint64(m.start.Unix()))
	return b
}

// serveMetrics answers a GET or HEAD of the metrics path.
func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !getOrHead(w, r) {
		return
	}
	body := m.appendText(make([]byte, 0, 4096))
	h := w.Header()
	h.Set("Content-Type", metricsContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// getOrHead answers 405 to a request that is neither GET nor HEAD, and
// reports whether the request may go on.
func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "HEAD, GET")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusMethodNotAllowed)
	_, _ = w.Write([]byte("method not allowed\n"))
	return false
}
