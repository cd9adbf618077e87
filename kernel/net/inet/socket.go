package inet

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Socket is an AF_INET or AF_INET6 socket.
type Socket struct {
	Family int // AF_INET or AF_INET6
	Type   int // SOCK_STREAM or SOCK_DGRAM
	Proto  uint8
	st     *Stack

	// queue wakes tasks waiting on an in-kernel listener.
	queue waiter.Queue

	mu sync.Mutex
	// fd is the host FD behind the socket: the broker's TCP socket, a relay end, or a
	// private-loopback socketpair end; -1 for an in-kernel listener. protected by mu
	fd int
	// loop: fd is a socketpair end of a private-loopback connection (TCP options are
	// emulated). protected by mu
	loop bool
	// local and peer are getsockname's and getpeername's addresses. protected by mu
	local, peer netip.AddrPort
	// bound: local was set by bind. connecting: a non-blocking connect is in progress.
	// connected: a stream is connected (or a datagram socket has a default peer).
	// protected by mu
	bound, connecting, connected bool
	// listening: a listener; inKernel: it is a private-loopback one (pending holds its
	// connections not accepted yet, backlog bounds them). protected by mu
	listening, inKernel bool
	pending             []*Socket
	backlog             int
	// hostListening: listening on the host (registered with the stack). protected by mu
	hostListening bool
	// v6only is IPV6_V6ONLY; opts are emulated options (loopback, datagram); timeouts
	// are SO_RCVTIMEO and SO_SNDTIMEO. protected by mu
	v6only bool
	opts   map[[2]int][]byte
	// rcvLowat is SO_RCVLOWAT (0: the default, 1). protected by mu
	rcvLowat           int
	rcvTimeo, sndTimeo time.Duration
	// shut records shutdown(2) of an in-kernel listener. protected by mu
	shut bool
	// lpeer is the other end of a private-loopback connection; softErr is an error the next
	// receive, send or SO_ERROR reports once (ECONNRESET: the connection was reset, as a
	// TCP RST reports it). protected by mu
	lpeer   *Socket
	softErr unix.Errno
	// shutWr: shutdown(2) ended the sending side of a private-loopback connection.
	// protected by mu
	shutWr bool
	// connectDone and connectRefused hold the outcome of a non-blocking connect on the
	// private loopback, which is known at once where Linux answers EINPROGRESS (its
	// handshake runs after connect returns): connectDone, the next connect returns 0;
	// connectRefused, softErr holds ECONNREFUSED for SO_ERROR or the next connect, and
	// that connect, the error taken, says ECONNABORTED (tcp's sock_error path).
	// protected by mu
	connectDone, connectRefused bool
	// linger is an emulated SO_LINGER. protected by mu
	linger abi.Linger
	// reuse is SO_REUSEADDR (reuseAddr) and SO_REUSEPORT (reusePort), which decide
	// whether sockets on the private loopback may share an address (bindConflict).
	reuse atomic.Uint32
	// gen counts the changes of the host FD behind the socket (vfs.HostBacking): fd, or
	// inKernel. protected by mu
	gen uint64

	// watches are the WatchHost registrations (signal-driven I/O). protected by mu
	watches []*hostWatch

	// ino and uid are the socket's inode number (socket:[ino]) and owner, for /proc/net.
	ino atomic.Uint64
	uid atomic.Uint32

	// bytesIn and bytesOut count the data received and sent.
	bytesIn, bytesOut atomic.Uint64

	// dg is a datagram socket's state (nil for TCP).
	dg *dgram
}

// dgram is what a datagram socket has besides its relay end (fd): the relay's other end,
// through which datagrams on the private loopback are delivered to it, and whether its
// connected peer is on the private loopback. localPeer is protected by Socket.mu.
type dgram struct {
	inject    int
	localPeer bool
	// hostless: an ICMP echo socket without a host socket (icmp.go); it reaches the
	// private loopback only.
	hostless bool
}

