package tty

import (
	"time"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Master is an open pseudo-terminal master (/dev/ptmx).
type Master struct {
	P *Pty
	// OnClose runs once when the last master description closes (devpts removes the slave's
	// node).
	OnClose func()
	// OpenPeer opens the slave (TIOCGPTPEER) and returns its node; set by devpts.
	OpenPeer func() (vfs.File, vfs.Inode, error)
}

// Slave is an open pseudo-terminal slave (/dev/pts/N).
type Slave struct{ P *Pty }

var (
	_ vfs.Pollable   = (*Master)(nil)
	_ vfs.Ioctler    = (*Master)(nil)
	_ vfs.Stream     = (*Master)(nil)
	_ vfs.Pollable   = (*Slave)(nil)
	_ vfs.Ioctler    = (*Slave)(nil)
	_ vfs.Stream     = (*Slave)(nil)
	_ Terminal       = (*Slave)(nil)
	_ MasterTerminal = (*Master)(nil)
)

// OpenSlave opens the slave side: EIO while the pair is locked or after the master closed.
func (p *Pty) OpenSlave() (*Slave, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.locked || p.hungUp {
		return nil, unix.EIO
	}
	p.slaves++
	p.slaveOpened = true
	return &Slave{P: p}, nil
}

// IsStream implements vfs.Stream.
func (m *Master) IsStream() bool { return true }

// SlaveTTY implements MasterTerminal.
func (m *Master) SlaveTTY() *Control { return m.P.ctl }

// Read returns what the slave wrote (after output processing); in packet mode a status
// byte comes first.
func (m *Master) Read(_ *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	p := m.P
	p.mu.Lock()
	want := total(dst)
	if want == 0 {
		p.mu.Unlock()
		return 0, nil
	}
	var data []byte
	switch {
	case p.packet && p.pktStatus != 0:
		data = []byte{p.pktStatus}
		p.pktStatus = 0
	case len(p.out) > 0 && !p.stopped:
		n := len(p.out)
		if p.packet {
			n = min(n, int(want)-1)
			data = append([]byte{PktData}, p.out[:n]...)
		} else {
			n = min(n, int(want))
			data = append([]byte(nil), p.out[:n]...)
		}
		p.out = p.out[n:]
		if len(p.out) == 0 {
			p.out = nil
		}
	case p.slaveOpened && p.slaves == 0:
		p.mu.Unlock()
		return 0, unix.EIO
	default:
		p.mu.Unlock()
		return 0, unix.EAGAIN
	}
	p.mu.Unlock()
	p.slaveQ.Notify(waiter.EventOut)
	return scatter(dst, data), nil
}

// Write types into the terminal: each byte goes through the line discipline.
func (m *Master) Write(_ *vfs.FileDescription, src [][]byte, _ int64) (int64, error) {
	p := m.P
	var sigs []unix.Signal
	var done int64
	p.mu.Lock()
	full := false
	for _, b := range src {
		for _, c := range b {
			if p.inputLenLocked() >= inputMax && (!p.icanon() || len(p.lines) > 0) {
				full = true
				break
			}
			if sig := p.receiveLocked(c); sig != 0 {
				sigs = append(sigs, sig)
			}
			done++
		}
		if full {
			break
		}
	}
	p.mu.Unlock()
	if done > 0 {
		p.notify()
	}
	for _, s := range sigs {
		p.ctl.SignalForeground(s)
	}
	if done == 0 && total(src) > 0 {
		return 0, unix.EAGAIN
	}
	return done, nil
}

// Readiness implements vfs.Pollable.
func (m *Master) Readiness(mask uint32) uint32 {
	p := m.P
	p.mu.Lock()
	defer p.mu.Unlock()
	var r uint32
	if len(p.out) > 0 && !p.stopped || p.packet && p.pktStatus != 0 {
		r |= waiter.EventIn | waiter.EventRdNorm
	}
	if p.packet && p.pktStatus != 0 {
		r |= waiter.EventPri
	}
	if p.inputLenLocked() < inputMax {
		r |= waiter.EventOut
	}
	if p.slaveOpened && p.slaves == 0 && len(p.out) == 0 {
		r |= waiter.EventHUp
	}
	return r & (mask | waiter.EventHUp | waiter.EventErr)
}

// EventRegister implements vfs.Pollable.
func (m *Master) EventRegister(e *waiter.Entry) { m.P.masterQ.EventRegister(e) }

// EventUnregister implements vfs.Pollable.
func (m *Master) EventUnregister(e *waiter.Entry) { m.P.masterQ.EventUnregister(e) }

// IncRef counts another description of the master (not made by dup, which shares one).
func (m *Master) Release() {
	p := m.P
	p.mu.Lock()
	p.masters--
	last := p.masters == 0
	if last {
		p.hungUp = true
		p.lines, p.canon, p.raw, p.out = nil, nil, nil, nil
	}
	p.mu.Unlock()
	if !last {
		return
	}
	p.notify()
	p.ctl.Hangup()
	if m.OnClose != nil {
		m.OnClose()
	}
}

// Ioctl implements the master's ioctls; terminal ioctls act on the slave (tty_pair_get_tty).
func (m *Master) Ioctl(fd *vfs.FileDescription, mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	p := m.P
	switch cmd {
	case TIOCGPTN:
		return 0, putU32(mem, arg, uint32(p.Index))
	case TIOCSPTLCK:
		v, err := getU32(mem, arg)
		if err != nil {
			return 0, err
		}
		p.mu.Lock()
		p.locked = v != 0
		p.mu.Unlock()
		return 0, nil
	case TIOCGPTLCK:
		p.mu.Lock()
		v := p.locked
		p.mu.Unlock()
		return 0, putU32(mem, arg, b2u(v))
	case TIOCPKT:
		v, err := getU32(mem, arg)
		if err != nil {
			return 0, err
		}
		p.mu.Lock()
		if v != 0 && !p.packet {
			p.pktStatus = 0
		}
		p.packet = v != 0
		p.mu.Unlock()
		return 0, nil
	case TIOCGPKT:
		p.mu.Lock()
		v := p.packet
		p.mu.Unlock()
		return 0, putU32(mem, arg, b2u(v))
	case TIOCINQ:
		p.mu.Lock()
		n := len(p.out)
		p.mu.Unlock()
		return 0, putU32(mem, arg, uint32(n))
	case TIOCOUTQ:
		return 0, putU32(mem, arg, 0)
	}
	return p.commonIoctl(mem, cmd, arg)
}

// IsStream implements vfs.Stream.
func (s *Slave) IsStream() bool { return true }

// TTY implements Terminal.
func (s *Slave) TTY() *Control { return s.P.ctl }

// HungUp reports whether the master is gone.
func (s *Slave) HungUp() bool {
	s.P.mu.Lock()
	defer s.P.mu.Unlock()
	return s.P.hungUp
}

// Read returns input: a line at most in canonical mode, else as VMIN and VTIME say (with
// VTIME the caller waits until ReadDeadline and then calls ReadExpired).
func (s *Slave) Read(fd *vfs.FileDescription, dst [][]byte, _ int64) (int64, error) {
	p := s.P
	want := int(total(dst))
	if want == 0 {
		return 0, nil
	}
	p.mu.Lock()
	if p.hungUp {
		p.mu.Unlock()
		return 0, nil
	}
	var data []byte
	if p.icanon() {
		if len(p.lines) == 0 {
			p.mu.Unlock()
			return 0, unix.EAGAIN
		}
		l := p.lines[0]
		n := min(len(l), want)
		data = l[:n]
		if n == len(l) {
			p.lines = p.lines[1:]
		} else {
			p.lines[0] = l[n:]
		}
	} else {
		vmin, vtime := int(p.termios.Cc[unix.VMIN]), p.termios.Cc[unix.VTIME]
		nonblock := fd != nil && fd.StatusFlags()&unix.O_NONBLOCK != 0
		switch {
		case len(p.raw) == 0 && (vmin > 0 || vtime > 0) && !nonblock:
			p.mu.Unlock()
			return 0, unix.EAGAIN
		case len(p.raw) == 0 && nonblock:
			p.mu.Unlock()
			return 0, unix.EAGAIN
		case vmin > 0 && len(p.raw) < min(vmin, want) && !nonblock:
			// Fewer than VMIN: wait (with VTIME, until the inter-byte timer runs out).
			p.mu.Unlock()
			return 0, unix.EAGAIN
		}
		n := min(len(p.raw), want)
		data = append([]byte(nil), p.raw[:n]...)
		p.raw = p.raw[n:]
		if len(p.raw) == 0 {
			p.raw = nil
		}
	}
	p.mu.Unlock()
	p.masterQ.Notify(waiter.EventOut)
	return scatter(dst, data), nil
}

// ReadReady reports whether a blocking read of want bytes would return now.
func (s *Slave) ReadReady(want int) bool {
	p := s.P
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hungUp {
		return true
	}
	if p.icanon() {
		return len(p.lines) > 0
	}
	vmin := int(p.termios.Cc[unix.VMIN])
	if vmin == 0 {
		return len(p.raw) > 0
	}
	return len(p.raw) >= min(vmin, want)
}

// ReadDeadline implements vfs.TimedReader: how long a blocked non-canonical read waits
// (VTIME), counted from start, the read's beginning; zero for no limit.
func (s *Slave) ReadDeadline(start time.Time) time.Time {
	p := s.P
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.icanon() || p.termios.Cc[unix.VTIME] == 0 {
		return time.Time{}
	}
	d := time.Duration(p.termios.Cc[unix.VTIME]) * 100 * time.Millisecond
	if p.termios.Cc[unix.VMIN] == 0 {
		return start.Add(d)
	}
	if len(p.raw) == 0 {
		return time.Time{} // the inter-byte timer starts with the first byte
	}
	return p.lastInput.Add(d)
}

// ReadExpired implements vfs.TimedReader: the read's timer ran out, so it returns what
// there is (0 bytes when nothing came).
func (s *Slave) ReadExpired(fd *vfs.FileDescription, dst [][]byte) (int64, error) {
	p := s.P
	p.mu.Lock()
	n := min(len(p.raw), int(total(dst)))
	data := append([]byte(nil), p.raw[:n]...)
	p.raw = p.raw[n:]
	p.mu.Unlock()
	if n > 0 {
		p.masterQ.Notify(waiter.EventOut)
	}
	return scatter(dst, data), nil
}

// Write sends output to the master, after output processing.
func (s *Slave) Write(_ *vfs.FileDescription, src [][]byte, _ int64) (int64, error) {
	p := s.P
	p.mu.Lock()
	if p.hungUp {
		p.mu.Unlock()
		return 0, unix.EIO
	}
	var done int64
	full := false
	for _, b := range src {
		for _, c := range b {
			// Stopped output (^S, TCOOFF) holds writers until it starts again.
			if len(p.out) >= outputMax || p.stopped {
				full = true
				break
			}
			p.outputLocked(c)
			done++
		}
		if full {
			break
		}
	}
	p.mu.Unlock()
	if done > 0 {
		p.masterQ.Notify(waiter.EventIn)
	}
	if done == 0 && total(src) > 0 {
		return 0, unix.EAGAIN
	}
	return done, nil
}

// Readiness implements vfs.Pollable.
func (s *Slave) Readiness(mask uint32) uint32 {
	p := s.P
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hungUp {
		return (waiter.EventIn | waiter.EventOut | waiter.EventRdNorm | waiter.EventErr | waiter.EventHUp) & (mask | waiter.EventHUp | waiter.EventErr)
	}
	var r uint32
	if p.readableLocked() {
		r |= waiter.EventIn | waiter.EventRdNorm
	}
	if len(p.out) < outputMax && !p.stopped {
		r |= waiter.EventOut
	}
	return r & mask
}

// EventRegister implements vfs.Pollable.
func (s *Slave) EventRegister(e *waiter.Entry) { s.P.slaveQ.EventRegister(e) }

// EventUnregister implements vfs.Pollable.
func (s *Slave) EventUnregister(e *waiter.Entry) { s.P.slaveQ.EventUnregister(e) }

// Release closes one slave description; the master sees a hangup after the last.
func (s *Slave) Release() {
	p := s.P
	p.mu.Lock()
	p.slaves--
	p.mu.Unlock()
	p.masterQ.Notify(waiter.EventHUp | waiter.EventIn)
}

// Ioctl implements the slave's ioctls.
func (s *Slave) Ioctl(fd *vfs.FileDescription, mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	p := s.P
	p.mu.Lock()
	hung := p.hungUp
	p.mu.Unlock()
	if hung {
		return 0, unix.EIO
	}
	switch cmd {
	case TIOCINQ:
		p.mu.Lock()
		n := len(p.raw)
		if p.icanon() && len(p.lines) > 0 {
			n = 0
			for _, l := range p.lines {
				n += len(l)
			}
		}
		p.mu.Unlock()
		return 0, putU32(mem, arg, uint32(n))
	case TIOCOUTQ:
		p.mu.Lock()
		n := len(p.out)
		p.mu.Unlock()
		return 0, putU32(mem, arg, uint32(n))
	case TIOCGPTN, TIOCSPTLCK, TIOCGPTLCK, TIOCPKT, TIOCGPKT:
		return 0, unix.ENOTTY
	}
	return p.commonIoctl(mem, cmd, arg)
}

// commonIoctl handles what both sides do on the pair's terminal.
func (p *Pty) commonIoctl(mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case unix.TCGETS:
		p.mu.Lock()
		b := EncodeTermios(&p.termios)
		p.mu.Unlock()
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		b := make([]byte, TermiosSize)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		p.mu.Lock()
		if cmd == unix.TCSETSF {
			p.lines, p.canon, p.raw = nil, nil, nil
			if p.packet {
				p.pktStatus |= PktFlushRead
			}
		}
		p.setTermiosLocked(DecodeTermios(b))
		p.mu.Unlock()
		p.notify()
		return 0, nil
	case unix.TIOCGWINSZ:
		p.mu.Lock()
		b := EncodeWinsize(p.ws)
		p.mu.Unlock()
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.TIOCSWINSZ:
		b := make([]byte, WinsizeSize)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		ws := DecodeWinsize(b)
		p.mu.Lock()
		changed := ws != p.ws
		p.ws = ws
		p.mu.Unlock()
		if changed {
			p.ctl.SignalForeground(unix.SIGWINCH)
		}
		return 0, nil
	case TCFLSH:
		var which uint32 = uint32(arg)
		p.mu.Lock()
		defer p.mu.Unlock()
		switch which {
		case unix.TCIFLUSH:
			p.lines, p.canon, p.raw = nil, nil, nil
			p.pktStatus |= PktFlushRead
		case unix.TCOFLUSH:
			p.out = nil
			p.pktStatus |= PktFlushWrite
		case unix.TCIOFLUSH:
			p.lines, p.canon, p.raw, p.out = nil, nil, nil, nil
			p.pktStatus |= PktFlushRead | PktFlushWrite
		default:
			return 0, unix.EINVAL
		}
		if !p.packet {
			p.pktStatus = 0
		}
		go p.notify()
		return 0, nil
	case TCXONC:
		p.mu.Lock()
		switch arg {
		case unix.TCOOFF:
			p.stopped = true
			p.pktStatus = p.pktStatus&^PktStart | PktStop
		case unix.TCOON:
			p.startLocked()
		case unix.TCIOFF, unix.TCION:
		default:
			p.mu.Unlock()
			return 0, unix.EINVAL
		}
		if !p.packet {
			p.pktStatus = 0
		}
		p.mu.Unlock()
		p.notify()
		return 0, nil
	case TCSBRK, TCSBRKP, TIOCSBRK, TIOCCBRK:
		return 0, nil
	case TIOCGETD:
		return 0, putU32(mem, arg, 0) // N_TTY
	case TIOCSETD:
		v, err := getU32(mem, arg)
		if err != nil {
			return 0, err
		}
		if v != 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case TIOCGDEV:
		return 0, putU32(mem, arg, uint32(unix.Mkdev(136, uint32(p.Index))))
	case TIOCSTI:
		// Faking input is refused, as Linux does with dev.tty.legacy_tiocsti=0.
		return 0, unix.EIO
	case TIOCEXCL, TIOCNXCL:
		return 0, nil
	}
	return 0, unix.ENOTTY
}

func total(bs [][]byte) int64 {
	var n int64
	for _, b := range bs {
		n += int64(len(b))
	}
	return n
}

func scatter(dst [][]byte, data []byte) int64 {
	var n int64
	for _, b := range dst {
		if len(data) == 0 {
			break
		}
		c := copy(b, data)
		data = data[c:]
		n += int64(c)
	}
	return n
}

func putU32(mem vfs.Memory, addr uint64, v uint32) error {
	var b [4]byte
	abi.PutU32(b[:], v)
	if _, err := mem.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

func getU32(mem vfs.Memory, addr uint64) (uint32, error) {
	var b [4]byte
	if _, err := mem.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return abi.U32(b[:]), nil
}

func b2u(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// TOSTOP reports whether background writes stop the writer.
func (s *Slave) TOSTOP() bool {
	s.P.mu.Lock()
	defer s.P.mu.Unlock()
	return s.P.termios.Lflag&unix.TOSTOP != 0
}
