package gofer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// maxInFlight bounds the requests a server works on at once for one connection.
const maxInFlight = 64

// Serve answers requests on conn (a SOCK_SEQPACKET socket) until it closes or sends
// something that is not a request. It returns nil when the peer hung up.
func (s *Server) Serve(conn int) error {
	defer s.closeAll()
	if err := s.handshake(conn); err != nil {
		return err
	}
	var wmu sync.Mutex
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, MaxMessage)
	for {
		n, _, flags, _, err := unix.Recvmsg(conn, buf, nil, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if flags&unix.MSG_TRUNC != 0 || n < 5 {
			return errClose
		}
		id := binary.LittleEndian.Uint32(buf[0:])
		op := Op(buf[4])
		if op == 0 || op >= opMax {
			return fmt.Errorf("%w: unknown op %d", errClose, op)
		}
		if op == OpGetdents || op == OpCreate || op == OpRename || op == OpSetAttr {
			// Slow operations run concurrently so quick ones behind them are not held up.
			msg := append([]byte(nil), buf[5:n]...)
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				sendReply(conn, &wmu, id, s.handle(op, &decoder{b: msg}))
			}()
			continue
		}
		// Quick operations are answered inline: no hand-off between threads on the hot path.
		sendReply(conn, &wmu, id, s.handle(op, &decoder{b: buf[5:n]}))
	}
}

func sendReply(conn int, wmu *sync.Mutex, id uint32, r *reply) {
	hdr := make([]byte, 6, 6+len(r.e.b))
	binary.LittleEndian.PutUint32(hdr[0:], id)
	binary.LittleEndian.PutUint16(hdr[4:], uint16(r.errno))
	msg := append(hdr, r.e.b...)
	var oob []byte
	if r.fd >= 0 {
		oob = unix.UnixRights(append([]int{r.fd}, r.more...)...)
	}
	wmu.Lock()
	for {
		err := unix.Sendmsg(conn, msg, oob, nil, 0)
		if err != unix.EINTR {
			break
		}
	}
	wmu.Unlock()
	if r.fd >= 0 {
		unix.Close(r.fd)
	}
	for _, fd := range r.more {
		unix.Close(fd)
	}
}

func (s *Server) handshake(conn int) error {
	buf := make([]byte, 64)
	n, err := unix.Read(conn, buf)
	if err != nil {
		return err
	}
	var hello helloReq
	d := &decoder{b: buf[:n]}
	hello.decode(d)
	if d.err != nil {
		return errors.New("gofer: bad hello")
	}
	var e encoder
	if hello.Version != Version {
		(&helloReply{Version: 0}).encode(&e)
		unix.Write(conn, e.b)
		return fmt.Errorf("gofer: client speaks version %d, server %d", hello.Version, Version)
	}
	rep := helloReply{Version: Version}
	for i, m := range s.view.mounts {
		rep.Mounts = append(rep.Mounts, MountInfo{Index: i, SandboxPath: m.SandboxPath, ReadOnly: m.ReadOnly, Kind: m.kind})
	}
	rep.encode(&e)
	_, err = unix.Write(conn, e.b)
	return err
}