// SetIdent records the socket's inode number and owner, for /proc/net.
func (s *Socket) SetIdent(ino uint64, uid uint32) {
	s.ino.Store(ino)
	s.uid.Store(uid)
}

// conn describes the socket for sbx top.
func (s *Socket) conn() Conn {
	local, peer, _ := s.Names()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Conn{Local: local, Remote: peer, Private: s.loop || s.inKernel, BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		Inode: s.ino.Load(), UID: s.uid.Load()}
	switch s.Proto {
	case netproto.ProtoTCP:
		c.Proto = "tcp"
	case netproto.ProtoUDP:
		c.Proto = "udp"
	default:
		c.Proto = "icmp"
	}
	if s.Family == unix.AF_INET6 && s.Proto != netproto.ProtoICMP {
		c.Proto += "6"
	}
	switch {
	case s.listening:
		c.State = "listen"
	case s.connecting:
		c.State = "connecting"
	case s.connected:
		c.State = "established"
	case s.bound:
		c.State = "bound"
	default:
		c.State = "open"
	}
	return c
}

var (
	_ vfs.Stream   = (*Socket)(nil)
	_ vfs.Pollable = (*Socket)(nil)
	_ vfs.HostFile = (*Socket)(nil)
)

// New creates a socket. typ is SOCK_STREAM (TCP), or SOCK_DGRAM with proto UDP or ICMP.
func (st *Stack) New(family, typ int, proto uint8) (*Socket, error) {
	s := &Socket{Family: family, Type: typ, Proto: proto, st: st, fd: -1}
	if typ != unix.SOCK_STREAM {
		return st.newDgram(s)
	}
	if st.broker == nil {
		if typ != unix.SOCK_STREAM {
			return nil, unix.EACCES
		}
		st.track(s)
		return s, nil // only the private loopback
	}
	fd, err := st.hostSocket(family, proto)
	if err != nil {
		if err == unix.ENETDOWN && typ == unix.SOCK_STREAM {
			st.track(s)
			return s, nil
		}
		return nil, err
	}
	s.fd = fd
	st.track(s)
	return s, nil
}

// IsStream implements vfs.Stream.
func (*Socket) IsStream() bool { return true }

// HostFD implements vfs.HostFile: the host FD to poll, -1 for an in-kernel listener.
func (s *Socket) HostFD() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inKernel {
		return -1
	}
	return s.fd
}

// HostBacking implements vfs.HostBacking: the FD changes when a socket connects on the
// private loopback, binds there, disconnects or closes; the old FD is closed then.
func (s *Socket) HostBacking() (int, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inKernel {
		return -1, s.gen
	}
	return s.fd, s.gen
}

// Readiness implements vfs.Pollable for in-kernel listeners and sockets without a host FD.
func (s *Socket) Readiness(mask uint32) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inKernel {
		if len(s.pending) > 0 || s.shut {
			return (waiter.EventIn | waiter.EventRdNorm) & mask
		}
		return 0
	}
	if s.fd < 0 {
		ev := waiter.EventOut | waiter.EventHUp // as Linux shows an unconnected TCP socket
		if s.softErr != 0 {
			ev |= waiter.EventErr // a refused connect not yet reported
		}
		return ev & mask
	}
	p := []unix.PollFd{{Fd: int32(s.fd), Events: int16(mask)}}
	if n, err := unix.Poll(p, 0); err != nil || n == 0 {
		return 0
	}
	return s.hostEventsLocked(uint32(uint16(p[0].Revents))) & (mask | waiter.EventErr | waiter.EventHUp)
}

// EventRegister implements vfs.Pollable.
func (s *Socket) EventRegister(e *waiter.Entry) { s.queue.EventRegister(e) }

// EventUnregister implements vfs.Pollable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.queue.EventUnregister(e) }

