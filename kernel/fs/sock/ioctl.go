package sock

import (
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

var _ vfs.Ioctler = (*Socket)(nil)

// Ioctl implements FIONREAD/SIOCINQ (bytes waiting: all of them on a stream, the next
// message otherwise) and SIOCOUTQ (bytes sent and not yet read by the peer), as the host
// socket carrying the connection counts them.
func (s *Socket) Ioctl(fd *vfs.FileDescription, mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	var n int
	switch cmd {
	case unix.SIOCINQ: // FIONREAD
		if s.isDgram() {
			n = s.nextDgramLen()
			break
		}
		h, err := s.host()
		if err != nil {
			if s.Listening() {
				return 0, unix.EINVAL
			}
			break // nothing queued on an unconnected socket
		}
		if n, err = unix.IoctlGetInt(h.HostFD(), unix.SIOCINQ); err != nil {
			return 0, err
		}
	case unix.SIOCOUTQ:
		if h, err := s.host(); err == nil {
			var e error
			if n, e = unix.IoctlGetInt(h.HostFD(), unix.SIOCOUTQ); e != nil {
				return 0, e
			}
		}
	default:
		return 0, unix.ENOTTY
	}
	if _, err := mem.CopyOut(arg, abi.AppendU32(nil, uint32(n))); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// nextDgramLen is the length of the next datagram's data (0: none).
func (s *Socket) nextDgramLen() int {
	var hdr [2 + 108 + credSize]byte
	n, _, _, _, err := unix.Recvmsg(s.inbox.HostFD(), hdr[:], nil, unix.MSG_PEEK|unix.MSG_DONTWAIT|unix.MSG_TRUNC)
	if err != nil || n < 2 {
		return 0
	}
	return max(n-2-frameNameLen(hdr[:])-credSize, 0)
}
