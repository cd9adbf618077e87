// Package net is a sandbox's net broker: the only part of a sandbox that creates host
// network sockets. It runs in the launcher (the host's network namespace), checks the
// profile's [network] policy on every connect, bind, listen and datagram destination, and
// hands the kernel connected or listening TCP sockets (the kernel then does their I/O
// directly) or the kernel's end of a datagram relay that checks each destination again.
// The wire is kernel/net/netproto. Nothing the kernel sends can widen the policy: a bug in
// the kernel reaches at most what the profile allows.
package net

import (
	"fmt"
	"net/netip"
)

// Modes of a policy.
const (
	ModeNone     = "none"
	ModeFiltered = "filtered"
	ModeFull     = "full"
)

// PortRange is an inclusive port range.
type PortRange struct{ Lo, Hi uint16 }

// Rule is an address prefix with optional port ranges (none: every port).
type Rule struct {
	Prefix netip.Prefix
	Ports  []PortRange
	// Text is the rule as the profile wrote it (shown in denials).
	Text string
}

func (r Rule) matches(a netip.AddrPort) bool {
	if !r.Prefix.Contains(a.Addr().Unmap()) && !r.Prefix.Contains(a.Addr()) {
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
	// Resolvers are the host's DNS servers (port 53), reachable when the profile sets
	// dns = true whatever the other rules say.
	Resolvers []netip.Addr
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
func (p *Policy) CheckConnect(dst netip.AddrPort) Verdict {
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	a := dst.Addr()
	if dst.Port() == 53 {
		for _, r := range p.Resolvers {
			if r.Unmap() == a {
				return Verdict{Allowed: true, Why: "dns"}
			}
		}
	}
	if a.IsUnspecified() {
		return Verdict{Why: "the unspecified address"}
	}
	if IsLoopback(a) {
		for _, r := range p.Host {
			if r.matches(dst) {
				return Verdict{Allowed: true, Why: "host " + r.String()}
			}
		}
		return Verdict{Why: "the host's loopback (name it in [network] host to allow)"}
	}
	if p.Mode == ModeNone || p.Mode == "" {
		return Verdict{Why: "network mode none"}
	}
	for _, r := range p.Deny {
		if r.matches(dst) {
			return Verdict{Why: "deny " + r.String()}
		}
	}
	for _, r := range p.Allow {
		if r.matches(dst) {
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
	return Verdict{Why: "no allow rule matches"}
}

// CheckListen decides whether the sandbox may bind to (and serve on) local. Port 0 on a
// bind is an ephemeral port for a client and always allowed; listening needs a rule.
func (p *Policy) CheckListen(local netip.AddrPort, listening bool) Verdict {
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	if local.Port() == 0 && !listening {
		return Verdict{Allowed: true, Why: "an ephemeral port"}
	}
	for _, r := range p.Listen {
		// A rule on the unspecified address (0.0.0.0, ::) covers every local address.
		if r.matches(local) || (r.Prefix.Addr().IsUnspecified() && r.matches(netip.AddrPortFrom(r.Prefix.Addr(), local.Port()))) {
			return Verdict{Allowed: true, Why: "listen " + r.String()}
		}
	}
	return Verdict{Why: fmt.Sprintf("no listen rule for %s", local)}
}
