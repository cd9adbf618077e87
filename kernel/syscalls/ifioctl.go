package syscalls

import (
	"net/netip"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/abi"
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
	req := make([]byte, abi.SizeofIfreq)
	if _, err := t.CopyIn(arg, req); err != nil {
		return true, 0, unix.EFAULT
	}
	var ifr abi.Ifreq
	ifr.Decode(req)
	ifs := t.Group().NetStack().Interfaces()
	var ifc *inet.Iface
	if cmd == siocgifname {
		idx := ifr.Ifindex()
		for i := range ifs {
			if int32(ifs[i].Index) == idx {
				ifc = &ifs[i]
			}
		}
	} else {
		name := ifr.NameString()
		for i := range ifs {
			if ifs[i].Name == name {
				ifc = &ifs[i]
			}
		}
	}
	if ifc == nil {
		return true, 0, unix.ENODEV
	}
	switch cmd {
	case siocgifname:
		ifr.SetName(ifc.Name)
	case siocgifindex:
		ifr.SetIfindex(int32(ifc.Index))
	case siocgifflags:
		ifr.SetFlags(int16(ifc.Flags))
	case siocgifmtu:
		ifr.SetMTU(int32(ifc.MTU))
	case siocgifhwaddr:
		typ := uint16(arphrdEther)
		if ifc.Flags&inet.IffLoopback != 0 {
			typ = arphrdLoopback
		}
		ifr.SetHwaddr(typ, ifc.HW[:])
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
		ifr.SetAddr(&abi.SockaddrIn{Family: unix.AF_INET, Addr: a.As4()})
	}
	ifr.Encode(req)
	if _, err := t.CopyOut(arg, req); err != nil {
		return true, 0, unix.EFAULT
	}
	return true, 0, nil
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

// ifConf implements SIOCGIFCONF: struct ifconf {int ifc_len; char *ifc_buf} lists one
// ifreq (name and IPv4 address) per interface with an IPv4 address; a NULL buffer asks for
// the length needed.
func ifConf(t *kernel.Task, arg uint64) error {
	hdr := make([]byte, abi.SizeofIfconf)
	if _, err := t.CopyIn(arg, hdr); err != nil {
		return unix.EFAULT
	}
	var conf abi.Ifconf
	conf.Decode(hdr)
	var out []byte
	for _, ifc := range t.Group().NetStack().Interfaces() {
		p, ok := firstV4(&ifc)
		if !ok {
			continue
		}
		var r abi.Ifreq
		r.SetName(ifc.Name)
		r.SetAddr(&abi.SockaddrIn{Family: unix.AF_INET, Addr: p.Addr().As4()})
		out = append(out, make([]byte, abi.SizeofIfreq)...)
		r.Encode(out[len(out)-abi.SizeofIfreq:])
	}
	if conf.Buf == 0 {
		conf.Len = int32(len(out))
	} else {
		if conf.Len < 0 {
			return unix.EINVAL
		}
		n := min(int(conf.Len)/abi.SizeofIfreq*abi.SizeofIfreq, len(out))
		if _, err := t.CopyOut(conf.Buf, out[:n]); err != nil {
			return unix.EFAULT
		}
		conf.Len = int32(n)
	}
	conf.Encode(hdr)
	if _, err := t.CopyOut(arg, hdr[:4]); err != nil { // ifc_len only
		return unix.EFAULT
	}
	return nil
}
