package inet

import (
	"net/netip"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
)

// Iface is a network interface as the sandbox sees it: lo (its private loopback) and, when
// the profile grants a network, eth0 carrying the host's addresses (what getsockname shows
// on connections through the broker).
type Iface struct {
	Index int
	Name  string
	// Flags are IFF_* flags; MTU the link MTU.
	Flags uint32
	MTU   uint32
	// HW is the link address (all zero for lo).
	HW    [6]byte
	Addrs []netip.Prefix
}

// ZoneEth0 is the zone of a link-local address scoped to eth0 (sin6_scope_id its index).
const ZoneEth0 = netproto.ZoneEth0

// IFF_* flags (<linux/if.h>).
const (
	IffUp        = 0x1
	IffBroadcast = 0x2
	IffLoopback  = 0x8
	IffRunning   = 0x40
	IffMulticast = 0x1000
	IffLowerUp   = 0x10000
)

// SetAddrs sets eth0's addresses (none: the sandbox has only lo, as in network mode none).
func (st *Stack) SetAddrs(addrs []netip.Prefix) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.addrs = append([]netip.Prefix(nil), addrs...)
}

// Interfaces lists the sandbox's interfaces, lo first.
func (st *Stack) Interfaces() []Iface {
	st.mu.Lock()
	addrs := st.addrs
	st.mu.Unlock()
	out := []Iface{{Index: 1, Name: "lo", Flags: IffUp | IffLoopback | IffRunning | IffLowerUp, MTU: 65536,
		Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}}}
	if len(addrs) > 0 {
		out = append(out, Iface{Index: 2, Name: "eth0", Flags: IffUp | IffBroadcast | IffRunning | IffMulticast | IffLowerUp,
			MTU: 1500, HW: [6]byte{0x02, 0x53, 0x42, 0x58, 0x00, 0x01}, Addrs: addrs})
	}
	return out
}

// Bytes returns the data the sandbox moved on its private loopback and through the broker
// (received, sent), for /proc/net/dev.
func (st *Stack) Bytes() (loIn, loOut, extIn, extOut uint64) {
	return st.loIn.Load(), st.loOut.Load(), st.extIn.Load(), st.extOut.Load()
}

// addIn and addOut count n bytes received or sent by s.
func (s *Socket) addIn(n int) {
	s.bytesIn.Add(uint64(n))
	s.mu.Lock()
	loop := s.loop
	s.mu.Unlock()
	if loop {
		s.st.loIn.Add(uint64(n))
	} else {
		s.st.extIn.Add(uint64(n))
	}
}

func (s *Socket) addOut(n int) {
	s.bytesOut.Add(uint64(n))
	s.mu.Lock()
	loop := s.loop
	s.mu.Unlock()
	if loop {
		s.st.loOut.Add(uint64(n))
	} else {
		s.st.extOut.Add(uint64(n))
	}
}
