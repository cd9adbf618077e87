package netproto

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Client is the kernel's end of the broker channel. Requests are serialized; each is
// answered at once (the broker never blocks on the network for a request).
type Client struct {
	mu sync.Mutex
	fd int
}

// NewClient wraps the kernel's end of the channel (a SOCK_SEQPACKET socket).
func NewClient(fd int) *Client { return &Client{fd: fd} }

// Do sends req with the given FDs attached (the socket, then for a loopback connect the
// sandbox's listener it names) and returns the reply and the FD the broker donated with it
// (-1: none; the caller owns it). A broken channel is ENETDOWN.
func (c *Client) Do(req Request, fds ...int) (Reply, int, error) {
	rep, got, err := c.DoN(req, fds...)
	for _, f := range got[min(1, len(got)):] {
		unix.Close(f)
	}
	if len(got) == 0 {
		return rep, -1, err
	}
	return rep, got[0], err
}

// DoN is Do for requests answered with several FDs (OpSocket with a count).
func (c *Client) DoN(req Request, fds ...int) (Reply, []int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(c.fd, req.Encode(), oob, nil, 0); err != nil {
		return Reply{}, nil, unix.ENETDOWN
	}
	buf := make([]byte, ReplySize)
	cmsg := make([]byte, unix.CmsgSpace(4*MaxBatch))
	n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, cmsg, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return Reply{}, nil, unix.ENETDOWN
	}
	var got []int
	if msgs, err := unix.ParseSocketControlMessage(cmsg[:oobn]); err == nil {
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil {
				got = append(got, fds...)
			}
		}
	}
	rep, ok := DecodeReply(buf[:n])
	if !ok {
		for _, f := range got {
			unix.Close(f)
		}
		return Reply{}, nil, unix.ENETDOWN
	}
	return rep, got, nil
}
