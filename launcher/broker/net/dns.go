package net

import (
	"encoding/binary"
	gonet "net"
	"net/netip"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/kernel/net/netproto"
)

// The sandbox's resolver: queries the app sends to Policy.Resolver never leave as they are.
// The broker refuses names a deny rule covers (NXDOMAIN, and a denial), forwards the others
// to the host's nameservers, and pins every address an answer holds to the name asked:
// a name rule ("example.com:443") then allows exactly those addresses.

// maxPins bounds the pin table; when full, the oldest half is forgotten.
const maxPins = 8192

type pin struct {
	names []string
	seq   uint64
}

// NamesOf returns the names this sandbox's resolver answered address a for.
func (b *Broker) NamesOf(a netip.Addr) []string { return b.namesOf(a) }

// namesOf returns the names this sandbox's resolver answered address a for.
func (b *Broker) namesOf(a netip.Addr) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.pins[a.Unmap()]; ok {
		return append([]string(nil), p.names...)
	}
	return nil
}

func (b *Broker) pin(name string, addrs []netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pins) >= maxPins {
		cut := b.pinSeq - maxPins/2
		for a, p := range b.pins {
			if p.seq < cut {
				delete(b.pins, a)
			}
		}
	}
	for _, a := range addrs {
		a = a.Unmap()
		b.pinSeq++
		p := b.pins[a]
		if p == nil {
			p = &pin{}
			b.pins[a] = p
		}
		p.seq = b.pinSeq
		found := false
		for _, n := range p.names {
			found = found || n == name
		}
		if !found {
			p.names = append(p.names, name)
		}
	}
}

// isResolver reports whether dst is the sandbox's resolver.
func (b *Broker) isResolver(dst netip.AddrPort) bool {
	return b.pol.Resolver.IsValid() && netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()) == b.pol.Resolver
}

// answer handles one query sent to the resolver by relay r, replying through the relay.
func (b *Broker) answer(r *relay, query []byte) {
	name, end, ok := dnsQuestion(query)
	if !ok {
		return // not a query: dropped, as a server would
	}
	var reply []byte
	if v := b.pol.CheckName(name); !v.Allowed {
		b.onDenial(Denial{Op: "query", Proto: "dns", Addr: name, Why: v.Why})
		reply = dnsError(query[:end], 3) // NXDOMAIN
	} else if reply = b.forward(query); reply == nil {
		reply = dnsError(query[:end], 2) // SERVFAIL
	} else {
		b.pin(name, dnsAddrs(reply))
	}
	buf := make([]byte, netproto.FrameSize+len(reply))
	netproto.PutFrame(buf, netproto.Frame{Addr: b.pol.Resolver})
	copy(buf[netproto.FrameSize:], reply)
	r.kernel.Write(buf)
}

// forward asks the upstream nameservers in turn; nil when none answers.
func (b *Broker) forward(query []byte) []byte {
	for _, up := range b.pol.Upstreams {
		var c *gonet.UDPConn
		var err error
		b.InNamespace(func() { c, err = gonet.DialUDP("udp", nil, gonet.UDPAddrFromAddrPort(up)) })
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Write(query); err == nil {
			buf := make([]byte, netproto.MaxDatagram)
			for {
				n, err := c.Read(buf)
				if err != nil {
					break
				}
				if n >= 12 && n >= 2 && buf[0] == query[0] && buf[1] == query[1] {
					c.Close()
					return buf[:n]
				}
			}
		}
		c.Close()
	}
	return nil
}

// dnsName reads a (possibly compressed) name at off; it returns the name, the offset after
// it in the message, and ok.
func dnsName(msg []byte, off int) (string, int, bool) {
	var labels []string
	end := -1
	for jumps := 0; jumps < 32; {
		if off >= len(msg) {
			return "", 0, false
		}
		l := int(msg[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			return strings.ToLower(strings.Join(labels, ".")), end, true
		case l&0xc0 == 0xc0:
			if off+1 >= len(msg) {
				return "", 0, false
			}
			if end < 0 {
				end = off + 2
			}
			off = int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			jumps++
		case l&0xc0 != 0:
			return "", 0, false
		default:
			if off+1+l > len(msg) {
				return "", 0, false
			}
			labels = append(labels, string(msg[off+1:off+1+l]))
			off += 1 + l
		}
	}
	return "", 0, false
}

// dnsQuestion returns a query's single question name and where the question ends.
func dnsQuestion(msg []byte) (string, int, bool) {
	if len(msg) < 12 || msg[2]&0x80 != 0 || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return "", 0, false
	}
	name, off, ok := dnsName(msg, 12)
	if !ok || off+4 > len(msg) {
		return "", 0, false
	}
	return name, off + 4, true
}

// dnsError answers the query (header and question) with rcode.
func dnsError(q []byte, rcode byte) []byte {
	r := append([]byte(nil), q...)
	r[2] = 0x80 | r[2]&0x79 // QR, keeping opcode and RD
	r[3] = 0x80 | rcode     // RA
	clear(r[6:12])          // no answer, authority or additional records
	return r
}

// dnsAddrs returns the A and AAAA addresses in a response's answer section.
func dnsAddrs(msg []byte) []netip.Addr {
	if len(msg) < 12 {
		return nil
	}
	qd, an := int(binary.BigEndian.Uint16(msg[4:])), int(binary.BigEndian.Uint16(msg[6:]))
	off := 12
	for range qd {
		_, next, ok := dnsName(msg, off)
		if !ok {
			return nil
		}
		off = next + 4
	}
	var out []netip.Addr
	for range an {
		_, next, ok := dnsName(msg, off)
		if !ok || next+10 > len(msg) {
			return out
		}
		typ := binary.BigEndian.Uint16(msg[next:])
		rdlen := int(binary.BigEndian.Uint16(msg[next+8:]))
		rd := next + 10
		if rd+rdlen > len(msg) {
			return out
		}
		switch {
		case typ == 1 && rdlen == 4:
			out = append(out, netip.AddrFrom4([4]byte(msg[rd:rd+4])))
		case typ == 28 && rdlen == 16:
			out = append(out, netip.AddrFrom16([16]byte(msg[rd:rd+16])).Unmap())
		}
		off = rd + rdlen
	}
	return out
}
