package sock

import (
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/kernel/fs/host"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Sockets bound inside the sandbox are found by key: a PathKey for a socket file (its
// device and inode, so any path to it works), or an AbstractKey for the abstract namespace.
type (
	PathKey     struct{ Dev, Ino uint64 }
	AbstractKey string
)

// maxBacklog is net.core.somaxconn.
const maxBacklog = 4096

// Names is one sandbox's AF_UNIX naming: the bound sockets by key (the network
// namespace's socket table), the autobind counter and the SO_COOKIE counter. The Kernel
// keeps one, so two sandboxes in one process never see each other's names.
type Names struct {
	mu sync.Mutex
	// m holds the bound sockets by key. Protected by mu.
	m map[any]*Socket
	// autobind numbers autobound abstract names; cookies numbers sockets for SO_COOKIE.
	autobind atomic.Uint32
	cookies  atomic.Uint64
}

// NewNames returns an empty naming table.
func NewNames() *Names { return &Names{m: make(map[any]*Socket)} }

func (ns *Names) unregister(key any, s *Socket) {
	ns.mu.Lock()
	if ns.m[key] == s {
		delete(ns.m, key)
	}
	ns.mu.Unlock()
}

// NextAutobind returns the next number for an autobound abstract name.
func (ns *Names) NextAutobind() uint32 { return ns.autobind.Add(1) }

// Bind gives the socket its name: key in ns, name for getsockname. EADDRINUSE if another
// socket holds key; EINVAL if this one is already bound.
func (s *Socket) Bind(ns *Names, key any, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound != nil || s.conn != nil {
		return unix.EINVAL
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if _, taken := ns.m[key]; taken {
		return unix.EADDRINUSE
	}
	ns.m[key] = s
	s.bound, s.boundIn, s.local = key, ns, name
	return nil
}

// Bound reports whether the socket has a name.
func (s *Socket) Bound() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound != nil
}

// Listen makes a bound stream or seqpacket socket accept connections.
func (s *Socket) Listen(backlog int) error {
	if s.Type == unix.SOCK_DGRAM {
		return unix.EOPNOTSUPP
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return unix.EINVAL
	}
	if s.bound == nil {
		return unix.EINVAL
	}
	s.listening = true
	s.backlog = min(max(backlog, 0), maxBacklog)
	return nil
}

// Lookup returns the socket bound to key, if any.
func (ns *Names) Lookup(key any) *Socket {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.m[key]
}

// ConnectTo connects s to the listener l inside the sandbox: a host socketpair joins them,
// its other end waits in l's queue for accept. EPROTOTYPE if l has a different type;
// ECONNREFUSED if l does not listen or its receiving side is shut down; EAGAIN when its
// backlog is full (a blocking connect waits for an accept: l's queue hears EventOut then).
func (s *Socket) ConnectTo(l *Socket, cred unix.Ucred) error {
	if l.Type != s.Type {
		return unix.EPROTOTYPE
	}
	// The listener is checked before the socket itself, as unix_stream_connect does: a
	// connected socket connecting to a full listener hears EAGAIN, not EISCONN.
	l.mu.Lock()
	refused, full := !l.listening || l.shut&shutRcv != 0, len(l.pending) > l.backlog
	l.mu.Unlock()
	if refused {
		return unix.ECONNREFUSED
	}
	if full {
		return unix.EAGAIN
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return unix.EISCONN
	}
	if s.listening {
		return unix.EINVAL
	}
	l.mu.Lock()
	if !l.listening || l.shut&shutRcv != 0 {
		l.mu.Unlock()
		return unix.ECONNREFUSED
	}
	if len(l.pending) > l.backlog {
		l.mu.Unlock()
		return unix.EAGAIN
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, s.Type|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	server := &Socket{Type: s.Type, conn: host.New(fds[1], true), local: l.local, peer: s.local, internal: true,
		peerCred: &cred, other: s}
	lcred := l.cred
	l.pending = append(l.pending, server)
	name := l.local
	l.mu.Unlock()
	s.conn, s.peer, s.internal, s.peerCred, s.other = host.New(fds[0], true), name, true, lcred, server
	s.connectedLocked()
	l.queue.Notify(waiter.EventIn | waiter.EventRdNorm)
	return nil
}

// Accept takes the next pending connection (EAGAIN when none; EINVAL when not listening),
// which makes room in the backlog for a connect waiting for it.
func (s *Socket) Accept() (*Socket, error) {
	s.mu.Lock()
	if !s.listening {
		s.mu.Unlock()
		return nil, unix.EINVAL
	}
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return nil, unix.EAGAIN
	}
	c := s.pending[0]
	s.pending = s.pending[1:]
	s.mu.Unlock()
	s.queue.Notify(waiter.EventOut)
	return c, nil
}
