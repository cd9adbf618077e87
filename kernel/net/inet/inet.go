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

	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"golang.org/x/sys/unix"
)

// Stack is one sandbox's Internet sockets state.
type Stack struct {
	broker *netproto.Client

	mu sync.Mutex
	// listeners are the in-kernel (private loopback) listeners by bound address. protected by mu
	listeners map[netip.AddrPort]*Socket
	// hostListeners are sockets listening on the host, by port. protected by mu
	hostListeners map[uint16]map[*Socket]bool
	// nextPort is the next ephemeral port to try. protected by mu
	nextPort uint16
	// live are the open sockets, for sbx top. protected by mu
	live map[*Socket]struct{}
}

// Conn describes one socket for sbx top.
type Conn struct {
	Proto             string // tcp, tcp6, udp, udp6, icmp
	State             string // listen, established, connecting, bound, open
	Local, Remote     netip.AddrPort
	Private           bool // on the sandbox's private loopback
	BytesIn, BytesOut uint64
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
	return &Stack{broker: broker, listeners: map[netip.AddrPort]*Socket{}, hostListeners: map[uint16]map[*Socket]bool{},
		nextPort: ephemeralLo, live: map[*Socket]struct{}{}}
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

// norm returns a with an IPv4-mapped address unmapped.
func norm(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// isLoopback reports whether a is the sandbox's own loopback.
func isLoopback(a netip.Addr) bool { return a.Unmap().IsLoopback() }

// lookupListenerLocked finds the in-kernel listener for dst: one bound to dst itself or to
// the unspecified address of a family that reaches it. Preconditions: st.mu held.
func (st *Stack) lookupListenerLocked(dst netip.AddrPort) *Socket {
	dst = norm(dst)
	if l := st.listeners[dst]; l != nil {
		return l
	}
	for _, any := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		l := st.listeners[netip.AddrPortFrom(any, dst.Port())]
		if l == nil {
			continue
		}
		if any.Is6() && dst.Addr().Is4() && l.v6only {
			continue
		}
		if any.Is4() && dst.Addr().Is6() {
			continue
		}
		return l
	}
	return nil
}

// bindLocal registers s as bound to local in the stack (port 0: an ephemeral port).
func (st *Stack) bindLocal(s *Socket, local netip.AddrPort) (netip.AddrPort, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	local = norm(local)
	if local.Port() == 0 {
		for range ephemeralHi - ephemeralLo {
			p := st.nextPort
			st.nextPort++
			if st.nextPort > ephemeralHi {
				st.nextPort = ephemeralLo
			}
			c := netip.AddrPortFrom(local.Addr(), p)
			if st.listeners[c] == nil && st.lookupListenerLocked(c) == nil {
				local = c
				break
			}
		}
		if local.Port() == 0 {
			return local, unix.EADDRINUSE
		}
	} else if st.listeners[local] != nil || (local.Addr().IsUnspecified() && st.conflictsLocked(local.Port())) {
		return local, unix.EADDRINUSE
	}
	st.listeners[local] = s
	return local, nil
}

// conflictsLocked reports whether any in-kernel socket holds port. Preconditions: st.mu held.
func (st *Stack) conflictsLocked(port uint16) bool {
	for a := range st.listeners {
		if a.Port() == port {
			return true
		}
	}
	return false
}

func (st *Stack) unbindLocal(s *Socket, local netip.AddrPort) {
	st.mu.Lock()
	if st.listeners[local] == s {
		delete(st.listeners, local)
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
