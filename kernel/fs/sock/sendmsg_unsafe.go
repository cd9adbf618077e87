package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendmsg is sendmsg(2) on a host socket with data b and control data oob, as given:
// x/sys/unix's Sendmsg adds a byte to an empty message with control data on a
// non-datagram socket (so that a stream peer gets the control data), but an empty
// seqpacket record with files is a message of its own, read as zero bytes.
func sendmsg(fd int, b, oob []byte, flags int) (int, error) {
	var msg unix.Msghdr
	var iov unix.Iovec
	if len(b) > 0 {
		iov.Base = &b[0]
		iov.SetLen(len(b))
		msg.Iov = &iov
		msg.Iovlen = 1
	}
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
