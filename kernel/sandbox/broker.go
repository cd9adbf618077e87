package sandbox

import (
	"sync"

	"golang.org/x/sys/unix"
)

// brokerClient asks the launcher's socket broker for connected host sockets over BrokerFD
// (SOCK_SEQPACKET): request = the sandbox path; reply = a 4-byte errno and, on success, the
// connected socket as SCM_RIGHTS.
type brokerClient struct {
	mu sync.Mutex
	fd int
}

func newBrokerClient() *brokerClient {
	var st unix.Stat_t
	if unix.Fstat(BrokerFD, &st) != nil {
		return nil
	}
	return &brokerClient{fd: BrokerFD}
}

// Connect implements kernel.SocketBroker.
func (b *brokerClient) Connect(path string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := unix.Sendmsg(b.fd, []byte(path), nil, nil, 0); err != nil {
		return -1, unix.ECONNREFUSED
	}
	buf := make([]byte, 4)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(b.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil || n != 4 {
		return -1, unix.ECONNREFUSED
	}
	errno := unix.Errno(uint32(buf[0]) | uint32(buf[1])<<8 | uint32(buf[2])<<16 | uint32(buf[3])<<24)
	fd := -1
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil && len(fds) > 0 {
				fd = fds[0]
			}
		}
	}
	if errno != 0 {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, errno
	}
	if fd < 0 {
		return -1, unix.ECONNREFUSED
	}
	return fd, nil
}
