package netproto

import (
	"encoding/binary"
	"sync"

	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// Client is the kernel's end of the broker channel. Requests are serialized; each is
// answered at once (the broker never blocks on the network for a request). A request costs
// the two messages and nothing else: the buffers are the client's own, reused under mu.
type Client struct {
	mu sync.Mutex
	fd int
	// req, rep and oob are the message buffers. protected by mu
	req [RequestSize]byte
	rep [ReplySize]byte
	oob [rightsSpace]byte
}

// rightsSpace is CMSG_SPACE of one SCM_RIGHTS message of MaxBatch FDs.
const rightsSpace = abi.SizeofCmsghdr + 4*MaxBatch

// NewClient wraps the kernel's end of the channel (a SOCK_SEQPACKET socket).
func NewClient(fd int) *Client { return &Client{fd: fd} }

// Do sends req with the given FDs attached (the socket, then for a loopback connect the
// sandbox's listener it names) and returns the reply and the FD the broker donated with it
// (-1: none; the caller owns it). A broken channel is ENETDOWN.
func (c *Client) Do(req Request, fds ...int) (Reply, int, error) {
	var got [MaxBatch]int
	rep, n, err := c.do(req, fds, got[:])
	for _, f := range got[min(1, n):n] {
		unix.Close(f)
	}
	if n == 0 {
		return rep, -1, err
	}
	return rep, got[0], err
}

// DoN is Do for requests answered with several FDs (OpSocket with a count).
func (c *Client) DoN(req Request, fds ...int) (Reply, []int, error) {
	got := make([]int, MaxBatch)
	rep, n, err := c.do(req, fds, got)
	return rep, got[:n], err
}

// do makes one exchange, storing the donated FDs in got (at most len(got); more are closed)
// and returning how many. The request carries the calling thread's CPU (see Request.CPU).
func (c *Client) do(req Request, fds []int, got []int) (Reply, int, error) {
	req.CPU = currentCPU()
	c.mu.Lock()
	defer c.mu.Unlock()
	req.encode(c.req[:])
	var oob []byte
	if len(fds) > 0 {
		if len(fds) > MaxBatch {
			return Reply{}, 0, unix.EINVAL
		}
		oob = c.oob[:PutRights(c.oob[:], fds)]
	}
	if err := unix.Sendmsg(c.fd, c.req[:], oob, nil, 0); err != nil {
		return Reply{}, 0, unix.ENETDOWN
	}
	n, oobn, _, _, err := unix.Recvmsg(c.fd, c.rep[:], c.oob[:], unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return Reply{}, 0, unix.ENETDOWN
	}
	k := GetRights(c.oob[:oobn], got)
	rep, ok := DecodeReply(c.rep[:n])
	if !ok {
		for _, f := range got[:k] {
			unix.Close(f)
		}
		return Reply{}, 0, unix.ENETDOWN
	}
	return rep, k, nil
}

// PutRights writes an SCM_RIGHTS control message carrying fds into b (at least
// abi.CmsgSpace(4*len(fds)) bytes) and returns its length, CMSG_SPACE.
func PutRights(b []byte, fds []int) int {
	h := abi.Cmsghdr{Len: uint64(abi.CmsgLen(4 * len(fds))), Level: unix.SOL_SOCKET, Type: unix.SCM_RIGHTS}
	h.Encode(b)
	for i, f := range fds {
		binary.LittleEndian.PutUint32(b[abi.SizeofCmsghdr+4*i:], uint32(f))
	}
	n := abi.CmsgSpace(4 * len(fds))
	clear(b[abi.CmsgLen(4*len(fds)):n])
	return n
}

// GetRights stores the FDs of the SCM_RIGHTS messages in the control data b into got and
// returns how many; FDs beyond len(got) are closed.
func GetRights(b []byte, got []int) int {
	n := 0
	for len(b) >= abi.SizeofCmsghdr {
		var h abi.Cmsghdr
		h.Decode(b)
		if h.Len < abi.SizeofCmsghdr || h.Len > uint64(len(b)) {
			break
		}
		l := int(h.Len)
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_RIGHTS {
			for d := b[abi.SizeofCmsghdr:l]; len(d) >= 4; d = d[4:] {
				f := int(int32(binary.LittleEndian.Uint32(d)))
				if n < len(got) {
					got[n] = f
					n++
				} else {
					unix.Close(f)
				}
			}
		}
		b = b[min(abi.CmsgAlign(l), len(b)):]
	}
	return n
}
