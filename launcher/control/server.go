package control

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Server answers one sandbox's control clients.
type Server struct {
	src  Source
	logf func(format string, args ...any)
	// answering counts requests being answered (event streams excluded), so that a
	// sandbox ending does not cut off the answer to the request that ended it (a kill).
	answering atomic.Int64
}

// NewServer returns a server answering from src. Connections from other users are refused
// and reported through logf (nil: not reported).
func NewServer(src Source, logf func(format string, args ...any)) *Server {
	return &Server{src: src, logf: logf}
}

// Serve answers clients on l from src until l is closed.
func Serve(l *net.UnixListener, src Source, logf func(format string, args ...any)) {
	NewServer(src, logf).Serve(l)
}

// Serve answers clients on l until l is closed.
func (s *Server) Serve(l *net.UnixListener) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		go s.serveConn(c)
	}
}

// Drain waits, at most timeout, until no request is being answered.
func (s *Server) Drain(timeout time.Duration) {
	for deadline := time.Now().Add(timeout); s.answering.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
}

func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}

func (s *Server) serveConn(c *net.UnixConn) {
	logf := s.logf
	defer c.Close()
	if uid, err := peerUID(c); err != nil || uid != os.Getuid() {
		if logf != nil {
			logf("control: refused a connection from uid %d", uid)
		}
		return
	}
	r := bufio.NewReader(c)
	enc := json.NewEncoder(c)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req Request
		if err := json.Unmarshal(line, &req); err != nil {
			enc.Encode(Response{V: Version, Error: "malformed request"})
			return
		}
		if req.V != Version {
			enc.Encode(Response{V: Version, Error: fmt.Sprintf("protocol version %d not supported (this sandbox speaks %d)", req.V, Version)})
			return
		}
		if !s.answer(r, enc, req) {
			return
		}
	}
}

// answer answers one request; false ends the connection.
func (s *Server) answer(r *bufio.Reader, enc *json.Encoder, req Request) bool {
	src := s.src
	if req.Op == OpEvents {
		// A stream is not an answer in progress: the sandbox may end under it.
		events, cancel := src.Subscribe()
		defer cancel()
		go func() { r.ReadBytes('\n'); cancel() }() // client closed
		for ev := range events {
			ev := ev
			if enc.Encode(Response{V: Version, Event: &ev}) != nil {
				return false
			}
		}
		return false
	}
	s.answering.Add(1)
	defer s.answering.Add(-1)
	resp := Response{V: Version}
	switch req.Op {
	case OpInfo:
		info := src.Info()
		resp.Info = &info
	case OpStats:
		st, err := src.Stats()
		if err != nil {
			resp.Error = err.Error()
		} else {
			resp.Stats = &st
		}
	case OpTree:
		t, err := src.Tree()
		if err != nil {
			resp.Error = err.Error()
		}
		resp.Tree = t
		if cl, ok := src.(ConnectionLister); ok {
			resp.Connections, _ = cl.Connections()
		}
	case OpKill:
		sig := syscall.Signal(req.Signal)
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		grace := time.Duration(req.GraceMS) * time.Millisecond
		if grace == 0 {
			grace = 3 * time.Second
		}
		if err := src.Kill(sig, grace); err != nil {
			resp.Error = err.Error()
		}
	default:
		resp.Error = fmt.Sprintf("unknown op %q", req.Op)
	}
	return enc.Encode(resp) == nil
}