// Release closes the socket.
func (s *Socket) Release() {
	s.mu.Lock()
	s.stopWatchesLocked()
	fd, pending := s.fd, s.pending
	s.fd, s.pending = -1, nil
	s.gen++
	if s.dg != nil && s.dg.inject >= 0 {
		unix.Close(s.dg.inject)
		s.dg.inject = -1
	}
	inKernel, hostListening, local := s.inKernel, s.hostListening, s.local
	bound := s.bound
	var reset *Socket
	if s.loop && s.resetsOnCloseLocked() {
		reset = s.lpeer // SO_LINGER 0: the peer hears a reset, not an end of file
	}
	s.mu.Unlock()
	if reset != nil {
		reset.mu.Lock()
		if reset.lpeer == s {
			reset.softErr = unix.ECONNRESET
		}
		reset.mu.Unlock()
	}
	if fd >= 0 {
		platform.CloseHostFD(fd) // the peer sees the close (FIN, RST) before close(2) returns
	}
	for _, p := range pending {
		p.Release() // unaccepted connections are reset
	}
	if bound || inKernel {
		s.st.unbindLocal(s, norm(local))
	}
	if hostListening {
		s.st.removeHostListener(s, local.Port())
	}
	s.st.mu.Lock()
	delete(s.st.live, s)
	s.st.mu.Unlock()
	s.queue.Notify(waiter.EventIn | waiter.EventHUp)
}

// Attr is what fstat shows.
func (s *Socket) Attr() vfs.Attr {
	return vfs.Attr{Mode: unix.S_IFSOCK | 0o777, Nlink: 1, Blksize: 4096, Dev: 0x8}
}

// Timeouts returns SO_RCVTIMEO and SO_SNDTIMEO (0: none).
func (s *Socket) Timeouts() (rcv, snd time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcvTimeo, s.sndTimeo
}

// Names returns the local address and, when connected, the peer's.
func (s *Socket) Names() (local, peer netip.AddrPort, connected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	local = s.local
	if !local.IsValid() {
		local = netip.AddrPortFrom(s.unspecified(), 0)
	}
	if s.fd >= 0 && !s.loop && !s.inKernel && s.Type == unix.SOCK_STREAM {
		if sa, err := unix.Getsockname(s.fd); err == nil {
			// A disconnected private-loopback socket keeps showing its port (Linux keeps
			// inet_sport) until the host socket gets one.
			if a := addrOf(sa); a.Port() != 0 || local.Port() == 0 {
				local = a
			}
		}
	}
	return local, s.peer, s.connected || s.connecting
}

func (s *Socket) unspecified() netip.Addr {
	if s.Family == unix.AF_INET6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func addrOf(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// ConnectNonblock is Connect for a non-blocking socket: a stream connect on the private
// loopback completes (or is refused) at once, but answers EINPROGRESS as Linux does; the
// outcome shows in poll and SO_ERROR and is what the next connect returns
// (TakeConnectOutcome).
func (s *Socket) ConnectNonblock(dst netip.AddrPort) error {
	err := s.Connect(dst)
	if s.Type != unix.SOCK_STREAM || !isLoopback(dst.Addr()) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil && s.loop:
		s.connectDone = true
		return unix.EINPROGRESS
	case err == unix.ECONNREFUSED:
		s.connectRefused, s.softErr = true, unix.ECONNREFUSED
		return unix.EINPROGRESS
	}
	return err
}

// TakeConnectOutcome returns what a connect after ConnectNonblock reports, if it answered
// EINPROGRESS for a connect already decided: 0 once connected; the refusal (ECONNREFUSED,
// or ECONNABORTED when SO_ERROR took it).
func (s *Socket) TakeConnectOutcome() (decided bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.connectDone:
		s.connectDone = false
		return true, nil
	case s.connectRefused:
		s.connectRefused = false
		if err := s.takeSoftErrLocked(); err != nil {
			return true, err
		}
		return true, unix.ECONNABORTED
	}
	return false, nil
}

