package sock

import "golang.org/x/sys/unix"

// Socket states as unix_diag reports them (include/net/tcp_states.h).
const (
	stateEstablished = 1
	stateClose       = 7
	stateListen      = 10
)

// DiagInfo is what NETLINK_SOCK_DIAG (unix_diag) reports of a socket.
type DiagInfo struct {
	Type  int
	State uint8 // 10 listening, 1 connected, 7 neither (TCP_LISTEN, TCP_ESTABLISHED, TCP_CLOSE)
	// Name is the bound name ("\x00name" for an abstract one, "" unbound); Path, for a
	// name in the filesystem, the socket file it is bound to.
	Name string
	Path *PathKey
	// Peer is the socket at the other end inside the sandbox (nil: none, or a host peer);
	// Pending are a listener's connections not accepted yet.
	Peer    *Socket
	Pending []*Socket
	// Rqueue and Wqueue: a listener's pending connections and backlog; otherwise the bytes
	// waiting to be read (a datagram socket: the next datagram's) and not yet sent.
	Rqueue, Wqueue uint32
}

// Diag describes the socket for unix_diag.
func (s *Socket) Diag() DiagInfo {
	s.mu.Lock()
	d := DiagInfo{Type: s.Type, State: stateClose, Name: s.local, Pending: append([]*Socket(nil), s.pending...)}
	if k, ok := s.bound.(PathKey); ok {
		d.Path = &k
	}
	conn, dgram := s.conn, s.inbox != nil
	switch {
	case s.listening:
		d.State = stateListen
		d.Rqueue, d.Wqueue = uint32(len(s.pending)), uint32(s.backlog)
	case conn != nil:
		d.State, d.Peer = stateEstablished, s.other
	case s.dpeer != nil:
		d.State, d.Peer = stateEstablished, s.dpeer
	}
	s.mu.Unlock()
	switch {
	case d.State == stateListen:
	case dgram:
		d.Rqueue = uint32(s.nextDgramLen())
	case conn != nil:
		if n, err := unix.IoctlGetInt(conn.HostFD(), unix.SIOCINQ); err == nil {
			d.Rqueue = uint32(n)
		}
		if n, err := unix.IoctlGetInt(conn.HostFD(), unix.SIOCOUTQ); err == nil {
			d.Wqueue = uint32(n)
		}
	}
	return d
}
