package tty

import (
	"sync"
	"time"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/kernel/waiter"
	"golang.org/x/sys/unix"
)

// Buffer sizes: the line discipline's input buffer (N_TTY_BUF_SIZE) and how much output a
// slave may queue before its writes block.
const (
	inputMax  = 4096
	outputMax = 64 << 10
)

// Pty is a pseudo-terminal pair: the master (what a terminal emulator holds) and the slave
// (/dev/pts/N, the program's terminal), joined by a line discipline.
type Pty struct {
	Index int
	ctl   *Control

	mu sync.Mutex
	// Everything below is protected by mu.
	termios unix.Termios // the slave's; TCGETS on the master reads it too
	ws      unix.Winsize
	// Input (master → slave). lines are complete canonical lines (an empty one is an end
	// of file); canon is the line being edited; raw is non-canonical input.
	lines     [][]byte
	canon     []byte
	raw       []byte
	lastInput time.Time
	lnext     bool
	// Output (slave → master), after output processing.
	out       []byte
	column    int
	stopped   bool
	locked    bool
	packet    bool
	pktStatus byte
	// Open descriptions of each side.
	masters, slaves int
	slaveOpened     bool
	hungUp          bool

	masterQ, slaveQ waiter.Queue
}

// NewPty returns pair index, locked (unlockpt opens it), its control state named name.
func NewPty(index int, jc JobControl, name string, reopen func(flags int) (vfs.File, error)) *Pty {
	p := &Pty{Index: index, termios: defaultTermios(), locked: true, masters: 1}
	p.ctl = NewControl(jc, name, reopen)
	p.ctl.Major, p.ctl.Minor = 136, uint32(index)
	return p
}

// Control returns the slave's job-control state.
func (p *Pty) Control() *Control { return p.ctl }

func (p *Pty) icanon() bool { return p.termios.Lflag&unix.ICANON != 0 }

// inputLenLocked is how many bytes of input are queued.
func (p *Pty) inputLenLocked() int {
	n := len(p.raw) + len(p.canon)
	for _, l := range p.lines {
		n += len(l) + 1
	}
	return n
}

// --- output processing ---

// outputLocked queues c for the master after output processing (OPOST).
func (p *Pty) outputLocked(c byte) {
	t := &p.termios
	if t.Oflag&unix.OPOST == 0 {
		p.out = append(p.out, c)
		return
	}
	switch c {
	case '\n':
		if t.Oflag&unix.ONLRET != 0 {
			p.column = 0
		}
		if t.Oflag&unix.ONLCR != 0 {
			p.column = 0
			p.out = append(p.out, '\r', '\n')
			return
		}
	case '\r':
		if t.Oflag&unix.ONOCR != 0 && p.column == 0 {
			return
		}
		if t.Oflag&unix.OCRNL != 0 {
			c = '\n'
			if t.Oflag&unix.ONLRET != 0 {
				p.column = 0
			}
		} else {
			p.column = 0
		}
	case '\t':
		spaces := 8 - p.column%8
		if t.Oflag&unix.TABDLY == unix.XTABS {
			p.column += spaces
			for range spaces {
				p.out = append(p.out, ' ')
			}
			return
		}
		p.column += spaces
	case '\b':
		if p.column > 0 {
			p.column--
		}
	default:
		if t.Oflag&unix.OLCUC != 0 && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c >= 0x20 && c != 0x7f && !(t.Iflag&unix.IUTF8 != 0 && c&0xc0 == 0x80) {
			p.column++
		}
	}
	p.out = append(p.out, c)
}

// echoLocked echoes an input character (^X for control characters with ECHOCTL).
func (p *Pty) echoLocked(c byte) {
	t := &p.termios
	if t.Lflag&unix.ECHO == 0 {
		if c == '\n' && t.Lflag&unix.ECHONL != 0 && p.icanon() {
			p.outputLocked(c)
		}
		return
	}
	if t.Lflag&unix.ECHOCTL != 0 && (c < 0x20 && c != '\t' && c != '\n' || c == 0x7f) {
		p.outputLocked('^')
		p.outputLocked(c ^ 0x40)
		return
	}
	p.outputLocked(c)
}

// echoWidth is how many columns an input character took when echoed.
func (p *Pty) echoWidth(c byte) int {
	if p.termios.Lflag&unix.ECHOCTL != 0 && (c < 0x20 && c != '\t' || c == 0x7f) {
		return 2
	}
	if p.termios.Iflag&unix.IUTF8 != 0 && c&0xc0 == 0x80 {
		return 0
	}
	return 1
}

