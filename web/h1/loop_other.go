//go:build !linux

package h1

import (
	"io"
	"net"
)

// loop is an event loop: there is none on this system.
type loop struct{}

// loops are a Server's event loops: none on this system.
type loops struct{}

// loopable: no connection goes to an event loop here.
func (s *Server) loopable(c *conn) bool { return false }

// toLoop would hand c to an event loop; there is none here.
func (s *Server) toLoop(c *conn) bool { return false }

func (s *Server) wakeLoops() {}

func (c *conn) loopWrite(bufs [][]byte, keep []bool) { panic("h1: no event loop here") }

// acceptor: connections are always answered on their own goroutines here.
type acceptor struct{}

// answerAtAccept: nothing is answered by the accepting goroutine here.
func (s *Server) answerAtAccept(c *conn, a *acceptor) bool { return false }

// rawAcceptor: Serve always accepts through the listener here.
type rawAcceptor struct{}

// rawAccept: no accepting on the socket itself here.
func (s *Server) rawAccept(l net.Listener, lim limits) *rawAcceptor { return nil }

func (ra *rawAcceptor) close() {}

// accept is l's Accept.
func (s *Server) accept(l net.Listener, ra *rawAcceptor) (net.Conn, error) { return l.Accept() }

// writeVec writes v to w.
func writeVec(w io.Writer, v *net.Buffers) (int64, error) { return v.WriteTo(w) }
