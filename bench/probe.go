package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// encodingProbe is what one server sent to one request of a br case.
type encodingProbe struct {
	Status   int
	Encoding string // Content-Encoding; empty: identity
	Vary     string
	Body     int64 // bytes on the wire (compressed, if it was)
	Err      string
}

// String renders a probe for the progress lines and the report.
func (p encodingProbe) String() string {
	if p.Err != "" {
		return "error: " + p.Err
	}
	enc := p.Encoding
	if enc == "" {
		enc = "identity"
	}
	s := fmt.Sprintf("%s, %s B", enc, groupDigits(float64(p.Body)))
	if p.Status != http.StatusOK {
		s += fmt.Sprintf(" (status %d)", p.Status)
	}
	return s
}

// probeEncoding makes one request of case c to r with the br cases'
// Accept-Encoding and records the Content-Encoding and the size of the body
// as sent, before the load runs, so that the report says what each server
// answers a browser.
func probeEncoding(ctx context.Context, r *running, c string) encodingProbe {
	// DisableCompression: send only the Accept-Encoding asked for, and
	// keep the body as it came.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/%s", r.http, casePath[c]), nil)
	if err != nil {
		return encodingProbe{Err: err.Error()}
	}
	req.Header.Set("Accept-Encoding", acceptEncoding)
	resp, err := client.Do(req)
	if err != nil {
		return encodingProbe{Err: err.Error()}
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	p := encodingProbe{Status: resp.StatusCode, Encoding: strings.Join(resp.Header.Values("Content-Encoding"), ", "),
		Vary: strings.Join(resp.Header.Values("Vary"), ", "), Body: n}
	if err != nil {
		p.Err = err.Error()
	}
	return p
}
