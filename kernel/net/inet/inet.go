// Package inet implements AF_INET and AF_INET6 sockets for the app. The kernel stays in its
// empty network namespace: every host socket comes from the net broker (kernel/net/netproto),
// which checks the profile's policy on each connect, bind, listen and datagram destination.
//
//   - TCP: the broker creates the host socket (unconnected, non-blocking) at socket(2) and
//     connects, binds or listens it on request; the kernel does I/O on it directly.
//   - UDP and ICMP echo: the kernel holds its end of a relay (a SOCK_SEQPACKET socketpair);
//     each datagram carries a netproto.Frame with its destination or source.
//   - The private loopback: 127.0.0.0/8 and ::1 inside are the sandbox's own. A TCP socket
//     bound to a loopback address (or to the unspecified one when the profile grants no
//     listening on the host) is a listener in this Stack; a connection to it is a host
//     socketpair whose two ends the kernel holds, reaching nothing outside.
//
// Lock order: Stack.mu → Socket.mu is never nested the other way round.
package inet

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// Stack is one sandbox's Internet sockets state.
type Stack struct {
	broker *netproto.Client

	mu sync.Mutex
	// listeners are the in-kernel (private loopback) listeners by bound address; udp the
	// datagram sockets reachable on the private loopback. protected by mu
	listeners addrTable
	udp       addrTable
	// hostListeners are sockets listening on the host, by port. protected by mu
	hostListeners map[uint16]map[*Socket]bool
	// nextPort is the next ephemeral port to try. protected by mu
	nextPort uint16
	// live are the open sockets, for sbx top. protected by mu
	live map[*Socket]struct{}
	// addrs are eth0's addresses (none: no eth0). protected by mu
	addrs []netip.Prefix
	// spare are unconnected TCP sockets from the broker, by family. protected by mu
	spare map[int][]int
	// loIn, loOut, extIn and extOut count the bytes moved on the private loopback and
	// through the broker.
	loIn, loOut, extIn, extOut atomic.Uint64
}

// Conn describes one socket for sbx top.
type Conn struct {
	Proto             string // tcp, tcp6, udp, udp6, icmp
	State             string // listen, established, connecting, bound, open
	Local, Remote     netip.AddrPort
	Private           bool // on the sandbox's private loopback
	BytesIn, BytesOut uint64
	// Inode is the socket's inode number (0: a connection not accepted yet) and UID its
	// owner's, as /proc/net shows them.
	Inode uint64
	UID   uint32
}

func (st *Stack) track(s *Socket) {
	st.mu.Lock()
	st.live[s] = struct{}{}
	st.mu.Unlock()
}

// Conns lists the open sockets.
func (st *Stack) Conns() []Conn {
	st.mu.Lock()
	socks := make([]*Socket, 0, len(st.live))
	for s := range st.live {
		socks = append(socks, s)
	}
	st.mu.Unlock()
	out := make([]Conn, 0, len(socks))
	for _, s := range socks {
		out = append(out, s.conn())
	}
	return out
}

// NewStack returns a stack whose host sockets come from broker (nil: only the private
// loopback works; everything else is unreachable).
func NewStack(broker *netproto.Client) *Stack {
	return &Stack{broker: broker, listeners: addrTable{}, udp: addrTable{}, hostListeners: map[uint16]map[*Socket]bool{},
		nextPort: ephemeralLo, live: map[*Socket]struct{}{}, spare: map[int][]int{}}
}

// The ephemeral port range (net.ipv4.ip_local_port_range's default).
const (
	ephemeralLo = 32768
	ephemeralHi = 60999
)

// ask sends a request to the broker.
func (st *Stack) ask(req netproto.Request, fds ...int) (netproto.Reply, int, error) {
	if st.broker == nil {
		return netproto.Reply{}, -1, unix.ENETUNREACH
	}
	rep, fd, err := st.broker.Do(req, fds...)
	if err != nil {
		return rep, fd, err
	}
	if rep.Errno != 0 {
		if fd >= 0 {
			unix.Close(fd)
		}
		return rep, -1, unix.Errno(rep.Errno)
	}
	return rep, fd, nil
}

