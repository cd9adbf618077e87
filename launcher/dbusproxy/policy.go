// Package dbusproxy is the D-Bus filtering proxy of a sandbox: it listens on the socket the
// app sees as its session bus, authenticates to the real bus as the user, parses every
// message in both directions (godbus's wire code) and forwards only what the profile's
// [dbus] policy allows. Replies reach only the connection that made the call; names the app
// may not see never appear in replies or signals; eavesdropping and monitoring are refused.
package dbusproxy

import (
	"strings"
)

// Policy is a bus policy: names the app may see, talk to and own (a trailing ".*" matches
// the name and every name below it), and single methods (Call) and signals (Broadcast) as
// "name=interface.member@/path" rules with "*" wildcards.
type Policy struct {
	See, Talk, Own  []string
	Call, Broadcast []string
}

// level is what the app may do with a name.
type level int

const (
	levelNone level = iota
	levelSee
	levelTalk
	levelOwn
)

func nameMatches(pattern, name string) bool {
	if base, ok := strings.CutSuffix(pattern, ".*"); ok {
		return name == base || strings.HasPrefix(name, base+".")
	}
	return pattern == name
}

func (p *Policy) level(name string) level {
	l := levelNone
	for _, set := range []struct {
		names []string
		l     level
	}{{p.See, levelSee}, {p.Talk, levelTalk}, {p.Own, levelOwn}} {
		for _, pat := range set.names {
			if nameMatches(pat, name) && set.l > l {
				l = set.l
			}
		}
	}
	return l
}

// rule is a parsed call/broadcast rule.
type rule struct{ name, iface, member, path string }

func parseRule(s string) rule {
	var r rule
	r.name, s, _ = strings.Cut(s, "=")
	if s == "" {
		s = "*"
	}
	method, path, hasPath := strings.Cut(s, "@")
	if !hasPath {
		path = "*"
	}
	r.path = path
	if i := strings.LastIndexByte(method, '.'); i >= 0 {
		r.iface, r.member = method[:i], method[i+1:]
	} else {
		r.iface, r.member = "*", method
	}
	return r
}

func globMatch(pat, s string) bool {
	if pat == "*" || pat == "" {
		return true
	}
	if base, ok := strings.CutSuffix(pat, "*"); ok {
		return strings.HasPrefix(s, base)
	}
	return pat == s
}

func (r rule) matches(name, iface, member, path string) bool {
	return nameMatches(r.name, name) && globMatch(r.iface, iface) && globMatch(r.member, member) && globMatch(r.path, path)
}

func (p *Policy) callAllowed(name, iface, member, path string) bool {
	for _, s := range p.Call {
		if parseRule(s).matches(name, iface, member, path) {
			return true
		}
	}
	return false
}

func (p *Policy) broadcastAllowed(iface, member, path string) bool {
	for _, s := range p.Broadcast {
		r := parseRule(s)
		if globMatch(r.iface, iface) && globMatch(r.member, member) && globMatch(r.path, path) {
			return true
		}
	}
	return false
}

// eavesdropRequested reports a match rule asking for eavesdropping, in any spelling.
func eavesdropRequested(rule string) bool {
	squeezed := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\'' || r == '"' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, strings.ToLower(rule))
	return strings.Contains(squeezed, "eavesdrop=")
}