// Connect starts connecting to dst. It returns nil when connected, EINPROGRESS when the
// caller must wait for writability and then call ConnectResult, or why not.
func (s *Socket) Connect(dst netip.AddrPort) error {
	s.mu.Lock()
	v6only := s.v6only
	s.mu.Unlock()
	if v6only && dst.Addr().Is4In6() {
		return unix.ENETUNREACH // an IPv6-only socket has no route to an IPv4 address
	}
	if s.Type != unix.SOCK_STREAM {
		return s.connectDgram(dst)
	}
	s.mu.Lock()
	switch {
	case s.listening:
		s.mu.Unlock()
		return unix.EINVAL
	case s.connected:
		s.mu.Unlock()
		return unix.EISCONN
	case s.connecting:
		s.mu.Unlock()
		return unix.EALREADY
	}
	s.mu.Unlock()
	if isLoopback(dst.Addr()) {
		s.st.mu.Lock()
		l := s.st.lookupListenerLocked(dst)
		s.st.mu.Unlock()
		if l != nil {
			return s.connectLoop(l, dst)
		}
		if hl := s.st.hostListenerFor(dst.Port()); hl != nil {
			// The sandbox's own server listening on the host: the broker lets it be reached
			// through the host's loopback, given the listener as proof.
			return s.connectHost(dst, hl.HostFD())
		}
	}
	return s.connectHost(dst, -1)
}

func (s *Socket) connectHost(dst netip.AddrPort, proof int) error {
	s.mu.Lock()
	fd := s.fd
	s.mu.Unlock()
	if fd < 0 {
		if isLoopback(dst.Addr()) {
			return unix.ECONNREFUSED
		}
		return unix.ENETUNREACH
	}
	fds := []int{fd}
	if proof >= 0 {
		fds = append(fds, proof)
	}
	_, _, err := s.st.ask(netproto.Request{Op: netproto.OpConnect, Proto: s.Proto, Family: uint16(s.Family), Addr: dst}, fds...)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch err {
	case nil:
		s.connected, s.peer = true, dst
	case unix.EINPROGRESS:
		s.connecting, s.peer = true, dst
	}
	return err
}

// ConnectResult finishes a connect that returned EINPROGRESS, once the socket is
// writable: nil when connected, or the error that ended it (SO_ERROR).
func (s *Socket) ConnectResult() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connecting {
		if s.connected {
			return nil
		}
		return unix.ECONNREFUSED
	}
	v, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	s.connecting = false
	if v != 0 {
		s.peer = netip.AddrPort{}
		return unix.Errno(v)
	}
	s.connected = true
	return nil
}

// Pending reports whether a non-blocking connect is still in progress (EALREADY).
func (s *Socket) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connecting {
		return false
	}
	p := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLOUT}}
	n, _ := unix.Poll(p, 0)
	return n == 0
}

// connectLoop connects to an in-kernel listener on the private loopback.
func (s *Socket) connectLoop(l *Socket, dst netip.AddrPort) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return unix.ENOBUFS
	}
	src := dst.Addr()
	if src.Is6() && !src.Is4In6() {
		src = netip.IPv6Loopback()
	}
	s.st.mu.Lock()
	port := s.st.nextPort
	s.st.nextPort++
	if s.st.nextPort > ephemeralHi {
		s.st.nextPort = ephemeralLo
	}
	s.st.mu.Unlock()
	local := netip.AddrPortFrom(src, port)
	server := &Socket{Family: l.Family, Type: unix.SOCK_STREAM, Proto: netproto.ProtoTCP, st: s.st, fd: fds[1], loop: true,
		connected: true, local: dst, peer: local, lpeer: s}
	l.mu.Lock()
	if !l.listening || l.shut || len(l.pending) >= max(l.backlog, 1)+1 {
		l.mu.Unlock()
		unix.Close(fds[0])
		unix.Close(fds[1])
		return unix.ECONNREFUSED
	}
	l.pending = append(l.pending, server)
	l.mu.Unlock()
	s.st.track(server)
	l.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	s.mu.Lock()
	old := s.fd
	if old >= 0 && !s.loop && !s.inKernel {
		s.adoptHostOptsLocked(old)
	}
	s.fd, s.loop, s.connected, s.local, s.peer, s.lpeer = fds[0], true, true, local, dst, server
	s.inKernel = false // bound on the private loopback, it is a connection now, not a kernel object
	s.gen++
	s.rewatchLocked()
	s.mu.Unlock()
	if old >= 0 {
		unix.Close(old) // the broker's socket is not needed for a connection inside
	}
	s.queue.Notify(waiter.EventOut) // watchers of the old FD move to the new one
	return nil
}

