package net

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// Name rules of listen and host. An allow or deny rule naming a host matches the addresses
// this sandbox's resolver answered for that name (pinning, dns.go): the app must ask first.
// A listen or host rule names the host's own addresses ("printer.lan:631", "myhost:8080"),
// which apps use directly (127.0.0.1:631) without asking, so the broker resolves such a
// name itself when a check needs it: the host's hosts file, then the same nameservers the
// sandbox's resolver forwards to. Nothing the sandbox does changes that answer, so a name
// rule is never bypassed by connecting to, or binding, an address directly: it matches an
// address exactly when the name resolves to it now (answers are kept for lookupTTL). A
// wildcard ("*.lan") cannot be resolved: it matches only through pinning. The unspecified
// address never comes from a name (binding it would serve on every address).

// lookupTTL is how long the broker keeps the addresses a name of a rule resolved to.
const lookupTTL = 30 * time.Second

type lookupCache struct {
	mu sync.Mutex
	// m maps a name to its addresses and when they were looked up. protected by mu
	m map[string]lookupEntry
}

type lookupEntry struct {
	addrs []netip.Addr
	at    time.Time
}

// ruleAddrs returns the addresses a name rule's name resolves to for the broker.
func (b *Broker) ruleAddrs(name string) []netip.Addr {
	if strings.HasPrefix(name, "*.") {
		return nil
	}
	b.lookups.mu.Lock()
	if e, ok := b.lookups.m[name]; ok && time.Since(e.at) < lookupTTL {
		b.lookups.mu.Unlock()
		return e.addrs
	}
	b.lookups.mu.Unlock()
	addrs := hostsLookup(b.pol.HostsFile, name)
	if len(addrs) == 0 {
		for _, typ := range []uint16{1, 28} { // A, AAAA
			q := dnsQuery(name, typ)
			if q == nil {
				break
			}
			if reply := b.forward(q); reply != nil {
				addrs = append(addrs, dnsAddrs(reply)...)
			}
		}
	}
	out := addrs[:0]
	for _, a := range addrs {
		if a = a.Unmap(); !a.IsUnspecified() {
			out = append(out, a)
		}
	}
	b.lookups.mu.Lock()
	if b.lookups.m == nil {
		b.lookups.m = map[string]lookupEntry{}
	}
	b.lookups.m[name] = lookupEntry{addrs: out, at: time.Now()}
	b.lookups.mu.Unlock()
	return out
}

// hostsLookup returns the addresses a hosts(5) file gives name ("": /etc/hosts).
func hostsLookup(path, name string) []netip.Addr {
	if path == "" {
		path = "/etc/hosts"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil || a.Zone() != "" {
			continue
		}
		for _, n := range f[1:] {
			if strings.EqualFold(strings.TrimSuffix(n, "."), name) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// dnsQuery is a recursive query for name's records of type typ.
func dnsQuery(name string, typ uint16) []byte {
	q := make([]byte, 12, 12+len(name)+6)
	rand.Read(q[:2])
	q[2] = 0x01                          // RD
	binary.BigEndian.PutUint16(q[4:], 1) // one question
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" || len(l) > 63 {
			return nil
		}
		q = append(q, byte(len(l)))
		q = append(q, l...)
	}
	q = append(q, 0)
	q = binary.BigEndian.AppendUint16(q, typ)
	return binary.BigEndian.AppendUint16(q, 1) // class IN
}

// matchesLocal is matches for a listen or host rule: a name rule matches the addresses its
// name resolves to for the broker, or (a wildcard too) the addresses this sandbox's resolver
// answered a matching name for.
func (b *Broker) matchesLocal(r Rule, a netip.AddrPort, names []string) bool {
	if r.Name == "" {
		return r.matches(a)
	}
	if !r.portOK(a.Port()) {
		return false
	}
	if r.matchesNamed(a, names) {
		return true
	}
	for _, x := range b.ruleAddrs(r.Name) {
		if x == a.Addr().Unmap() {
			return true
		}
	}
	return false
}
