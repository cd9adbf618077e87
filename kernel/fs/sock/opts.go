package sock

import (
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// Socket options (SOL_SOCKET) of an AF_UNIX socket. Linux keeps them in struct sock, so
// they belong to the socket, not to a descriptor. Most are flags or numbers that only have
// to read back as set; the ones that change behaviour are the timeouts (Timeout), the
// buffer sizes and the peek offset (handed to the host socketpair carrying a connection,
// whose kernel then applies them), SO_PASSCRED (credentials on received messages) and
// SO_RCVLOWAT.

// Opts holds the option values. Its zero value is not a fresh socket's: use defaultOpts.
type Opts struct {
	// Ints are the options that are a plain int (flags read back as 0/1), by option name.
	Ints map[int]int32
	// SndBuf and RcvBuf are the buffer sizes as getsockopt reports them (Linux doubles
	// what is set).
	SndBuf, RcvBuf int32
	// RcvTimeo and SndTimeo are SO_RCVTIMEO/SO_SNDTIMEO: 0 waits forever, Immediate
	// never waits (a negative time was set), else the longest wait.
	RcvTimeo, SndTimeo time.Duration
	// Linger is SO_LINGER (on, seconds).
	Linger [2]int32
	// PeekOff is SO_PEEK_OFF (-1: off).
	PeekOff int32
	// BindDev is SO_BINDTODEVICE's interface index (0: none).
	BindDev int32
	// Pacing is SO_MAX_PACING_RATE.
	Pacing uint64
}

// soPassRights is SO_PASSRIGHTS (Linux 6.16): on by default.
const soPassRights = 83

// Immediate is a timeout that never waits (SO_RCVTIMEO with a negative tv_sec).
const Immediate = time.Duration(-1)

// Linux's defaults: net.core.{w,r}mem_default for the buffers.
const defaultBuf = 212992

func defaultOpts() Opts {
	return Opts{Ints: map[int]int32{
		unix.SO_RCVLOWAT: 1, unix.SO_SNDLOWAT: 1, unix.SO_INCOMING_CPU: -1, soPassRights: 1,
	}, SndBuf: defaultBuf, RcvBuf: defaultBuf, PeekOff: -1, Pacing: ^uint64(0)}
}

// optsLocked returns the socket's options, creating them with Linux's defaults.
// Preconditions: s.mu is held.
func (s *Socket) optsLocked() *Opts {
	if s.opts == nil {
		o := defaultOpts()
		s.opts = &o
	}
	return s.opts
}

// Options returns a copy of the socket's options.
func (s *Socket) Options() Opts {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := *s.optsLocked()
	o.Ints = make(map[int]int32, len(s.opts.Ints))
	for k, v := range s.opts.Ints {
		o.Ints[k] = v
	}
	if s.conn != nil && s.opts.PeekOff >= 0 {
		// The host socket advances the offset as data is read.
		if v, err := unix.GetsockoptInt(s.conn.HostFD(), unix.SOL_SOCKET, unix.SO_PEEK_OFF); err == nil {
			o.PeekOff = int32(v)
		}
	}
	return o
}

// UpdateOptions changes the options under the socket's lock; values that the host
// socketpair of a connection must apply are handed to it.
func (s *Socket) UpdateOptions(f func(o *Opts) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.optsLocked()
	if err := f(o); err != nil {
		return err
	}
	if s.conn != nil {
		applyHostOpts(s.conn.HostFD(), o)
	}
	return nil
}

// applyHostOpts gives a connection's host socket the options its kernel must enforce: the
// peek offset (MSG_PEEK reads from there and advances it).
func applyHostOpts(fd int, o *Opts) {
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, int(o.PeekOff))
}

// Timeout returns SO_RCVTIMEO (write false) or SO_SNDTIMEO (write true).
func (s *Socket) Timeout(write bool) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts == nil {
		return 0
	}
	if write {
		return s.opts.SndTimeo
	}
	return s.opts.RcvTimeo
}

// RcvLowat is SO_RCVLOWAT: how many bytes a blocking stream receive waits for.
func (s *Socket) RcvLowat() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts == nil {
		return 1
	}
	return max(int(s.opts.Ints[unix.SO_RCVLOWAT]), 1)
}

// PassCred reports whether SO_PASSCRED is set.
func (s *Socket) PassCred() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts != nil && s.opts.Ints[unix.SO_PASSCRED] != 0
}

// The host kernel answers what its own AF_UNIX sockets would for the options whose
// rounding and limits depend on its configuration (the buffer sizes: doubled, clamped to
// net.core.{w,r}mem_max; the timeouts: rounded to jiffies): the value is set on a probe
// socket and read back.
var probe struct {
	mu sync.Mutex
	fd int // protected by mu; 0: not made yet
}

// HostBufSize returns what a host AF_UNIX socket reports for SO_SNDBUF or SO_RCVBUF
// after being given val.
func HostBufSize(opt int, val int) (int32, error) {
	fd, err := probeLocked()
	defer probe.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, val); err != nil {
		return 0, err
	}
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
	return int32(v), err
}

// HostTimeout returns the wait a host AF_UNIX socket would apply for SO_RCVTIMEO or
// SO_SNDTIMEO set to tv (EDOM for a bad tv_usec, as Linux says): 0 for none, Immediate
// for a negative time.
func HostTimeout(opt int, tv unix.Timeval) (time.Duration, error) {
	fd, err := probeLocked()
	defer probe.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &tv); err != nil {
		return 0, err
	}
	if tv.Sec < 0 {
		return Immediate, nil
	}
	got, err := unix.GetsockoptTimeval(fd, unix.SOL_SOCKET, opt)
	if err != nil {
		return 0, err
	}
	return time.Duration(got.Sec)*time.Second + time.Duration(got.Usec)*time.Microsecond, nil
}

// probeLocked returns the probe socket with probe.mu held (the caller unlocks).
func probeLocked() (int, error) {
	probe.mu.Lock()
	if probe.fd == 0 {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, unix.ENOBUFS
		}
		unix.Close(fds[1])
		probe.fd = fds[0]
	}
	return probe.fd, nil
}

// Cookie returns SO_COOKIE: a number unique to the socket within ns, given on first use.
func (s *Socket) Cookie(ns *Names) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cookie == 0 {
		s.cookie = ns.cookies.Add(1) + 4096
	}
	return s.cookie
}

// PutTimeval encodes a timeout as getsockopt shows it (struct timeval).
func PutTimeval(d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	b := make([]byte, abi.SizeofTimeval)
	abi.Timeval{Sec: int64(d / time.Second), Usec: int64(d % time.Second / time.Microsecond)}.Encode(b)
	return b
}

// Listening reports whether the socket accepts connections (SO_ACCEPTCONN).
func (s *Socket) Listening() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listening
}

// Connected reports whether the socket has a peer (a connection or a datagram
// destination).
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil || s.dpeer != nil
}

// PeerNeedsCred reports whether a message sent now must carry cred explicitly: the socket
// at the other end wants credentials (SO_PASSCRED) and would otherwise take its peer's
// recorded ones, which differ (another process sends, or it claims other IDs).
func (s *Socket) PeerNeedsCred(cred unix.Ucred) bool {
	s.mu.Lock()
	o := s.other
	s.mu.Unlock()
	if o == nil || !o.PassCred() {
		return false
	}
	pc, _ := o.PeerCred()
	return pc == nil || *pc != cred
}
