package host

import (
	"github.com/sbx-dev/sbx/kernel/tty"

	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

func ttyIoctl(hostFD int, mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case unix.TCGETS:
		t, err := unix.IoctlGetTermios(hostFD, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		if _, err := mem.CopyOut(arg, tty.EncodeTermios(t)); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		b := make([]byte, tty.TermiosSize)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, unix.IoctlSetTermios(hostFD, uint(cmd), tty.DecodeTermios(b))
	case unix.TIOCGWINSZ:
		ws, err := unix.IoctlGetWinsize(hostFD, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		b := tty.EncodeWinsize(*ws)
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.TIOCSWINSZ:
		b := make([]byte, 8)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		ws := tty.DecodeWinsize(b)
		return 0, unix.IoctlSetWinsize(hostFD, unix.TIOCSWINSZ, &ws)
	case unix.TCFLSH, unix.TCXONC, unix.TCSBRK, unix.TCSBRKP:
		if cmd == unix.TCFLSH && arg > 2 || cmd == unix.TCXONC && arg > 3 {
			return 0, unix.EINVAL
		}
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(hostFD), uintptr(cmd), uintptr(arg))
		if e != 0 {
			return 0, e
		}
		return 0, nil
	case tty.TIOCOUTQ:
		n, err := unix.IoctlGetInt(hostFD, tty.TIOCOUTQ)
		if err != nil {
			return 0, err
		}
		b := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case tty.TIOCGETD:
		if _, err := mem.CopyOut(arg, []byte{0, 0, 0, 0}); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case tty.TIOCSTI:
		// Faking input into the user's terminal is refused (Linux with
		// dev.tty.legacy_tiocsti=0 says EIO).
		return 0, unix.EIO
	}
	// The kernel answers job-control ioctls (TIOCSCTTY, TIOCGPGRP, ...) from its own state;
	// TIOCCONS, TIOCLINUX and anything else that could reach beyond the sandbox through the
	// user's terminal are refused.
	return 0, unix.ENOTTY
}
