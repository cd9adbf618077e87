// Package net is a sandbox's net broker: the only part of a sandbox that creates host
// network sockets. It runs in the launcher and makes its sockets in the launcher's network
// namespace (the host's), or in an OCI container's (EnterNamespace); it checks the
// profile's [network] policy on every connect, bind, listen and datagram destination, and
// hands the kernel connected or listening TCP sockets (the kernel then does their I/O
// directly) or the kernel's end of a datagram relay that checks each destination again.
// The wire is kernel/net/netproto. Nothing the kernel sends can widen the policy: a bug in
// the kernel reaches at most what the profile allows.
package net

import (
	"fmt"
	"net/netip"
	"strings"
)

// Modes of a policy.
const (
	ModeNone     = "none"
	ModeFiltered = "filtered"
	ModeFull     = "full"
)

// PortRange is an inclusive port range.
type PortRange struct{ Lo, Hi uint16 }

// Rule is an address prefix, or a host name pattern ("example.com", "*.example.com": the
// addresses this sandbox's resolver answered for a matching name), with optional port
// ranges (none: every port).
type Rule struct {
	Prefix netip.Prefix
	Name   string
	Ports  []PortRange
	// Text is the rule as the profile wrote it (shown in denials).
	Text string
}

// NameMatches reports whether host name n (lower case, no trailing dot) matches pattern p.
func NameMatches(p, n string) bool {
	if rest, ok := strings.CutPrefix(p, "*."); ok {
		return strings.HasSuffix(n, "."+rest)
	}
	return p == n
}

// matchesNamed is matches for a destination known by names (those it was resolved for).
func (r Rule) matchesNamed(a netip.AddrPort, names []string) bool {
	if r.Name == "" {
		return r.matches(a)
	}
	for _, n := range names {
		if NameMatches(r.Name, n) {
			return r.portOK(a.Port())
		}
	}
	return false
}

func (r Rule) portOK(port uint16) bool {
	if len(r.Ports) == 0 {
		return true
	}
	for _, p := range r.Ports {
		if port >= p.Lo && port <= p.Hi {
			return true
		}
	}
	return false
}

func (r Rule) matches(a netip.AddrPort) bool {
	if r.Name != "" || !r.Prefix.Contains(a.Addr().Unmap()) && !r.Prefix.Contains(a.Addr()) {
		return false
	}
	if len(r.Ports) == 0 {
		return true
	}
	for _, p := range r.Ports {
		if a.Port() >= p.Lo && a.Port() <= p.Hi {
			return true
		}
	}
	return false
}

func (r Rule) String() string {
	if r.Text != "" {
		return r.Text
	}
	return r.Prefix.String()
}

// Policy is the [network] section as the broker applies it.
type Policy struct {
	Mode  string
	Allow []Rule
	Deny  []Rule
	// Listen are the local addresses the sandbox may serve on (bind to a fixed port, listen).
	Listen []Rule
	// Host are the host's loopback services the sandbox may reach (its own 127.0.0.1 is
	// otherwise the sandbox's private loopback).
	Host []Rule
	// Resolver, when valid, is the sandbox's DNS server address (its /etc/resolv.conf names
	// it): the broker answers queries there itself, forwarding them to Upstreams (the
	// host's nameservers), refusing denied names and remembering what each name resolved to.
	Resolver  netip.AddrPort
	Upstreams []netip.AddrPort
	// HostsFile is the host's hosts(5) file the broker resolves names of listen and host
	// rules with before asking Upstreams ("": /etc/hosts; lookup.go).
	HostsFile string

	// local matches a listen or host rule (the broker's: names resolved by it; nil: only
	// pinned names).
	local func(r Rule, a netip.AddrPort, names []string) bool
}

// matchLocal reports whether listen or host rule r covers a.
func (p *Policy) matchLocal(r Rule, a netip.AddrPort, names []string) bool {
	if p.local != nil {
		return p.local(r, a, names)
	}
	return r.matchesNamed(a, names)
}

// metadata are the cloud metadata addresses mode full still refuses unless named.
var metadata = []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32"), netip.MustParsePrefix("fd00:ec2::254/128")}

// IsLoopback reports whether a is a loopback address (127.0.0.0/8, ::1, or one of them
// IPv4-mapped).
func IsLoopback(a netip.Addr) bool { return a.Unmap().IsLoopback() }

// Verdict is a policy decision: Allowed, or refused with Errno and the rule (or reason) that
// refused.
type Verdict struct {
	Allowed bool
	Why     string
}

// CheckConnect decides whether the sandbox may connect (or send datagrams) to dst.
// ownPort reports whether dst's port is one of this sandbox's own listeners (reachable on
// the host's loopback, as the sandbox reaches its own servers).
// names are the host names this sandbox's resolver answered dst's address for.
func (p *Policy) CheckConnect(dst netip.AddrPort, names ...string) Verdict {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	a := dst.Addr()
	if p.Resolver.IsValid() && dst == p.Resolver {
		return Verdict{Allowed: true, Why: "the sandbox's resolver"}
	}
	if a.IsUnspecified() {
		return Verdict{Why: "the unspecified address"}
	}
	if IsLoopback(a) {
		for _, r := range p.Host {
			if p.matchLocal(r, dst, names) {
				return Verdict{Allowed: true, Why: "host " + r.String()}
			}
		}
		return Verdict{Why: "the host's loopback (name it in [network] host to allow)"}
	}
	if p.Mode == ModeNone || p.Mode == "" {
		return Verdict{Why: "network mode none"}
	}
	for _, r := range p.Deny {
		if r.matchesNamed(dst, names) {
			return Verdict{Why: "deny " + r.String()}
		}
	}
	for _, r := range p.Allow {
		if r.matchesNamed(dst, names) {
			return Verdict{Allowed: true, Why: "allow " + r.String()}
		}
	}
	if p.Mode == ModeFull {
		for _, m := range metadata {
			if m.Contains(a) {
				return Verdict{Why: "the cloud metadata address (name it in [network] allow to reach it)"}
			}
		}
		return Verdict{Allowed: true, Why: "mode full"}
	}
	if len(names) > 0 {
		return Verdict{Why: fmt.Sprintf("no allow rule matches (%s resolved for %s)", a, strings.Join(names, ", "))}
	}
	return Verdict{Why: "no allow rule matches"}
}

// CheckName decides whether the resolver may answer for name: a name a deny rule covers is
// refused (NXDOMAIN).
func (p *Policy) CheckName(name string) Verdict {
	for _, r := range p.Deny {
		if r.Name != "" && NameMatches(r.Name, name) {
			return Verdict{Why: "deny " + r.String()}
		}
	}
	return Verdict{Allowed: true}
}

// CheckListen decides whether the sandbox may bind to (and serve on) local. Port 0 on a
// bind is an ephemeral port for a client and always allowed; listening needs a rule.
// names are the host names this sandbox's resolver answered local's address for.
func (p *Policy) CheckListen(local netip.AddrPort, listening bool, names ...string) Verdict {
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	if local.Port() == 0 && !listening {
		return Verdict{Allowed: true, Why: "an ephemeral port"}
	}
	for _, r := range p.Listen {
		// A rule on the unspecified address (0.0.0.0, ::) covers every local address.
		if p.matchLocal(r, local, names) || (r.Name == "" && r.Prefix.Addr().IsUnspecified() && r.matches(netip.AddrPortFrom(r.Prefix.Addr(), local.Port()))) {
			return Verdict{Allowed: true, Why: "listen " + r.String()}
		}
	}
	return Verdict{Why: fmt.Sprintf("no listen rule for %s", local)}
}
