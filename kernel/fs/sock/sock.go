// Package sock implements AF_UNIX stream sockets for the app. A socket is either connected
// to a host socket the launcher's socket broker handed over (the D-Bus proxy, later the
// display and sound servers), or one end of a socketpair whose two ends the kernel holds
// (a host socketpair used as an in-kernel byte pipe: it reaches nothing outside), or a
// connection accepted from a socket listening inside the sandbox (listen.go), which is the
// same: each connection is a fresh host socketpair whose two ends the kernel holds.
package sock

import (
	"sync"

	"github.com/sbx-dev/sbx/kernel/fs/host"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Broker connects to host sockets the profile allows, by sandbox path.
type Broker interface {
	Connect(path string) (fd int, err error)
}

// Socket is an AF_UNIX stream socket.
type Socket struct {
	Type int // SOCK_STREAM

	mu sync.Mutex
	// conn is the connected host socket. protected by mu
	conn *host.File
	// local and peer are the addresses shown by getsockname/getpeername ("\x00name" for
	// abstract ones). protected by mu
	local, peer string
	// bound is the key of a bound socket in boundIn; listening, backlog and pending are the
	// listener's state (pending: connections not accepted yet). protected by mu
	bound     any
	boundIn   *Names
	listening bool
	backlog   int
	pending   []*Socket
	// queue wakes tasks waiting to accept.
	queue waiter.Queue
	// internal: both ends are the kernel's (a socketpair, a connection inside the
	// sandbox), so ancillary data can travel. protected by mu
	internal bool
	// inbox and inboxW are a datagram socket's receive queue (dgram.go); dpeer is its
	// connected destination. protected by mu
	inbox, inboxW *host.File
	dpeer         *Socket
	// cred is a listener's credentials (handed to whoever connects); peerCred is
	// SO_PEERCRED of a connection inside the sandbox. protected by mu
	cred, peerCred *unix.Ucred
	// opts are the socket options (opts.go; nil: Linux's defaults); cookie is SO_COOKIE.
	// protected by mu
	opts   *Opts
	cookie uint64
	// other is the socket at the other end of a connection inside the sandbox.
	// protected by mu
	other *Socket
	// shut is what shutdown(2) closed on a socket with no host connection (unconnected,
	// listening, a datagram socket with an inbox): shutRcv, shutSend. A connection's is
	// its host socket's. protected by mu
	shut int
}

// shutRcv and shutSend are Linux's RCV_SHUTDOWN and SEND_SHUTDOWN (shutdown(2)'s how + 1).
const (
	shutRcv  = 1
	shutSend = 2
)

// writable is what poll reports for a socket that may send.
const writable = waiter.EventOut | 0x100 | 0x200 // POLLOUT, POLLWRNORM, POLLWRBAND

// shutEvents are the poll events of the shutdown state (unix_poll, unix_dgram_poll): a
// closed receive direction reads end of file, both closed is a hang-up.
func shutEvents(shut int) uint32 {
	var ev uint32
	if shut&shutRcv != 0 {
		ev |= waiter.EventRdHUp | waiter.EventIn | waiter.EventRdNorm
	}
	if shut == shutRcv|shutSend {
		ev |= waiter.EventHUp
	}
	return ev
}

var (
	_ vfs.Stream   = (*Socket)(nil)
	_ vfs.Pollable = (*Socket)(nil)
)

// New returns an unconnected socket.
func New(typ int) *Socket { return &Socket{Type: typ} }

// Pair returns the two connected ends of a socketpair.
func Pair(typ int) (*Socket, *Socket, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	x := &Socket{Type: typ, conn: host.New(fds[0], true), internal: true}
	y := &Socket{Type: typ, conn: host.New(fds[1], true), internal: true, other: x}
	x.other = y
	return x, y, nil
}

// Received wraps a connected AF_UNIX stream socket a host peer passed to the app (the FD
// becomes the socket's): like a brokered connection, its peer is outside the sandbox, so
// files pass over it as host FDs.
func Received(fd int) *Socket {
	return &Socket{Type: unix.SOCK_STREAM, conn: host.New(fd, true)}
}

// Connect connects to path through the broker.
func (s *Socket) Connect(b Broker, path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return unix.EISCONN
	}
	if b == nil {
		return unix.ECONNREFUSED
	}
	fd, err := b.Connect(path)
	if err != nil {
		return err
	}
	s.conn, s.peer = host.New(fd, true), path
	s.connectedLocked()
	return nil
}

