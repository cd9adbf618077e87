package abi

import "encoding/binary"

// IFNAMSIZ is the size of an interface name with its NUL (include/uapi/linux/if.h).
const IFNAMSIZ = 16

// Ifreq is struct ifreq of the interface ioctls (netdevice(7), include/uapi/linux/if.h):
// a name, then a union whose arm the ioctl selects; the accessors read and write its arms.
type Ifreq struct {
	Name [IFNAMSIZ]byte `c:"ifr_name"`
	Ifru [24]byte       `c:"ifr_ifru"`
}

// SizeofIfreq is sizeof(struct ifreq).
const SizeofIfreq = 40

// Encode writes r to b[:SizeofIfreq].
func (r *Ifreq) Encode(b []byte) {
	copy(b[:IFNAMSIZ], r.Name[:])
	copy(b[IFNAMSIZ:SizeofIfreq], r.Ifru[:])
}

// Decode reads r from b[:SizeofIfreq].
func (r *Ifreq) Decode(b []byte) {
	copy(r.Name[:], b[:IFNAMSIZ])
	copy(r.Ifru[:], b[IFNAMSIZ:SizeofIfreq])
}

// NameString is ifr_name up to its NUL.
func (r *Ifreq) NameString() string {
	for i, c := range r.Name {
		if c == 0 {
			return string(r.Name[:i])
		}
	}
	return string(r.Name[:])
}

// SetName sets ifr_name to name, NUL-padded (at most IFNAMSIZ-1 bytes of it).
func (r *Ifreq) SetName(name string) {
	clear(r.Name[:])
	copy(r.Name[:IFNAMSIZ-1], name)
}

// Ifindex is the ifr_ifindex arm (an int).
func (r *Ifreq) Ifindex() int32 { return int32(binary.LittleEndian.Uint32(r.Ifru[:])) }

// SetIfindex sets the ifr_ifindex arm.
func (r *Ifreq) SetIfindex(v int32) { binary.LittleEndian.PutUint32(r.Ifru[:], uint32(v)) }

// SetFlags sets the ifr_flags arm (a short).
func (r *Ifreq) SetFlags(v int16) { binary.LittleEndian.PutUint16(r.Ifru[:], uint16(v)) }

// SetMTU sets the ifr_mtu arm (an int).
func (r *Ifreq) SetMTU(v int32) { binary.LittleEndian.PutUint32(r.Ifru[:], uint32(v)) }

// SetHwaddr sets the ifr_hwaddr arm, a struct sockaddr: the ARPHRD_* type as its family
// and the hardware address as its data; the rest of the sockaddr is zeroed.
func (r *Ifreq) SetHwaddr(typ uint16, hw []byte) {
	clear(r.Ifru[:16])
	binary.LittleEndian.PutUint16(r.Ifru[:], typ)
	copy(r.Ifru[2:16], hw)
}

// SetAddr sets an address arm (ifr_addr, ifr_netmask, ...) to an IPv4 address.
func (r *Ifreq) SetAddr(a *SockaddrIn) { a.Encode(r.Ifru[:SizeofSockaddrIn]) }

// Ifconf is struct ifconf of SIOCGIFCONF (netdevice(7)): the buffer's length and address.
type Ifconf struct {
	Len int32  `c:"ifc_len"`
	_   int32  // alignment of the union
	Buf uint64 `c:"ifc_ifcu"`
}

// SizeofIfconf is sizeof(struct ifconf).
const SizeofIfconf = 16

// Encode writes c to b[:SizeofIfconf] (padding zeroed).
func (c *Ifconf) Encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(c.Len))
	binary.LittleEndian.PutUint32(b[4:], 0)
	binary.LittleEndian.PutUint64(b[8:], c.Buf)
}

// Decode reads c from b[:SizeofIfconf].
func (c *Ifconf) Decode(b []byte) {
	c.Len, c.Buf = int32(binary.LittleEndian.Uint32(b[0:])), binary.LittleEndian.Uint64(b[8:])
}
