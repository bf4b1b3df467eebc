// Package balancer tests gotwistd behind a real load balancer (HAProxy,
// Debian's haproxy package): with --health and --drain-time, a SIGTERM
// turns the health path to 503, HAProxy's health check takes the server
// out of rotation, and gotwistd goes on answering what still reaches it
// until it stops. The tests build ./cmd/gotwistd and run the binary; they
// skip when haproxy is not installed.
package balancer