// connectedLocked hands the options set before connecting to the new connection.
// Preconditions: s.mu is held; s.conn is set.
func (s *Socket) connectedLocked() {
	if s.opts != nil {
		applyHostOpts(s.conn.HostFD(), s.opts)
	}
}

func (s *Socket) host() (*host.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil, unix.ENOTCONN
	}
	return s.conn, nil
}

// recvHost is host for a receive: an unconnected (or listening) stream socket reads
// EINVAL, as unix_stream_read_generic says, other types ENOTCONN.
func (s *Socket) recvHost() (*host.File, error) {
	h, err := s.host()
	if err == unix.ENOTCONN && s.Type == unix.SOCK_STREAM {
		return nil, unix.EINVAL
	}
	return h, err
}

// IsStream implements vfs.Stream.
func (*Socket) IsStream() bool { return true }

// HostFD lets the kernel poll a connected socket on the host; an unconnected one has none.
// A datagram socket is polled on its inbox unless shutdown(2) added events of its own.
func (s *Socket) HostFD() int {
	if h, err := s.host(); err == nil {
		return h.HostFD()
	}
	if s.isDgram() {
		s.mu.Lock()
		shut := s.shut
		s.mu.Unlock()
		if shut == 0 {
			return s.inbox.HostFD() // readable when a datagram waits
		}
	}
	return -1
}

func (s *Socket) Read(fd *vfs.FileDescription, dst [][]byte, off int64) (int64, error) {
	if s.isDgram() {
		n, _, _, err := s.RecvFrom(dst, 0)
		return n, err
	}
	h, err := s.recvHost()
	if err != nil {
		return 0, err
	}
	return recv(h.HostFD(), dst, 0)
}

func (s *Socket) Write(fd *vfs.FileDescription, src [][]byte, off int64) (int64, error) {
	if s.isDgram() {
		return s.SendTo(nil, src)
	}
	return s.Send(src, 0)
}

// Send sends with flags (MSG_NOSIGNAL, MSG_DONTWAIT, ...); the kernel passes no control data.
func (s *Socket) Send(src [][]byte, flags int) (int64, error) {
	if s.isDgram() {
		return s.SendTo(nil, src)
	}
	h, err := s.host()
	if err != nil {
		return 0, unix.ENOTCONN
	}
	n, err := send(h.HostFD(), src, flags)
	if n > 0 {
		s.notifyOther()
	}
	return n, err
}

// notifyOther tells the socket at the other end of a connection inside the sandbox that
// data arrived (its queue drives signal-driven I/O; readiness itself is the host's).
func (s *Socket) notifyOther() {
	s.mu.Lock()
	o := s.other
	s.mu.Unlock()
	if o != nil {
		o.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	}
}

// Recv receives with flags (MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL is treated as one read).
func (s *Socket) Recv(dst [][]byte, flags int) (int64, error) {
	if s.isDgram() {
		n, _, _, err := s.RecvFrom(dst, flags)
		return n, err
	}
	h, err := s.recvHost()
	if err != nil {
		return 0, err
	}
	return recv(h.HostFD(), dst, flags)
}

const ioFlags = unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL

func send(fd int, src [][]byte, flags int) (int64, error) {
	var buf []byte
	for _, b := range src {
		buf = append(buf, b...)
	}
	n, err := unix.SendmsgN(fd, buf, nil, nil, flags&unix.MSG_MORE|ioFlags)
	return int64(n), err
}

func recv(fd int, dst [][]byte, flags int) (int64, error) {
	total := 0
	for _, b := range dst {
		total += len(b)
	}
	buf := make([]byte, total)
	n, _, _, _, err := unix.Recvmsg(fd, buf, nil, flags&recvPassFlags|unix.MSG_DONTWAIT)
	if err != nil {
		return 0, err
	}
	scatter(dst, buf[:min(n, total)])
	return int64(n), nil
}