// Disconnect implements connect(2) with AF_UNSPEC on a stream, as Linux's tcp_disconnect:
// a connection (or a connect in progress) is reset, the peer hears ECONNRESET and so does
// the socket's next receive; a listener stops listening and drops the connections not yet
// accepted. The socket keeps an address it was bound to and may connect or listen again.
func (s *Socket) Disconnect() error {
	s.mu.Lock()
	switch {
	case s.inKernel && s.listening:
		pending := s.pending
		s.listening, s.pending, s.shut = false, nil, false
		s.mu.Unlock()
		for _, p := range pending {
			p.reset()
		}
		return nil
	case s.loop:
		fd, peer, local := s.fd, s.lpeer, s.local
		s.fd, s.loop, s.lpeer, s.connected, s.peer = -1, false, nil, false, netip.AddrPort{}
		s.gen++
		s.rewatchLocked()
		s.softErr = unix.ECONNRESET
		if !s.bound {
			s.local = netip.AddrPortFrom(s.unspecified(), local.Port())
		}
		s.mu.Unlock()
		if peer != nil {
			peer.mu.Lock()
			if peer.lpeer == s {
				peer.softErr, peer.lpeer = unix.ECONNRESET, nil
			}
			peer.mu.Unlock()
		}
		platform.CloseHostFD(fd)
		if s.st.broker != nil {
			if nfd, err := s.st.hostSocket(s.Family, s.Proto); err == nil {
				s.mu.Lock()
				s.fd = nfd
				s.gen++
				s.rewatchLocked()
				s.mu.Unlock()
			}
		}
		s.queue.Notify(waiter.EventIn | waiter.EventOut | waiter.EventHUp)
		return nil
	case s.fd < 0 || !(s.connected || s.connecting || s.hostListening):
		s.mu.Unlock()
		return nil // nothing to undo
	}
	fd, hostListening, port := s.fd, s.hostListening, s.local.Port()
	s.mu.Unlock()
	if _, _, err := s.st.ask(netproto.Request{Op: netproto.OpConnect, Proto: s.Proto, Family: uint16(s.Family)}, fd); err != nil {
		return err
	}
	s.mu.Lock()
	s.connected, s.connecting, s.peer = false, false, netip.AddrPort{}
	s.listening, s.hostListening = false, false
	s.mu.Unlock()
	if hostListening {
		s.st.removeHostListener(s, port)
	}
	s.queue.Notify(waiter.EventIn | waiter.EventOut | waiter.EventHUp)
	return nil
}

// reset ends a private-loopback connection not yet accepted: its client hears ECONNRESET.
func (s *Socket) reset() {
	s.mu.Lock()
	peer := s.lpeer
	s.mu.Unlock()
	if peer != nil {
		peer.mu.Lock()
		if peer.lpeer == s {
			peer.softErr = unix.ECONNRESET
		}
		peer.mu.Unlock()
	}
	s.Release()
}

// takeSoftErrLocked returns and clears the pending error. Preconditions: s.mu held.
func (s *Socket) takeSoftErrLocked() error {
	if e := s.softErr; e != 0 {
		s.softErr = 0
		return e
	}
	return nil
}

