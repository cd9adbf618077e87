package syscalls

import (
	"encoding/binary"
	"net/netip"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/sock"
	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/net/netlink"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"golang.org/x/sys/unix"
)

// The interface ioctls (netdevice(7)) any socket answers, about the sandbox's own
// interfaces (lo, and eth0 when it has a network): what if_nametoindex, if_indextoname and
// older tools (ifconfig, SIOCGIFCONF users) ask. Setting anything needs CAP_NET_ADMIN in the
// sandbox's network namespace, which nothing in it has: EPERM.
const (
	siocgifname    = 0x8910
	siocgifconf    = 0x8912
	siocgifflags   = 0x8913
	siocsifflags   = 0x8914
	siocgifaddr    = 0x8915
	siocsifaddr    = 0x8916
	siocgifnetmask = 0x891b
	siocgifmtu     = 0x8921
	siocsifmtu     = 0x8922
	siocgifhwaddr  = 0x8927
	siocgifindex   = 0x8933

	ifreqSize      = 40 // struct ifreq: ifr_name[IFNAMSIZ] and a 24-byte union
	ifnamsiz       = 16
	arphrdEther    = 1
	arphrdLoopback = 772
)

// isSocket reports whether fd is a socket of any family, and whether it is an AF_INET one
// (the IPv4 address ioctls are devinet's, which only AF_INET sockets reach).
func isSocket(fd *vfs.FileDescription) (socket, inet4 bool) {
	switch f := fd.Impl().(type) {
	case *sock.Socket, *netlink.Socket:
		return true, false
	case *inet.Socket:
		return true, f.Family == unix.AF_INET
	}
	return false, false
}

// ifIoctl handles the interface ioctls on a socket; handled is false for any other request.
func ifIoctl(t *kernel.Task, cmd uint32, arg uint64, inet4 bool) (handled bool, r uint64, err error) {
	if (cmd == siocgifaddr || cmd == siocgifnetmask || cmd == siocsifaddr) && !inet4 {
		return false, 0, nil
	}
	switch cmd {
	case siocsifflags, siocsifaddr, siocsifmtu:
		return true, 0, unix.EPERM
	case siocgifconf:
		return true, 0, ifConf(t, arg)
	case siocgifname, siocgifflags, siocgifaddr, siocgifnetmask, siocgifmtu, siocgifhwaddr, siocgifindex:
	default:
		return false, 0, nil
	}
	req := make([]byte, ifreqSize)
	if _, err := t.CopyIn(arg, req); err != nil {
		return true, 0, unix.EFAULT
	}
	ifs := t.Kernel().Net.Interfaces()
	var ifc *inet.Iface
	if cmd == siocgifname {
		idx := int32(binary.LittleEndian.Uint32(req[16:]))
		for i := range ifs {
			if int32(ifs[i].Index) == idx {
				ifc = &ifs[i]
			}
		}
	} else {
		name := req[:ifnamsiz]
		if n := indexByte(name, 0); n >= 0 {
			name = name[:n]
		}
		for i := range ifs {
			if ifs[i].Name == string(name) {
				ifc = &ifs[i]
			}
		}
	}
	if ifc == nil {
		return true, 0, unix.ENODEV
	}
	u := req[ifnamsiz:]
	switch cmd {
	case siocgifname:
		clear(req[:ifnamsiz])
		copy(req[:ifnamsiz-1], ifc.Name)
	case siocgifindex:
		binary.LittleEndian.PutUint32(u, uint32(ifc.Index))
	case siocgifflags:
		binary.LittleEndian.PutUint16(u, uint16(ifc.Flags)) // ifr_flags is a short
	case siocgifmtu:
		binary.LittleEndian.PutUint32(u, ifc.MTU)
	case siocgifhwaddr:
		clear(u[:16])
		typ := uint16(arphrdEther)
		if ifc.Flags&inet.IffLoopback != 0 {
			typ = arphrdLoopback
		}
		binary.LittleEndian.PutUint16(u, typ)
		copy(u[2:], ifc.HW[:])
	case siocgifaddr, siocgifnetmask:
		p, ok := firstV4(ifc)
		if !ok {
			return true, 0, unix.EADDRNOTAVAIL
		}
		a := p.Addr()
		if cmd == siocgifnetmask {
			var mask [4]byte
			for i := range p.Bits() {
				mask[i/8] |= 0x80 >> (i % 8)
			}
			a = netip.AddrFrom4(mask)
		}
		putSockaddrV4(u, a)
	}
	if _, err := t.CopyOut(arg, req); err != nil {
		return true, 0, unix.EFAULT
	}
	return true, 0, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// firstV4 is an interface's first IPv4 address.
func firstV4(ifc *inet.Iface) (netip.Prefix, bool) {
	for _, p := range ifc.Addrs {
		if p.Addr().Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// putSockaddrV4 writes a struct sockaddr_in for a into b[:16].
func putSockaddrV4(b []byte, a netip.Addr) {
	clear(b[:16])
	binary.LittleEndian.PutUint16(b, unix.AF_INET)
	v := a.As4()
	copy(b[4:8], v[:])
}

// ifConf implements SIOCGIFCONF: struct ifconf {int ifc_len; char *ifc_buf} lists one
// ifreq (name and IPv4 address) per interface with an IPv4 address; a NULL buffer asks for
// the length needed.
func ifConf(t *kernel.Task, arg uint64) error {
	hdr := make([]byte, 16)
	if _, err := t.CopyIn(arg, hdr); err != nil {
		return unix.EFAULT
	}
	room := int(int32(binary.LittleEndian.Uint32(hdr)))
	buf := binary.LittleEndian.Uint64(hdr[8:])
	var out []byte
	for _, ifc := range t.Kernel().Net.Interfaces() {
		p, ok := firstV4(&ifc)
		if !ok {
			continue
		}
		r := make([]byte, ifreqSize)
		copy(r[:ifnamsiz-1], ifc.Name)
		putSockaddrV4(r[ifnamsiz:], p.Addr())
		out = append(out, r...)
	}
	if buf == 0 {
		binary.LittleEndian.PutUint32(hdr, uint32(len(out)))
	} else {
		if room < 0 {
			return unix.EINVAL
		}
		n := min(room/ifreqSize*ifreqSize, len(out))
		if _, err := t.CopyOut(buf, out[:n]); err != nil {
			return unix.EFAULT
		}
		binary.LittleEndian.PutUint32(hdr, uint32(n))
	}
	if _, err := t.CopyOut(arg, hdr[:4]); err != nil {
		return unix.EFAULT
	}
	return nil
}