// spareBatch is how many TCP sockets the stack asks the broker for at once: socket(2) is
// then mostly local, and a connect costs one round trip to the broker.
const spareBatch = netproto.MaxBatch

// hostSocket returns a host socket from the broker for a new app socket: a TCP one from
// the spares (unconnected sockets reach nothing), a datagram relay made for it.
func (st *Stack) hostSocket(family int, proto uint8) (int, error) {
	if proto != netproto.ProtoTCP {
		_, fd, err := st.ask(netproto.Request{Op: netproto.OpSocket, Proto: proto, Family: uint16(family)})
		return fd, err
	}
	st.mu.Lock()
	if sp := st.spare[family]; len(sp) > 0 {
		fd := sp[len(sp)-1]
		st.spare[family] = sp[:len(sp)-1]
		st.mu.Unlock()
		return fd, nil
	}
	st.mu.Unlock()
	rep, fds, err := st.broker.DoN(netproto.Request{Op: netproto.OpSocket, Proto: proto, Family: uint16(family), Arg: spareBatch})
	if err == nil && rep.Errno != 0 {
		err = unix.Errno(rep.Errno)
	}
	if err != nil || len(fds) == 0 {
		for _, f := range fds {
			unix.Close(f)
		}
		if err == nil {
			err = unix.ENOBUFS
		}
		return -1, err
	}
	st.mu.Lock()
	st.spare[family] = append(st.spare[family], fds[1:]...)
	st.mu.Unlock()
	return fds[0], nil
}

// norm returns a with an IPv4-mapped address unmapped.
func norm(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// isLoopback reports whether a is the sandbox's own loopback.
func isLoopback(a netip.Addr) bool { return a.Unmap().IsLoopback() }

// lookupListenerLocked finds the in-kernel listener for dst: one bound to dst itself or to
// the unspecified address of a family that reaches it. Preconditions: st.mu held.
func (st *Stack) lookupListenerLocked(dst netip.AddrPort) *Socket {
	return lookupIn(st.listeners, dst)
}

// addrTable holds the sockets bound on the private loopback by address: more than one
// where SO_REUSEADDR or SO_REUSEPORT let them share it.
type addrTable map[netip.AddrPort][]*Socket

// lookupIn finds the socket of table m bound to dst or to the unspecified address of a
// family that reaches it; of TCP sockets sharing an address, a listening one. (A datagram
// lookup takes no socket's lock: its caller may hold its own.)
func lookupIn(m addrTable, dst netip.AddrPort) *Socket {
	dst = norm(dst)
	var found *Socket
	pick := func(socks []*Socket) {
		for _, l := range socks {
			if found == nil || l.Type == unix.SOCK_STREAM && !found.listeningNow() && l.listeningNow() {
				found = l
			}
		}
	}
	pick(m[dst])
	for _, any := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		if any.Is4() && dst.Addr().Is6() {
			continue
		}
		for _, l := range m[netip.AddrPortFrom(any, dst.Port())] {
			if !(any.Is6() && dst.Addr().Is4() && l.v6only) {
				pick([]*Socket{l})
			}
		}
	}
	return found
}

// listeningNow reports whether s listens (lookupIn's preference).
func (s *Socket) listeningNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listening
}

// table is the in-kernel address table of s's protocol. Preconditions: st.mu held.
func (st *Stack) table(s *Socket) addrTable {
	if s.Type == unix.SOCK_STREAM {
		return st.listeners
	}
	return st.udp
}

// bindLocal registers s as bound to local in the stack (port 0: an ephemeral port).
func (st *Stack) bindLocal(s *Socket, local netip.AddrPort) (netip.AddrPort, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	m := st.table(s)
	local = norm(local)
	if local.Port() == 0 {
		for range ephemeralHi - ephemeralLo {
			p := st.nextPort
			st.nextPort++
			if st.nextPort > ephemeralHi {
				st.nextPort = ephemeralLo
			}
			c := netip.AddrPortFrom(local.Addr(), p)
			if !bindConflict(m, s, c) {
				local = c
				break
			}
		}
		if local.Port() == 0 {
			return local, unix.EADDRINUSE
		}
	} else if bindConflict(m, s, local) {
		return local, unix.EADDRINUSE
	}
	m[local] = append(m[local], s)
	return local, nil
}