// Bind binds the socket to local.
func (s *Socket) Bind(local netip.AddrPort) error {
	s.mu.Lock()
	if s.bound || s.connected || s.connecting || s.listening {
		s.mu.Unlock()
		return unix.EINVAL
	}
	fd := s.fd
	s.mu.Unlock()
	a := local.Addr().Unmap()
	if !a.IsUnspecified() && !a.IsLoopback() && s.st.broker == nil {
		return unix.EADDRNOTAVAIL
	}
	if a.IsLoopback() && fd >= 0 && s.dg == nil && local.Port() != 0 {
		// A listen rule naming this loopback address and port puts the server on the
		// host's loopback, where the user's programs reach it; without one (the broker
		// says EACCES) it is the sandbox's own, on its private loopback.
		_, _, err := s.st.ask(netproto.Request{Op: netproto.OpBind, Proto: s.Proto, Family: uint16(s.Family), Addr: local}, fd)
		if err == nil {
			s.mu.Lock()
			s.bound, s.local = true, local
			s.mu.Unlock()
			return nil
		}
		if err != unix.EACCES {
			return err
		}
	}
	if a.IsLoopback() || fd < 0 {
		return s.bindLocal(local)
	}
	if s.dg != nil {
		fd = s.relayFD() // the broker knows a relay by its end
	}
	rep, _, err := s.st.ask(netproto.Request{Op: netproto.OpBind, Proto: s.Proto, Family: uint16(s.Family), Addr: local}, fd)
	if err == unix.EACCES && a.IsUnspecified() {
		// No listening on the host for this address: the server is the sandbox's own,
		// reachable on its private loopback only.
		return s.bindLocal(local)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.bound, s.local = true, rep.Addr
	if s.Family == unix.AF_INET6 && rep.Addr.Addr().Is4() {
		s.local = netip.AddrPortFrom(netip.AddrFrom16(rep.Addr.Addr().As16()), rep.Addr.Port())
	}
	s.mu.Unlock()
	if s.dg != nil && a.IsUnspecified() {
		// Reachable on the private loopback too, at the port the host gave it.
		s.st.mu.Lock()
		if k := netip.AddrPortFrom(a, rep.Addr.Port()); len(s.st.udp[k]) == 0 {
			s.st.udp[k] = []*Socket{s}
		}
		s.st.mu.Unlock()
	}
	return nil
}

// bindLocal binds in the stack (the private loopback).
func (s *Socket) bindLocal(local netip.AddrPort) error {
	if s.Type != unix.SOCK_STREAM {
		return s.bindLocalDgram(local)
	}
	got, err := s.st.bindLocal(s, local)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.bound, s.inKernel = true, true
	s.local = netip.AddrPortFrom(local.Addr(), got.Port())
	fd := s.fd
	if fd >= 0 && !s.loop {
		s.adoptHostOptsLocked(fd)
	}
	s.fd = -1
	s.gen++
	s.rewatchLocked()
	s.mu.Unlock()
	if fd >= 0 {
		unix.Close(fd)
	}
	s.queue.Notify(waiter.EventOut) // watchers of the old FD watch the kernel object now
	return nil
}

// Listen makes a stream socket accept connections.
func (s *Socket) Listen(backlog int) error {
	if s.Type != unix.SOCK_STREAM {
		return unix.EOPNOTSUPP
	}
	backlog = min(max(backlog, 0), 4096)
	s.mu.Lock()
	if s.connected || s.connecting {
		s.mu.Unlock()
		return unix.EINVAL
	}
	if s.inKernel {
		local := norm(s.local)
		listening := s.listening
		s.mu.Unlock()
		if !listening {
			s.st.mu.Lock()
			conflict := listenConflict(s.st.listeners, s, local)
			s.st.mu.Unlock()
			if conflict {
				return unix.EADDRINUSE
			}
		}
		s.mu.Lock()
		s.listening, s.backlog = true, backlog
		s.mu.Unlock()
		return nil
	}
	fd, bound := s.fd, s.bound
	s.mu.Unlock()
	if !bound {
		// Linux binds an unbound listener to the unspecified address and a free port.
		if err := s.Bind(netip.AddrPortFrom(s.unspecified(), 0)); err != nil {
			return err
		}
		s.mu.Lock()
		inKernel := s.inKernel
		s.mu.Unlock()
		if inKernel {
			return s.Listen(backlog)
		}
	}
	rep, _, err := s.st.ask(netproto.Request{Op: netproto.OpListen, Proto: s.Proto, Family: uint16(s.Family), Arg: uint32(backlog)}, fd)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.listening, s.hostListening, s.backlog = true, true, backlog
	s.mu.Unlock()
	s.st.addHostListener(s, rep.Addr.Port())
	return nil
}

// Accept takes one connection (EAGAIN when none is waiting).
func (s *Socket) Accept() (*Socket, error) {
	if s.Type != unix.SOCK_STREAM {
		return nil, unix.EOPNOTSUPP
	}
	s.mu.Lock()
	if !s.listening {
		s.mu.Unlock()
		return nil, unix.EINVAL
	}
	if s.inKernel {
		defer s.mu.Unlock()
		if len(s.pending) == 0 {
			return nil, unix.EAGAIN
		}
		c := s.pending[0]
		s.pending = s.pending[1:]
		return c, nil
	}
	fd := s.fd
	s.mu.Unlock()
	nfd, sa, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		if err == unix.EWOULDBLOCK {
			return nil, unix.EAGAIN
		}
		return nil, err
	}
	c := &Socket{Family: s.Family, Type: unix.SOCK_STREAM, Proto: netproto.ProtoTCP, st: s.st, fd: nfd, connected: true, peer: addrOf(sa)}
	s.st.track(c)
	return c, nil
}