// recvPassFlags are the receive flags the host socket of a connection applies itself:
// MSG_TRUNC (a datagram's or record's full length), MSG_OOB (EOPNOTSUPP where there is no
// out-of-band data) and MSG_PEEK.
const recvPassFlags = unix.MSG_PEEK | unix.MSG_TRUNC | unix.MSG_OOB

// scatter copies b into dst in order.
func scatter(dst [][]byte, b []byte) {
	done := 0
	for _, d := range dst {
		if done >= len(b) {
			break
		}
		done += copy(d, b[done:])
	}
}

// Readiness implements vfs.Pollable: a connection's is its host socket's; otherwise, as
// Linux's unix_poll and unix_dgram_poll, a listener is readable with connections waiting
// and never writable, an unconnected stream or seqpacket socket is writable and hung up
// (it has no connection), a datagram socket readable with a datagram waiting; shutdown(2)
// adds its events.
func (s *Socket) Readiness(mask uint32) uint32 {
	s.mu.Lock()
	h, shut, listening, pending := s.conn, s.shut, s.listening, len(s.pending)
	s.mu.Unlock()
	if h != nil {
		return h.Readiness(mask)
	}
	ev := shutEvents(shut)
	switch {
	case listening:
		if pending > 0 {
			ev |= waiter.EventIn | waiter.EventRdNorm
		}
	case s.isDgram():
		ev |= writable | s.inbox.Readiness(waiter.EventIn|waiter.EventRdNorm)
	default:
		ev |= writable | waiter.EventHUp
	}
	return ev & mask
}

// EventRegister implements vfs.Pollable: a listener wakes acceptors; connected sockets are
// polled on the host.
func (s *Socket) EventRegister(e *waiter.Entry) { s.queue.EventRegister(e) }

// EventUnregister implements vfs.Pollable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.queue.EventUnregister(e) }

// Shutdown implements shutdown(2). A connection shuts its host socket down (which tells
// the peer); any other socket records it, as Linux's unix_shutdown does whatever the
// socket's state.
func (s *Socket) Shutdown(how int) error {
	s.mu.Lock()
	h := s.conn
	if h == nil {
		s.shut |= how + 1
		s.mu.Unlock()
		s.queue.Notify(waiter.EventIn | waiter.EventOut | waiter.EventHUp | waiter.EventRdHUp | waiter.EventRdNorm)
		return nil
	}
	s.mu.Unlock()
	return unix.Shutdown(h.HostFD(), how)
}

// Shut returns what shutdown(2) closed of a socket with no host connection (Linux's
// sk_shutdown: 1 receiving, 2 sending).
func (s *Socket) Shut() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shut
}

// Names returns getsockname's and getpeername's paths.
func (s *Socket) Names() (local, peer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.local, s.peer
}

// PeerCred returns SO_PEERCRED: the peer's credentials, a listener's own, or none (PID 0,
// IDs -1) on an unconnected socket.
func (s *Socket) PeerCred() (*unix.Ucred, error) {
	s.mu.Lock()
	pc := s.peerCred
	if s.listening && s.cred != nil {
		pc = s.cred
	}
	s.mu.Unlock()
	if pc != nil {
		c := *pc
		return &c, nil
	}
	h, err := s.host()
	if err != nil {
		return &unix.Ucred{Uid: ^uint32(0), Gid: ^uint32(0)}, nil
	}
	c, err := unix.GetsockoptUcred(h.HostFD(), unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err == nil {
		c.Pid = 0 // a host process: its PID is not visible in the sandbox, as across PID namespaces
	}
	return c, err
}

// SetCred records the credentials of the process that made a socketpair (each end's peer)
// or called listen (what connecting peers see).
func (s *Socket) SetCred(c unix.Ucred, asPeer bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if asPeer {
		s.peerCred = &c
	} else {
		s.cred = &c
	}
}

// Release closes the socket; a listener's unaccepted connections are reset.
func (s *Socket) Release() {
	s.mu.Lock()
	pending, bound, boundIn := s.pending, s.bound, s.boundIn
	s.pending, s.listening, s.dpeer = nil, false, nil
	if s.conn != nil {
		s.conn.Release()
		s.conn = nil
	}
	if s.inbox != nil {
		s.inboxW.Release()
		s.inboxW = nil // senders see ECONNREFUSED; s.inbox stays for a racing reader
	}
	s.mu.Unlock()
	for _, p := range pending {
		p.Release()
	}
	if bound != nil {
		boundIn.unregister(bound, s)
	}
	s.queue.Notify(waiter.EventHUp | waiter.EventOut) // connects waiting for room give up
}

// Attr is what fstat shows for a socket.
func (s *Socket) Attr() vfs.Attr {
	return vfs.Attr{Mode: unix.S_IFSOCK | 0o777, Nlink: 1, Blksize: 4096, Dev: 0x8}
}

// Internal reports whether the socket's peer is inside the sandbox.
func (s *Socket) Internal() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.internal
}