// bindConflict reports whether binding s to local collides with a socket of table m, as
// Linux's inet_csk_bind_conflict and udp_lib_lport_inuse do: on one port, two sockets
// collide when their addresses are equal or one is an unspecified address covering the
// other (0.0.0.0 covers IPv4; :: covers IPv6, and IPv4 too unless IPV6_V6ONLY), unless
// both set SO_REUSEADDR (for TCP: and the other one does not listen) or both set
// SO_REUSEPORT. Preconditions: st.mu held.
func bindConflict(m addrTable, s *Socket, local netip.AddrPort) bool {
	for a, socks := range m {
		if a.Port() != local.Port() {
			continue
		}
		for _, o := range socks {
			if o != s && overlaps(a.Addr(), o.v6only, local.Addr(), s.v6only) && !mayShare(s, o, false) {
				return true
			}
		}
	}
	return false
}

// mayShare reports whether s may share an address with o, which holds it: both
// SO_REUSEPORT, or both SO_REUSEADDR with o (a TCP socket) not listening, or, when s is
// about to listen, both SO_REUSEPORT only.
func mayShare(s, o *Socket, listening bool) bool {
	sr, or := s.reuse.Load(), o.reuse.Load()
	if sr&reusePort != 0 && or&reusePort != 0 {
		return true
	}
	if listening || sr&reuseAddr == 0 || or&reuseAddr == 0 {
		return false
	}
	return s.Type != unix.SOCK_STREAM || !o.listeningNow()
}

// listenConflict reports whether s, bound on the private loopback, may not listen: another
// socket listens on an address overlapping s's, and they do not both set SO_REUSEPORT
// (inet_csk_listen_start checks the port again). Preconditions: st.mu held.
func listenConflict(m addrTable, s *Socket, local netip.AddrPort) bool {
	for a, socks := range m {
		if a.Port() != local.Port() {
			continue
		}
		for _, o := range socks {
			if o != s && o.listeningNow() && overlaps(a.Addr(), o.v6only, local.Addr(), s.v6only) && !mayShare(s, o, true) {
				return true
			}
		}
	}
	return false
}

// overlaps reports whether addresses a and b (unmapped; each with its socket's
// IPV6_V6ONLY) would receive the same connections.
func overlaps(a netip.Addr, aV6only bool, b netip.Addr, bV6only bool) bool {
	covers := func(x netip.Addr, xV6only bool, y netip.Addr, yV6only bool) bool {
		switch {
		case !x.IsUnspecified():
			return false
		case x.Is4():
			return y.Is4() || y.IsUnspecified() && !yV6only
		default:
			return y.Is6() || !xV6only
		}
	}
	return a == b || covers(a, aV6only, b, bV6only) || covers(b, bV6only, a, aV6only)
}

func (st *Stack) unbindLocal(s *Socket, local netip.AddrPort) {
	st.mu.Lock()
	m := st.table(s)
	for i, o := range m[local] {
		if o == s {
			m[local] = append(m[local][:i:i], m[local][i+1:]...)
			break
		}
	}
	if len(m[local]) == 0 {
		delete(m, local)
	}
	st.mu.Unlock()
}

func (st *Stack) addHostListener(s *Socket, port uint16) {
	st.mu.Lock()
	if st.hostListeners[port] == nil {
		st.hostListeners[port] = map[*Socket]bool{}
	}
	st.hostListeners[port][s] = true
	st.mu.Unlock()
}

func (st *Stack) removeHostListener(s *Socket, port uint16) {
	st.mu.Lock()
	delete(st.hostListeners[port], s)
	if len(st.hostListeners[port]) == 0 {
		delete(st.hostListeners, port)
	}
	st.mu.Unlock()
}

// hostListenerFor returns a host FD of one of the sandbox's own host listeners on port,
// proof for the broker that a loopback connect reaches the sandbox's own server (-1: none).
func (st *Stack) hostListenerFor(port uint16) *Socket {
	st.mu.Lock()
	defer st.mu.Unlock()
	for s := range st.hostListeners[port] {
		return s
	}
	return nil
}