// Shutdown implements shutdown(2).
func (s *Socket) Shutdown(how int) error {
	s.mu.Lock()
	if s.inKernel && s.listening {
		s.shut = true
		s.mu.Unlock()
		s.queue.Notify(waiter.EventIn)
		return nil
	}
	fd, connected := s.fd, s.connected
	if connected && s.loop && how != unix.SHUT_RD {
		s.shutWr = true
	}
	s.mu.Unlock()
	if !connected || fd < 0 {
		return unix.ENOTCONN
	}
	return unix.Shutdown(fd, how)
}

// HostEvents implements vfs.HostEventer. A private-loopback connection's socketpair end
// hangs up when the peer closes; TCP reports POLLHUP only once both directions are shut
// (tcp_poll: sk_shutdown == SHUTDOWN_MASK), so it needs the socket's own shutdown too.
func (s *Socket) HostEvents(revents uint32) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostEventsLocked(revents)
}

// hostEventsLocked is HostEvents. A pending error (a reset, a refused connect) is POLLERR,
// and a reset connection is hung up (tcp_reset ends both directions). Preconditions: s.mu
// held.
func (s *Socket) hostEventsLocked(revents uint32) uint32 {
	if s.softErr != 0 {
		revents |= waiter.EventErr
	}
	if s.loop && !s.shutWr && revents&waiter.EventErr == 0 {
		revents &^= waiter.EventHUp
	}
	return revents
}

// ioFlags are added to every host send and receive: the kernel blocks, never the host.
const ioFlags = unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL

// Send sends a stream's data (to is ignored on a connected stream, as TCP does) or one
// datagram to `to` (invalid: the connected peer).
func (s *Socket) Send(bufs [][]byte, to netip.AddrPort, flags int) (int, error) {
	if s.Type != unix.SOCK_STREAM {
		return s.sendDgram(bufs, to, flags)
	}
	s.mu.Lock()
	fd, connected := s.fd, s.connected
	if s.connecting {
		s.mu.Unlock()
		if s.ConnectResult() != nil {
			return 0, unix.EPIPE
		}
		s.mu.Lock()
		fd, connected = s.fd, s.connected
	}
	if err := s.takeSoftErrLocked(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	s.mu.Unlock()
	if !connected || fd < 0 {
		return 0, unix.EPIPE
	}
	n, err := unix.SendmsgBuffers(fd, bufs, nil, nil, flags&(unix.MSG_MORE|unix.MSG_OOB|unix.MSG_EOR)|ioFlags)
	if err == unix.ENOTCONN {
		err = unix.EPIPE
	}
	if n > 0 {
		s.addOut(n)
	}
	return n, err
}

// Recv receives stream data, or one datagram with its source and MSG_TRUNC.
func (s *Socket) Recv(bufs [][]byte, flags int) (int, netip.AddrPort, int, error) {
	m, err := s.RecvMsg(bufs, flags)
	return m.N, m.From, m.Flags, err
}

// Msg is what one receive got: the length, the source, MSG_* flags and, for datagrams,
// control messages the app asked for (IP_RECVTTL, IPV6_RECVHOPLIMIT).
type Msg struct {
	N       int
	From    netip.AddrPort
	Flags   int
	Control []byte
}

// RecvMsg receives like Recv, with the control messages the socket's options ask for.
func (s *Socket) RecvMsg(bufs [][]byte, flags int) (Msg, error) {
	if s.Type != unix.SOCK_STREAM {
		n, from, mf, ttl, err := s.recvDgram(bufs, flags)
		if err != nil {
			return Msg{}, err
		}
		return Msg{N: n, From: from, Flags: mf, Control: s.ttlControl(ttl)}, nil
	}
	n, from, mf, err := s.recvStream(bufs, flags)
	return Msg{N: n, From: from, Flags: mf}, err
}

// ttlControl is the IP_TTL or IPV6_HOPLIMIT control message when the app asked for it.
func (s *Socket) ttlControl(ttl uint8) []byte {
	if ttl == 0 {
		return nil
	}
	s.mu.Lock()
	v4 := s.opts[[2]int{unix.IPPROTO_IP, unix.IP_RECVTTL}]
	v6 := s.opts[[2]int{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT}]
	s.mu.Unlock()
	level, typ := 0, 0
	switch {
	case s.Family == unix.AF_INET && len(v4) == 4 && v4[0]|v4[1]|v4[2]|v4[3] != 0:
		level, typ = unix.IPPROTO_IP, unix.IP_TTL
	case s.Family == unix.AF_INET6 && len(v6) == 4 && v6[0]|v6[1]|v6[2]|v6[3] != 0:
		level, typ = unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT
	default:
		return nil
	}
	b := make([]byte, unix.CmsgSpace(4))
	putCmsg(b, level, typ, uint32(ttl))
	return b
}

func (s *Socket) recvStream(bufs [][]byte, flags int) (int, netip.AddrPort, int, error) {
	s.mu.Lock()
	fd, connected, peer := s.fd, s.connected || s.connecting, s.peer
	if !connected || fd < 0 {
		err := s.takeSoftErrLocked()
		s.mu.Unlock()
		if err == nil {
			err = unix.ENOTCONN
		}
		return 0, peer, 0, err
	}
	s.mu.Unlock()
	n, _, rflags, _, err := unix.RecvmsgBuffers(fd, bufs, nil, flags&(unix.MSG_PEEK|unix.MSG_TRUNC|unix.MSG_OOB|unix.MSG_WAITALL)|unix.MSG_DONTWAIT)
	if err != nil {
		return 0, peer, 0, err
	}
	if n == 0 && total(bufs) > 0 {
		// The end of a private-loopback stream: a reset is reported once before it.
		s.mu.Lock()
		err := s.takeSoftErrLocked()
		s.mu.Unlock()
		if err != nil {
			return 0, peer, 0, err
		}
	}
	if flags&unix.MSG_PEEK == 0 {
		s.addIn(n)
	}
	return n, peer, rflags & (unix.MSG_TRUNC | unix.MSG_OOB), nil
}

// Connected reports whether a stream is connected (or connecting).
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected || s.connecting
}

// Listening reports SO_ACCEPTCONN.
func (s *Socket) Listening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listening
}

// Read implements vfs.File (read(2) on a socket).
func (s *Socket) Read(fd *vfs.FileDescription, dst [][]byte, off int64) (int64, error) {
	n, _, _, err := s.Recv(dst, 0)
	return int64(n), err
}

// Write implements vfs.File (write(2) on a socket).
func (s *Socket) Write(fd *vfs.FileDescription, src [][]byte, off int64) (int64, error) {
	n, err := s.Send(src, netip.AddrPort{}, 0)
	return int64(n), err
}

func total(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}
