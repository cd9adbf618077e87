package sock

import (
	"sync"

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

var registry = struct {
	mu sync.Mutex
	m  map[any]*Socket
}{m: make(map[any]*Socket)}

func unregister(key any, s *Socket) {
	registry.mu.Lock()
	if registry.m[key] == s {
		delete(registry.m, key)
	}
	registry.mu.Unlock()
}

// Bind gives the socket its name: key in the registry, name for getsockname. EADDRINUSE if
// another socket holds key; EINVAL if this one is already bound.
func (s *Socket) Bind(key any, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound != nil || s.conn != nil {
		return unix.EINVAL
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if _, taken := registry.m[key]; taken {
		return unix.EADDRINUSE
	}
	registry.m[key] = s
	s.bound, s.local = key, name
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
func Lookup(key any) *Socket {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return registry.m[key]
}

// ConnectTo connects s to the listener l inside the sandbox: a host socketpair joins them,
// its other end waits in l's queue for accept. ECONNREFUSED if l does not listen (or has a
// different type); EAGAIN when its backlog is full and the caller would not wait (a
// blocking connect goes over the backlog rather than wait for an accept).
func (s *Socket) ConnectTo(l *Socket, nonblock bool, cred unix.Ucred) error {
	if l.Type != s.Type {
		return unix.ECONNREFUSED
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
	if !l.listening {
		l.mu.Unlock()
		return unix.ECONNREFUSED
	}
	if nonblock && len(l.pending) > l.backlog {
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

// Accept takes the next pending connection (EAGAIN when none; EINVAL when not listening).
func (s *Socket) Accept() (*Socket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.listening {
		return nil, unix.EINVAL
	}
	if len(s.pending) == 0 {
		return nil, unix.EAGAIN
	}
	c := s.pending[0]
	s.pending = s.pending[1:]
	return c, nil
}
