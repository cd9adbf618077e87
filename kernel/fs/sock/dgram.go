package sock

import (
	"encoding/binary"

	"github.com/sbx-dev/sbx/kernel/fs/host"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Datagram sockets inside the sandbox. Each one owns an inbox, a host SOCK_DGRAM
// socketpair whose one end it reads and whose other end senders write to; the host keeps
// message boundaries. Each message carries the sender's name in front (a 2-byte length,
// then the name) so that recvfrom can report it, then the sender's credentials (PID, UID,
// GID: SCM_CREDENTIALS).

// credSize is the credentials' size in a datagram's header.
const credSize = 12

// maxDgram bounds one datagram (net.core.wmem_default).
const maxDgram = 212992

// NewDgram returns an unbound, unconnected datagram socket.
func NewDgram() (*Socket, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_RCVBUF, maxDgram)
	unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_SNDBUF, maxDgram)
	return &Socket{Type: unix.SOCK_DGRAM, inbox: host.New(fds[0], true), inboxW: host.New(fds[1], true)}, nil
}

// isDgram reports whether s is a datagram socket with an inbox (not a socketpair end).
func (s *Socket) isDgram() bool { return s.inbox != nil }

// ConnectDgram sets the default destination of a datagram socket.
func (s *Socket) ConnectDgram(target *Socket, name string) error {
	if target.Type != unix.SOCK_DGRAM {
		return unix.EPROTOTYPE
	}
	if !target.isDgram() {
		return unix.ECONNREFUSED
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dpeer, s.peer = target, name
	return nil
}

// SendTo sends one datagram to target (nil: the connected peer) with no credentials.
func (s *Socket) SendTo(target *Socket, src [][]byte) (int64, error) {
	return s.SendToAs(target, src, unix.Ucred{Uid: ^uint32(0), Gid: ^uint32(0)})
}

// SendToAs sends one datagram to target (nil: the connected peer) from a process with
// credentials cred.
func (s *Socket) SendToAs(target *Socket, src [][]byte, cred unix.Ucred) (int64, error) {
	s.mu.Lock()
	if target == nil {
		target = s.dpeer
	}
	from, shut := s.local, s.shut
	s.mu.Unlock()
	if shut&shutSend != 0 {
		return 0, unix.EPIPE
	}
	if target == nil {
		return 0, unix.ENOTCONN
	}
	if target.Type != unix.SOCK_DGRAM {
		return 0, unix.EPROTOTYPE
	}
	target.mu.Lock()
	w, tshut := target.inboxW, target.shut
	target.mu.Unlock()
	if w == nil {
		return 0, unix.ECONNREFUSED // closed
	}
	if tshut&shutRcv != 0 {
		return 0, unix.EPIPE
	}
	msg := make([]byte, 2, 2+len(from)+credSize)
	binary.LittleEndian.PutUint16(msg, uint16(len(from)))
	msg = append(msg, from...)
	msg = binary.LittleEndian.AppendUint32(msg, uint32(cred.Pid))
	msg = binary.LittleEndian.AppendUint32(msg, cred.Uid)
	msg = binary.LittleEndian.AppendUint32(msg, cred.Gid)
	size := 0
	for _, b := range src {
		msg = append(msg, b...)
		size += len(b)
	}
	if size > maxDgram {
		return 0, unix.EMSGSIZE
	}
	if _, err := unix.SendmsgN(w.HostFD(), msg, nil, nil, ioFlags); err != nil {
		if err == unix.ENOBUFS {
			err = unix.EAGAIN
		}
		return 0, err
	}
	target.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	return int64(size), nil
}

// The datagrams of a socket travel through a host socket pair framed by the kernel: the
// sender's name length (16 bits), its name, its credentials (pid, uid, gid: 32 bits each),
// then the data. This is sbx's own format between two of its sockets, never seen by the
// app, so it is not a kernel/abi structure.

// frameNameLen is the name length at the start of a frame.
func frameNameLen(b []byte) int { return int(binary.LittleEndian.Uint16(b)) }

// RecvFrom receives one datagram into dst and returns its length (the full length with
// MSG_TRUNC), the sender's name, and whether it was truncated.
func (s *Socket) RecvFrom(dst [][]byte, flags int) (int64, string, bool, error) {
	n, from, _, trunc, err := s.RecvFromCred(dst, flags)
	return n, from, trunc, err
}

// RecvFromCred is RecvFrom that also returns the sender's credentials.
func (s *Socket) RecvFromCred(dst [][]byte, flags int) (int64, string, unix.Ucred, bool, error) {
	var cred unix.Ucred
	buf := make([]byte, 2+108+credSize+maxDgram)
	n, _, _, _, err := unix.Recvmsg(s.inbox.HostFD(), buf, nil, flags&unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err != nil {
		return 0, "", cred, false, err
	}
	if n < 2 {
		return 0, "", cred, false, unix.EIO
	}
	nl := frameNameLen(buf)
	if 2+nl+credSize > n {
		return 0, "", cred, false, unix.EIO
	}
	from, data := string(buf[2:2+nl]), buf[2+nl+credSize:n]
	c := buf[2+nl:]
	cred = unix.Ucred{Pid: int32(binary.LittleEndian.Uint32(c)), Uid: binary.LittleEndian.Uint32(c[4:]), Gid: binary.LittleEndian.Uint32(c[8:])}
	done := 0
	for _, b := range dst {
		done += copy(b, data[done:])
	}
	trunc := done < len(data)
	if flags&unix.MSG_TRUNC != 0 {
		return int64(len(data)), from, cred, trunc, nil
	}
	return int64(done), from, cred, trunc, nil
}