// SendCarrying sends src with the host FD carrier attached (SCM_RIGHTS on the host
// socketpair): the carrier stands for the sandbox files passed with this message, so the
// host kernel keeps them at the right place in the stream.
func (s *Socket) SendCarrying(src [][]byte, flags int, carrier int) (int64, error) {
	h, err := s.host()
	if err != nil {
		return 0, unix.ENOTCONN
	}
	var buf []byte
	for _, b := range src {
		buf = append(buf, b...)
	}
	n, err := sendmsg(h.HostFD(), buf, unix.UnixRights(carrier), flags&unix.MSG_MORE|ioFlags)
	if err == nil {
		s.notifyOther()
	}
	return int64(n), err
}

// HostBackingFD implements vfs.HostBacked: a connection to a host service (through the
// broker) may be passed to another host peer; a socket whose peer is inside the sandbox,
// or one not connected, may not.
func (s *Socket) HostBackingFD() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.internal {
		return -1, false
	}
	return s.conn.HostFD(), true
}

// SendRights sends src with host FDs attached (SCM_RIGHTS to a host peer).
func (s *Socket) SendRights(src [][]byte, flags int, fds []int) (int64, error) {
	h, err := s.host()
	if err != nil {
		return 0, unix.ENOTCONN
	}
	var buf []byte
	for _, b := range src {
		buf = append(buf, b...)
	}
	n, err := unix.SendmsgN(h.HostFD(), buf, unix.UnixRights(fds...), nil, flags&unix.MSG_MORE|ioFlags)
	return int64(n), err
}

// RecvCarriers receives like Recv and also returns the host FDs that came with the data
// (close-on-exec, now owned by the caller; at most maxFDs, the host closes the rest and
// MSG_CTRUNC is in the returned flags): carriers from inside the sandbox, or files a
// host peer passed.
func (s *Socket) RecvCarriers(dst [][]byte, flags, maxFDs int) (int64, []int, int, error) {
	h, err := s.recvHost()
	if err != nil {
		return 0, nil, 0, err
	}
	total := 0
	for _, b := range dst {
		total += len(b)
	}
	buf := make([]byte, total)
	var oob []byte
	if maxFDs > 0 {
		oob = make([]byte, unix.CmsgSpace(4*maxFDs))
	}
	n, oobn, rflags, _, err := unix.Recvmsg(h.HostFD(), buf, oob, flags&recvPassFlags|unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return 0, nil, 0, err
	}
	var carriers []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil {
				carriers = append(carriers, fds...)
			}
		}
	}
	scatter(dst, buf[:min(n, total)])
	return int64(n), carriers, rflags & (unix.MSG_CTRUNC | unix.MSG_TRUNC), nil
}

// ProcInfo is what /proc/net/unix shows of the socket: its type, whether it listens or is
// connected, and its bound name ("\x00name" for an abstract one, "" when unbound).
func (s *Socket) ProcInfo() (typ int, listening, connected bool, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Type, s.listening, s.conn != nil || s.dpeer != nil, s.local
}
