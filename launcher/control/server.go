package control

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Serve answers clients on l from src until l is closed. Connections from other users are
// refused and reported through logf.
func Serve(l *net.UnixListener, src Source, logf func(format string, args ...any)) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		go serveConn(c, src, logf)
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

func serveConn(c *net.UnixConn, src Source, logf func(string, ...any)) {
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
		case OpEvents:
			events, cancel := src.Subscribe()
			defer cancel()
			go func() { r.ReadBytes('\n'); cancel() }() // client closed
			for ev := range events {
				ev := ev
				if enc.Encode(Response{V: Version, Event: &ev}) != nil {
					return
				}
			}
			return
		default:
			resp.Error = fmt.Sprintf("unknown op %q", req.Op)
		}
		if enc.Encode(resp) != nil {
			return
		}
	}
}
