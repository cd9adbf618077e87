package host

import (
	"encoding/binary"
	"errors"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// termiosSize is sizeof(struct termios) as TCGETS uses it (include/uapi/asm-generic/termbits.h).
const termiosSize = 36

func encodeTermios(t *unix.Termios) []byte {
	b := make([]byte, termiosSize)
	binary.LittleEndian.PutUint32(b[0:], t.Iflag)
	binary.LittleEndian.PutUint32(b[4:], t.Oflag)
	binary.LittleEndian.PutUint32(b[8:], t.Cflag)
	binary.LittleEndian.PutUint32(b[12:], t.Lflag)
	b[16] = t.Line
	copy(b[17:36], t.Cc[:19])
	return b
}

func decodeTermios(b []byte) *unix.Termios {
	t := &unix.Termios{}
	t.Iflag = binary.LittleEndian.Uint32(b[0:])
	t.Oflag = binary.LittleEndian.Uint32(b[4:])
	t.Cflag = binary.LittleEndian.Uint32(b[8:])
	t.Lflag = binary.LittleEndian.Uint32(b[12:])
	t.Line = b[16]
	copy(t.Cc[:19], b[17:36])
	return t
}

func ttyIoctl(hostFD int, mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case unix.TCGETS:
		t, err := unix.IoctlGetTermios(hostFD, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		if _, err := mem.CopyOut(arg, encodeTermios(t)); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		b := make([]byte, termiosSize)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, unix.IoctlSetTermios(hostFD, uint(cmd), decodeTermios(b))
	case unix.TIOCGWINSZ:
		ws, err := unix.IoctlGetWinsize(hostFD, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		b := make([]byte, 8)
		binary.LittleEndian.PutUint16(b[0:], ws.Row)
		binary.LittleEndian.PutUint16(b[2:], ws.Col)
		binary.LittleEndian.PutUint16(b[4:], ws.Xpixel)
		binary.LittleEndian.PutUint16(b[6:], ws.Ypixel)
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.TIOCSWINSZ:
		b := make([]byte, 8)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		ws := &unix.Winsize{Row: binary.LittleEndian.Uint16(b[0:]), Col: binary.LittleEndian.Uint16(b[2:]),
			Xpixel: binary.LittleEndian.Uint16(b[4:]), Ypixel: binary.LittleEndian.Uint16(b[6:])}
		return 0, unix.IoctlSetWinsize(hostFD, unix.TIOCSWINSZ, ws)
	case unix.TIOCGPGRP:
		// The sandbox's foreground process group is its first process group; the kernel
		// answers for itself instead of revealing host process groups.
		return 0, ErrNeedsKernel
	}
	// TIOCSTI, TIOCSCTTY, TIOCCONS, TIOCLINUX and anything else that could reach beyond the
	// sandbox through the user's terminal are refused.
	return 0, unix.ENOTTY
}

// ErrNeedsKernel is returned for terminal ioctls whose answer is the kernel's own state
// (job control); the caller answers them.
var ErrNeedsKernel = errors.New("ioctl answered by the kernel")
