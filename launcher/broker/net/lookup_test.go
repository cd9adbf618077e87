package net

import (
	"encoding/binary"
	gonet "net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// fakeDNS answers A queries from records on a loopback UDP port of the test's own; other
// queries get an empty answer. It counts the queries it answered.
func fakeDNS(t *testing.T, records map[string]string) (netip.AddrPort, *atomic.Int64) {
	t.Helper()
	c, err := gonet.ListenUDP("udp4", &gonet.UDPAddr{IP: gonet.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	n := new(atomic.Int64)
	go func() {
		buf := make([]byte, 512)
		for {
			l, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			name, end, ok := dnsQuestion(buf[:l])
			if !ok {
				continue
			}
			n.Add(1)
			r := append([]byte(nil), buf[:end]...)
			r[2], r[3] = 0x81, 0x80
			clear(r[6:12])
			typ := binary.BigEndian.Uint16(buf[end-4:])
			if a, ok := records[name]; ok && typ == 1 {
				binary.BigEndian.PutUint16(r[6:], 1)
				ip := netip.MustParseAddr(a).As4()
				r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				r = append(r, ip[:]...)
			}
			c.WriteToUDP(r, from)
		}
	}()
	return netip.MustParseAddrPort(c.LocalAddr().String()), n
}

// TestNameRulesOfListenAndHost: a listen or host rule naming a host covers exactly the
// addresses the name resolves to for the broker (hosts file, then the nameservers), whether
// or not the sandbox asked its resolver first; other addresses and ports stay refused.
func TestNameRulesOfListenAndHost(t *testing.T) {
	dns, queries := fakeDNS(t, map[string]string{"printer.test": "127.0.0.1", "here.test": "192.0.2.10", "all.test": "0.0.0.0"})
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("# test\n127.0.0.2 cups.test cups # the spooler\n"), 0o644)
	pol := Policy{Mode: ModeFiltered, Upstreams: []netip.AddrPort{dns}, HostsFile: hosts,
		Host: []Rule{{Name: "printer.test", Ports: []PortRange{{631, 631}}}, {Name: "cups.test", Ports: []PortRange{{632, 632}}},
			{Name: "*.test", Ports: []PortRange{{700, 700}}}},
		Listen: []Rule{{Name: "here.test", Ports: []PortRange{{8080, 8080}}}, {Name: "all.test", Ports: []PortRange{{9000, 9000}}}}}
	b := New(pol, nil)
	for _, tc := range []struct {
		dst  string
		want bool
	}{
		{"127.0.0.1:631", true},
		{"127.0.0.1:632", false},
		{"127.0.0.9:631", false},
		{"127.0.0.2:632", true},
		{"127.0.0.1:700", false}, // a wildcard matches only what the sandbox's resolver answered
	} {
		if v := b.checkConnect(netip.MustParseAddrPort(tc.dst), -1); v.Allowed != tc.want {
			t.Errorf("connect %s: allowed %v (%s), want %v", tc.dst, v.Allowed, v.Why, tc.want)
		}
	}
	b.pin("lp.test", []netip.Addr{netip.MustParseAddr("127.0.0.1")})
	if v := b.checkConnect(netip.MustParseAddrPort("127.0.0.1:700"), -1); !v.Allowed {
		t.Errorf("connect to a pinned name under a wildcard host rule refused: %s", v.Why)
	}
	for _, tc := range []struct {
		local string
		want  bool
	}{
		{"192.0.2.10:8080", true},
		{"192.0.2.11:8080", false},
		{"192.0.2.10:8081", false},
		{"0.0.0.0:8080", false}, // every address, not the named one
		{"0.0.0.0:9000", false}, // a name never grants the unspecified address
	} {
		if v := b.pol.CheckListen(netip.MustParseAddrPort(tc.local), true); v.Allowed != tc.want {
			t.Errorf("listen %s: allowed %v (%s), want %v", tc.local, v.Allowed, v.Why, tc.want)
		}
	}
	before := queries.Load()
	b.checkConnect(netip.MustParseAddrPort("127.0.0.1:631"), -1)
	if queries.Load() != before {
		t.Errorf("a name looked up again within %v", lookupTTL)
	}
}
