package abi

import "encoding/binary"

// Termios is the kernel's struct termios of TCGETS and TCSETS*
// (include/uapi/asm-generic/termbits.h): 19 control characters and no speeds, unlike the
// C library's.
type Termios struct {
	Iflag uint32    `c:"c_iflag"`
	Oflag uint32    `c:"c_oflag"`
	Cflag uint32    `c:"c_cflag"`
	Lflag uint32    `c:"c_lflag"`
	Line  uint8     `c:"c_line"`
	Cc    [19]uint8 `c:"c_cc"`
}

// SizeofTermios is sizeof(struct termios) as the kernel takes it.
const SizeofTermios = 36

// Encode writes t to b[:SizeofTermios].
func (t *Termios) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], t.Iflag)
	le.PutUint32(b[4:], t.Oflag)
	le.PutUint32(b[8:], t.Cflag)
	le.PutUint32(b[12:], t.Lflag)
	b[16] = t.Line
	copy(b[17:SizeofTermios], t.Cc[:])
}

// Decode reads t from b[:SizeofTermios].
func (t *Termios) Decode(b []byte) {
	le := binary.LittleEndian
	t.Iflag, t.Oflag, t.Cflag, t.Lflag = le.Uint32(b[0:]), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:])
	t.Line = b[16]
	copy(t.Cc[:], b[17:SizeofTermios])
}

// Winsize is struct winsize of TIOCGWINSZ and TIOCSWINSZ (include/uapi/asm-generic/termios.h).
type Winsize struct {
	Row    uint16 `c:"ws_row"`
	Col    uint16 `c:"ws_col"`
	Xpixel uint16 `c:"ws_xpixel"`
	Ypixel uint16 `c:"ws_ypixel"`
}

// SizeofWinsize is sizeof(struct winsize).
const SizeofWinsize = 8

// Encode writes w to b[:SizeofWinsize].
func (w *Winsize) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], w.Row)
	le.PutUint16(b[2:], w.Col)
	le.PutUint16(b[4:], w.Xpixel)
	le.PutUint16(b[6:], w.Ypixel)
}

// Decode reads w from b[:SizeofWinsize].
func (w *Winsize) Decode(b []byte) {
	le := binary.LittleEndian
	w.Row, w.Col, w.Xpixel, w.Ypixel = le.Uint16(b[0:]), le.Uint16(b[2:]), le.Uint16(b[4:]), le.Uint16(b[6:])
}
