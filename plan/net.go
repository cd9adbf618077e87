package plan

import (
	"net"
	"net/netip"
	"os"
	"strings"

	netbroker "github.com/sbx-dev/sbx/launcher/broker/net"
	"github.com/sbx-dev/sbx/profiles"
	"golang.org/x/sys/unix"
)

// netPolicy is the net broker's policy for a profile's [network] section.
func netPolicy(n profiles.Network) netbroker.Policy {
	rules := func(in []profiles.NetRule) []netbroker.Rule {
		out := make([]netbroker.Rule, 0, len(in))
		for _, r := range in {
			nr := netbroker.Rule{Prefix: r.Prefix, Name: r.Name, Text: r.String()}
			for _, pr := range r.Ports {
				nr.Ports = append(nr.Ports, netbroker.PortRange{Lo: pr.Lo, Hi: pr.Hi})
			}
			out = append(out, nr)
		}
		return out
	}
	pol := netbroker.Policy{Mode: n.Mode, Allow: rules(n.Allow), Deny: rules(n.Deny), Listen: rules(n.Listen), Host: rules(n.Host)}
	// The host's nameservers: where the sandbox's resolver forwards (dns = true) and where
	// the broker resolves the names of listen and host rules (also with dns = false).
	for _, a := range hostResolvers("/etc/resolv.conf") {
		pol.Upstreams = append(pol.Upstreams, netip.AddrPortFrom(a, 53))
	}
	if n.DNS {
		pol.Resolver = sandboxResolver
	}
	return pol
}

// sandboxResolver is where the sandbox's /etc/resolv.conf points: the net broker answers there.
var sandboxResolver = netip.MustParseAddrPort("127.0.0.53:53")

// resolvConf is the sandbox's /etc/resolv.conf.
func resolvConf(dns bool) string {
	if !dns {
		return "# sbx: no resolver ([network] dns = false)\n"
	}
	return "# sbx: the sandbox's resolver, served by its net broker ([network] rules apply)\nnameserver " +
		sandboxResolver.Addr().String() + "\noptions edns0\n"
}

// hostResolvers reads the nameservers of a resolv.conf (the sandbox sees the host's /etc, so
// its resolver library asks the same servers).
func hostResolvers(path string) []netip.Addr {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.Zone() == "" {
				out = append(out, a)
			}
		}
	}
	return out
}

// memoryLimit is the sandbox's memory limit: the profile's [resources] memory, or half of
// the host's RAM when the profile sets none, so that no sandbox can take the host's memory
// from under the user's other programs (and the host's OOM killer never has to choose).
func memoryLimit(profile uint64) int64 {
	if profile != 0 {
		return int64(min(profile, 1<<62))
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(uint64(si.Totalram) * uint64(si.Unit) / 2)
}

// HostAddrs returns the host's global and private unicast addresses with their prefix
// lengths: what the sandbox's eth0 shows (connections through the broker come from them).
func HostAddrs() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []string
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if !ip.IsGlobalUnicast() {
				continue
			}
			bits, _ := ipn.Mask.Size()
			out = append(out, netip.PrefixFrom(ip, bits).String())
		}
	}
	return out
}
