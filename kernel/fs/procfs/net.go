package procfs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/sbx-dev/sbx/kernel/fs/sock"
	"github.com/sbx-dev/sbx/kernel/net/inet"
)

// /proc/net: the sandbox's own sockets and interfaces (kernel/net/inet), never the host's.

func (p *proc) netDir() *dirNode {
	files := []entry{
		{"tcp", p.static("/net/tcp", func() string { return p.sockTable("tcp") })},
		{"tcp6", p.static("/net/tcp6", func() string { return p.sockTable("tcp6") })},
		{"udp", p.static("/net/udp", func() string { return p.sockTable("udp") })},
		{"udp6", p.static("/net/udp6", func() string { return p.sockTable("udp6") })},
		{"dev", p.static("/net/dev", p.netDev)},
		{"if_inet6", p.static("/net/if_inet6", p.ifInet6)},
		{"route", p.static("/net/route", p.route)},
		{"unix", p.static("/net/unix", p.unixTable)},
	}
	return &dirNode{node: node{boot: p.k.Start, path: "/net"}, list: func() []entry { return files }}
}

// hexAddr is an address as /proc/net/tcp{,6} prints it: each 32-bit word of the address in
// network order, printed as the host (little-endian) number it reads as.
func hexAddr(a netip.Addr, v6 bool) string {
	var b []byte
	if v6 {
		x := a.As16()
		b = x[:]
	} else {
		x := a.Unmap().As4()
		b = x[:]
	}
	var s strings.Builder
	for i := 0; i+4 <= len(b); i += 4 {
		fmt.Fprintf(&s, "%08X", binary.LittleEndian.Uint32(b[i:]))
	}
	return s.String()
}

// TCP states as /proc/net/tcp numbers them.
var tcpStates = map[string]int{"established": 1, "connecting": 2, "listen": 10, "bound": 7, "open": 7}

func (p *proc) sockTable(proto string) string {
	v6 := strings.HasSuffix(proto, "6")
	var b strings.Builder
	if v6 {
		b.WriteString("  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	} else {
		b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	}
	conns := p.k.Net.Conns()
	sort.Slice(conns, func(i, j int) bool { return conns[i].Local.Compare(conns[j].Local) < 0 })
	i := 0
	for _, c := range conns {
		if c.Proto != proto {
			continue
		}
		remote := c.Remote
		if !remote.IsValid() {
			if v6 {
				remote = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
			} else {
				remote = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
			}
		}
		st := tcpStates[c.State]
		if !strings.HasPrefix(proto, "tcp") && c.State == "established" {
			st = 1
		}
		fmt.Fprintf(&b, "%4d: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0\n",
			i, hexAddr(c.Local.Addr(), v6), c.Local.Port(), hexAddr(remote.Addr(), v6), remote.Port(), st, c.UID, c.Inode)
		i++
	}
	return b.String()
}

func (p *proc) netDev() string {
	loIn, loOut, extIn, extOut := p.k.Net.Bytes()
	var b strings.Builder
	b.WriteString("Inter-|   Receive                                                |  Transmit\n")
	b.WriteString(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
	for _, ifc := range p.k.Net.Interfaces() {
		in, out := extIn, extOut
		if ifc.Flags&inet.IffLoopback != 0 {
			in, out = loIn, loOut
		}
		fmt.Fprintf(&b, "%6s: %7d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n",
			ifc.Name, in, 0, 0, 0, 0, 0, 0, 0, out, 0, 0, 0, 0, 0, 0, 0)
	}
	return b.String()
}

func (p *proc) ifInet6() string {
	var b strings.Builder
	for _, ifc := range p.k.Net.Interfaces() {
		for _, a := range ifc.Addrs {
			if !a.Addr().Is6() {
				continue
			}
			scope := 0x00
			switch {
			case a.Addr().IsLoopback():
				scope = 0x10
			case a.Addr().IsLinkLocalUnicast():
				scope = 0x20
			}
			raw := a.Addr().As16()
			fmt.Fprintf(&b, "%x %02x %02x %02x %02x %8s\n", raw[:], ifc.Index, a.Bits(), scope, 0x80, ifc.Name)
		}
	}
	return b.String()
}

func (p *proc) route() string {
	var b strings.Builder
	row := func(s string) { fmt.Fprintf(&b, "%-127s\n", s) }
	row("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT")
	for _, ifc := range p.k.Net.Interfaces() {
		if ifc.Flags&inet.IffLoopback != 0 {
			continue
		}
		first := true
		for _, a := range ifc.Addrs {
			if !a.Addr().Is4() {
				continue
			}
			if first {
				row(fmt.Sprintf("%s\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0", ifc.Name))
				first = false
			}
			mask := netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), a.Bits()).Masked().Addr()
			row(fmt.Sprintf("%s\t%s\t00000000\t0001\t0\t0\t0\t%s\t0\t0\t0", ifc.Name, hexAddr(a.Masked().Addr(), false), hexAddr(mask, false)))
		}
	}
	return b.String()
}

// unixTable is /proc/net/unix: the sandbox's AF_UNIX sockets, those its processes hold (a
// socket only in flight in an SCM_RIGHTS message is not listed), in inode order. Kernel
// addresses show as zeros, as to a reader without CAP_SYSLOG.
func (p *proc) unixTable() string {
	type row struct {
		ino                  uint64
		typ                  int
		listening, connected bool
		name                 string
	}
	seen := map[*sock.Socket]bool{}
	var rows []row
	for _, tg := range p.k.Groups() {
		fds := tg.FDs()
		if fds == nil {
			continue
		}
		for _, n := range fds.Numbers() {
			fd, _, err := fds.Get(n)
			if err != nil {
				continue
			}
			if s, ok := fd.Impl().(*sock.Socket); ok && !seen[s] {
				seen[s] = true
				r := row{ino: inoOfFD(fd)}
				r.typ, r.listening, r.connected, r.name = s.ProcInfo()
				rows = append(rows, r)
			}
			fd.DecRef()
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ino < rows[j].ino })
	var b strings.Builder
	b.WriteString("Num       RefCount Protocol Flags    Type St Inode Path\n")
	for _, r := range rows {
		refs, flags, st := 2, 0, 1 // SS_UNCONNECTED
		if r.listening {
			flags = 1 << 16 // __SO_ACCEPTCON
		}
		if r.connected {
			refs, st = 3, 3 // SS_CONNECTED
		}
		fmt.Fprintf(&b, "%016x: %08X %08X %08X %04X %02X %5d", 0, refs, 0, flags, r.typ, st, r.ino)
		if r.name != "" {
			name := r.name
			if name[0] == 0 {
				name = "@" + strings.ReplaceAll(name[1:], "\x00", "@")
			}
			b.WriteString(" " + name)
		}
		b.WriteString("\n")
	}
	return b.String()
}
