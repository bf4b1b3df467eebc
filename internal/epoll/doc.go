// Package epoll is how gotwistd's event loops (web/h1's for HTTP/1.1,
// web/h2's for HTTP/2) wait for their sockets: an epoll(7) set that a
// busy loop looks at without waiting, yielding the CPU between looks for a
// few microseconds, before it sleeps in a blocking epoll_pwait(2).
//
// Both engines' loops wait the same way because the reason is the same:
// on a machine whose cores the clients share, a thread that sleeps and is
// woken for every request costs more than the request, and Go's netpoller
// (which would otherwise wake the goroutines) notices readiness only when
// a P looks, which under load can take milliseconds.
//
// Linux only: elsewhere the engines keep a goroutine per connection.
package epoll
