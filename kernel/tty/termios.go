// Package tty holds the sandbox's terminals: the job-control state every terminal has (the
// session it controls, its foreground process group), and pseudo-terminals with their line
// discipline (canonical and raw input, echo, signal characters, output processing, flow
// control, VMIN/VTIME, window size, packet mode).
//
// The host terminal the user started sbx from is a terminal too: its line discipline is the
// host's, but its session and foreground process group are the sandbox's, kept here (the
// launcher relays the signals the host terminal sends it).
//
// Lock order: Pty.mu → Control.mu. The kernel's job-control callbacks (JobControl) are
// called with no tty lock held.
package tty

import (
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// TermiosSize is sizeof(struct termios) as TCGETS uses it.
const TermiosSize = abi.SizeofTermios

// WinsizeSize is sizeof(struct winsize).
const WinsizeSize = abi.SizeofWinsize

// EncodeTermios returns t as TCGETS writes it.
func EncodeTermios(t *unix.Termios) []byte {
	k := abi.Termios{Iflag: t.Iflag, Oflag: t.Oflag, Cflag: t.Cflag, Lflag: t.Lflag, Line: t.Line}
	copy(k.Cc[:], t.Cc[:])
	b := make([]byte, TermiosSize)
	k.Encode(b)
	return b
}

// DecodeTermios reads what TCSETS* pass.
func DecodeTermios(b []byte) *unix.Termios {
	var k abi.Termios
	k.Decode(b)
	t := &unix.Termios{Iflag: k.Iflag, Oflag: k.Oflag, Cflag: k.Cflag, Lflag: k.Lflag, Line: k.Line}
	copy(t.Cc[:], k.Cc[:])
	return t
}

// EncodeWinsize returns ws as TIOCGWINSZ writes it.
func EncodeWinsize(ws unix.Winsize) []byte {
	b := make([]byte, WinsizeSize)
	(&abi.Winsize{Row: ws.Row, Col: ws.Col, Xpixel: ws.Xpixel, Ypixel: ws.Ypixel}).Encode(b)
	return b
}

// DecodeWinsize reads what TIOCSWINSZ passes.
func DecodeWinsize(b []byte) unix.Winsize {
	var w abi.Winsize
	w.Decode(b)
	return unix.Winsize{Row: w.Row, Col: w.Col, Xpixel: w.Xpixel, Ypixel: w.Ypixel}
}

// defaultTermios is a new pseudo-terminal slave's (tty_std_termios in drivers/tty/tty_io.c,
// with the pty driver's c_cflag).
func defaultTermios() unix.Termios {
	t := unix.Termios{
		Iflag: unix.ICRNL | unix.IXON,
		Oflag: unix.OPOST | unix.ONLCR,
		Cflag: unix.B38400 | unix.CS8 | unix.CREAD,
		Lflag: unix.ISIG | unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.IEXTEN,
	}
	// INIT_C_CC (include/linux/tty.h).
	cc := []byte{3, 034, 0177, 025, 4, 0, 1, 0, 021, 023, 032, 0, 022, 017, 027, 026, 0}
	copy(t.Cc[:], cc)
	return t
}

// Terminal ioctl numbers (include/uapi/asm-generic/ioctls.h) that x/sys does not name.
const (
	TIOCGPTN    = 0x80045430
	TIOCSPTLCK  = 0x40045431
	TIOCGPTLCK  = 0x80045439
	TIOCGPKT    = 0x80045438
	TIOCGPTPEER = 0x5441
	TIOCPKT     = 0x5420
	TIOCSTI     = 0x5412
	TIOCLINUX   = 0x541C
	TIOCCONS    = 0x541D
	TIOCGSID    = 0x5429
	TIOCSCTTY   = 0x540E
	TIOCNOTTY   = 0x5422
	TIOCGPGRP   = 0x540F
	TIOCSPGRP   = 0x5410
	TIOCOUTQ    = 0x5411
	TIOCINQ     = 0x541B
	TIOCGETD    = 0x5424
	TIOCSETD    = 0x5423
	TIOCGDEV    = 0x80045432
	TIOCVHANGUP = 0x5437
	TCFLSH      = 0x540B
	TCXONC      = 0x540A
	TCSBRK      = 0x5409
	TCSBRKP     = 0x5425
	TIOCSBRK    = 0x5427
	TIOCCBRK    = 0x5428
	TIOCEXCL    = 0x540C
	TIOCNXCL    = 0x540D
	TIOCGEXCL   = 0x80045440
	TIOCMGET    = 0x5415
)

// Packet mode status bits (TIOCPKT_*).
const (
	PktData       = 0
	PktFlushRead  = 1
	PktFlushWrite = 2
	PktStop       = 4
	PktStart      = 8
	PktNoStop     = 16
	PktDoStop     = 32
)
