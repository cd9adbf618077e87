package inet

import (
	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/net/netproto"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

var _ vfs.Ioctler = (*Socket)(nil)

// Ioctl implements a TCP socket's FIONREAD/SIOCINQ (bytes waiting), SIOCOUTQ (bytes not
// yet acknowledged: not yet read, on the private loopback) and SIOCATMARK (whether the
// next byte read is the urgent one), as the host socket behind it counts them. A
// listener's SIOCINQ and SIOCOUTQ are EINVAL (tcp_ioctl).
func (s *Socket) Ioctl(fd *vfs.FileDescription, mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	if s.dg != nil {
		return s.dgramIoctl(mem, cmd, arg)
	}
	if s.Type != unix.SOCK_STREAM {
		return 0, unix.ENOTTY
	}
	s.mu.Lock()
	hfd, listening := s.fd, s.listening
	s.mu.Unlock()
	var n int
	switch cmd {
	case unix.SIOCINQ, unix.SIOCOUTQ:
		if listening {
			return 0, unix.EINVAL
		}
		if hfd >= 0 {
			var err error
			if n, err = unix.IoctlGetInt(hfd, uint(cmd)); err != nil {
				return 0, err
			}
		}
	case unix.SIOCATMARK:
		if hfd >= 0 {
			var err error
			if n, err = unix.IoctlGetInt(hfd, unix.SIOCATMARK); err != nil {
				return 0, err
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

// dgramIoctl implements a datagram socket's FIONREAD/SIOCINQ (the payload size of the next
// datagram, 0 when none waits) and SIOCOUTQ (bytes not yet sent: 0, datagrams leave at
// once), as udp_ioctl answers them.
func (s *Socket) dgramIoctl(mem vfs.Memory, cmd uint32, arg uint64) (uint64, error) {
	var n int
	switch cmd {
	case unix.SIOCINQ:
		s.mu.Lock()
		hfd := s.fd
		s.mu.Unlock()
		if hfd >= 0 {
			hdr := make([]byte, netproto.FrameSize)
			got, _, _, _, err := unix.RecvmsgBuffers(hfd, [][]byte{hdr}, nil, unix.MSG_PEEK|unix.MSG_TRUNC|unix.MSG_DONTWAIT)
			if f, ok := netproto.GetFrame(hdr); err == nil && ok && f.Errno == 0 && got >= netproto.FrameSize {
				n = got - netproto.FrameSize
			}
		}
	case unix.SIOCOUTQ:
	default:
		return 0, unix.ENOTTY
	}
	if _, err := mem.CopyOut(arg, abi.AppendU32(nil, uint32(n))); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}
