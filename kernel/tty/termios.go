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
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// TermiosSize is sizeof(struct termios) as TCGETS uses it (include/uapi/asm-generic/termbits.h:
// c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc[19]).
const TermiosSize = 36

// WinsizeSize is sizeof(struct winsize).
const WinsizeSize = 8

// EncodeTermios returns t as TCGETS writes it.
func EncodeTermios(t *unix.Termios) []byte {
	b := make([]byte, TermiosSize)
	binary.LittleEndian.PutUint32(b[0:], t.Iflag)
	binary.LittleEndian.PutUint32(b[4:], t.Oflag)
	binary.LittleEndian.PutUint32(b[8:], t.Cflag)
	binary.LittleEndian.PutUint32(b[12:], t.Lflag)
	b[16] = t.Line
	copy(b[17:36], t.Cc[:19])
	return b
}

// DecodeTermios reads what TCSETS* pass.
func DecodeTermios(b []byte) *unix.Termios {
	t := &unix.Termios{}
	t.Iflag = binary.LittleEndian.Uint32(b[0:])
	t.Oflag = binary.LittleEndian.Uint32(b[4:])
	t.Cflag = binary.LittleEndian.Uint32(b[8:])
	t.Lflag = binary.LittleEndian.Uint32(b[12:])
	t.Line = b[16]
	copy(t.Cc[:19], b[17:36])
	return t
}

// EncodeWinsize returns ws as TIOCGWINSZ writes it.
func EncodeWinsize(ws unix.Winsize) []byte {
	b := make([]byte, WinsizeSize)
	binary.LittleEndian.PutUint16(b[0:], ws.Row)
	binary.LittleEndian.PutUint16(b[2:], ws.Col)
	binary.LittleEndian.PutUint16(b[4:], ws.Xpixel)
	binary.LittleEndian.PutUint16(b[6:], ws.Ypixel)
	return b
}

// DecodeWinsize reads what TIOCSWINSZ passes.
func DecodeWinsize(b []byte) unix.Winsize {
	return unix.Winsize{Row: binary.LittleEndian.Uint16(b[0:]), Col: binary.LittleEndian.Uint16(b[2:]),
		Xpixel: binary.LittleEndian.Uint16(b[4:]), Ypixel: binary.LittleEndian.Uint16(b[6:])}
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