// eraseLocked removes the last character of the line being edited and echoes the erase.
func (p *Pty) eraseLocked(c byte) bool {
	if len(p.canon) == 0 {
		return false
	}
	t := &p.termios
	n := 1
	if t.Iflag&unix.IUTF8 != 0 {
		for n < len(p.canon) && p.canon[len(p.canon)-n]&0xc0 == 0x80 {
			n++
		}
	}
	gone := p.canon[len(p.canon)-n:]
	p.canon = p.canon[:len(p.canon)-n]
	if t.Lflag&unix.ECHO == 0 {
		return true
	}
	if t.Lflag&unix.ECHOE == 0 {
		p.echoLocked(c)
		return true
	}
	w := 0
	for _, b := range gone {
		w += p.echoWidth(b)
	}
	if gone[0] == '\t' {
		w = p.tabWidthLocked()
		for range w {
			p.outputLocked('\b')
		}
		return true
	}
	for range w {
		p.out = append(p.out, '\b', ' ', '\b')
		if p.column > 0 {
			p.column--
		}
	}
	return true
}

// tabWidthLocked is how many columns the tab just erased took, counted from the line start.
func (p *Pty) tabWidthLocked() int {
	col := 0
	for _, b := range p.canon {
		if b == '\t' {
			col = col/8*8 + 8
		} else {
			col += p.echoWidth(b)
		}
	}
	return 8 - col%8
}

// --- input processing ---

// receiveLocked runs one character typed at the master through the line discipline. It
// returns a signal to send to the foreground group (0 for none).
func (p *Pty) receiveLocked(c byte) unix.Signal {
	t := &p.termios
	if t.Iflag&unix.ISTRIP != 0 {
		c &= 0x7f
	}
	if p.lnext {
		p.lnext = false
		p.putLocked(c)
		return 0
	}
	cc := &t.Cc
	if t.Iflag&unix.IXON != 0 {
		switch {
		case c == cc[unix.VSTOP] && c != 0:
			p.stopped = true
			p.pktStatus |= PktStop
			p.pktStatus &^= PktStart
			return 0
		case c == cc[unix.VSTART] && c != 0:
			p.startLocked()
			return 0
		case p.stopped && t.Iflag&unix.IXANY != 0:
			p.startLocked()
		}
	}
	if t.Lflag&unix.ISIG != 0 && c != 0 {
		var sig unix.Signal
		switch c {
		case cc[unix.VINTR]:
			sig = unix.SIGINT
		case cc[unix.VQUIT]:
			sig = unix.SIGQUIT
		case cc[unix.VSUSP]:
			sig = unix.SIGTSTP
		}
		if sig != 0 {
			if t.Lflag&unix.NOFLSH == 0 {
				p.lines, p.canon, p.raw, p.out = nil, nil, nil, nil
				p.pktStatus |= PktFlushRead | PktFlushWrite
			}
			if t.Iflag&unix.IXON != 0 {
				p.startLocked()
			}
			p.echoLocked(c)
			return sig
		}
	}
	switch c {
	case '\r':
		if t.Iflag&unix.IGNCR != 0 {
			return 0
		}
		if t.Iflag&unix.ICRNL != 0 {
			c = '\n'
		}
	case '\n':
		if t.Iflag&unix.INLCR != 0 {
			c = '\r'
		}
	}
	if t.Iflag&unix.IUCLC != 0 && t.Lflag&unix.IEXTEN != 0 && c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	if !p.icanon() {
		if len(p.raw) < inputMax {
			p.raw = append(p.raw, c)
			p.lastInput = time.Now()
		}
		p.echoLocked(c)
		return 0
	}
	iexten := t.Lflag&unix.IEXTEN != 0
	switch {
	case c == 0:
	case c == cc[unix.VERASE]:
		p.eraseLocked(c)
		return 0
	case c == cc[unix.VWERASE] && iexten:
		for len(p.canon) > 0 && (p.canon[len(p.canon)-1] == ' ' || p.canon[len(p.canon)-1] == '\t') {
			p.eraseLocked(c)
		}
		for len(p.canon) > 0 && p.canon[len(p.canon)-1] != ' ' && p.canon[len(p.canon)-1] != '\t' {
			p.eraseLocked(c)
		}
		return 0
	case c == cc[unix.VKILL]:
		if t.Lflag&unix.ECHO != 0 && t.Lflag&unix.ECHOKE != 0 && t.Lflag&unix.ECHOE != 0 {
			for p.eraseLocked(c) {
			}
			return 0
		}
		p.canon = nil
		if t.Lflag&unix.ECHO != 0 {
			p.echoLocked(c)
			if t.Lflag&unix.ECHOK != 0 {
				p.outputLocked('\n')
			}
		}
		return 0
	case c == cc[unix.VLNEXT] && iexten:
		p.lnext = true
		if t.Lflag&unix.ECHO != 0 && t.Lflag&unix.ECHOCTL != 0 {
			p.outputLocked('^')
			p.outputLocked('\b')
		}
		return 0
	case c == cc[unix.VREPRINT] && iexten:
		if t.Lflag&unix.ECHO != 0 {
			p.echoLocked(c)
			p.outputLocked('\n')
			for _, b := range p.canon {
				p.echoLocked(b)
			}
		}
		return 0
	case c == cc[unix.VEOF]:
		p.endLineLocked()
		return 0
	case c == '\n' || c == cc[unix.VEOL] || c == cc[unix.VEOL2] && iexten:
		p.echoLocked(c)
		p.canon = append(p.canon, c)
		p.endLineLocked()
		return 0
	}
	p.putLocked(c)
	return 0
}

// putLocked adds a character to the input as it is.
func (p *Pty) putLocked(c byte) {
	if !p.icanon() {
		if len(p.raw) < inputMax {
			p.raw = append(p.raw, c)
			p.lastInput = time.Now()
		}
		p.echoLocked(c)
		return
	}
	// A full line takes no more characters but the ones ending it (n_tty).
	if p.inputLenLocked() >= inputMax-1 {
		return
	}
	p.canon = append(p.canon, c)
	p.echoLocked(c)
}

func (p *Pty) endLineLocked() {
	p.lines = append(p.lines, p.canon)
	p.canon = nil
}

func (p *Pty) startLocked() {
	if p.stopped {
		p.stopped = false
		p.pktStatus |= PktStart
		p.pktStatus &^= PktStop
	}
}

// setTermiosLocked applies a new slave termios, moving queued input between the canonical
// and raw queues when ICANON changes (n_tty_set_termios).
func (p *Pty) setTermiosLocked(nt *unix.Termios) {
	old := p.termios
	p.termios = *nt
	wasCanon, canon := old.Lflag&unix.ICANON != 0, nt.Lflag&unix.ICANON != 0
	switch {
	case wasCanon && !canon:
		var all []byte
		for _, l := range p.lines {
			all = append(all, l...)
		}
		p.raw = append(all, p.canon...)
		p.lines, p.canon = nil, nil
	case !wasCanon && canon:
		if len(p.raw) > 0 {
			p.lines = append(p.lines, p.raw)
		}
		p.raw = nil
	}
	if old.Iflag&unix.IXON != 0 && nt.Iflag&unix.IXON == 0 {
		p.startLocked()
	}
	if p.packet {
		oldFlow := old.Iflag&unix.IXON != 0 && old.Cc[unix.VSTOP] == 023 && old.Cc[unix.VSTART] == 021
		newFlow := nt.Iflag&unix.IXON != 0 && nt.Cc[unix.VSTOP] == 023 && nt.Cc[unix.VSTART] == 021
		if oldFlow != newFlow {
			if newFlow {
				p.pktStatus = p.pktStatus&^PktNoStop | PktDoStop
			} else {
				p.pktStatus = p.pktStatus&^PktDoStop | PktNoStop
			}
		}
	}
}

// readableLocked reports whether a slave read would return now (poll's view: VMIN bytes
// when VTIME is 0, else one).
func (p *Pty) readableLocked() bool {
	if p.icanon() {
		return len(p.lines) > 0
	}
	need := 1
	if vmin := int(p.termios.Cc[unix.VMIN]); p.termios.Cc[unix.VTIME] == 0 && vmin > 0 {
		need = vmin
	}
	return len(p.raw) >= need
}

// notify wakes both sides' waiters.
func (p *Pty) notify() {
	p.masterQ.Notify(waiter.EventIn | waiter.EventOut | waiter.EventHUp)
	p.slaveQ.Notify(waiter.EventIn | waiter.EventOut | waiter.EventHUp)
}
