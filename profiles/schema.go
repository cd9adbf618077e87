// Package profiles defines what a sandboxed application may touch: TOML profiles found on
// a search path (built-in ones embedded), merged through includes, validated strictly, with
// variables expanded, and resolved into a Profile value the launcher turns into a Plan.
// Parsing touches nothing on the host beyond reading profile files.
package profiles

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Profile is a resolved profile: includes merged, variables expanded, validated.
type Profile struct {
	Name        string
	File        string // the file it was loaded from ("builtin:NAME.toml" for embedded ones)
	Description string
	Includes    []string // every profile merged in, in order
	Binaries    []string
	Filesystem  Filesystem
	Network     Network
	DBus        DBus
	Display     Display
	Audio       Audio
	Env         EnvPolicy
	Resources   Resources
	Kernel      Kernel
	// Sources says which file set each scalar key (and contributed to each list).
	Sources map[string][]string
}

// Home modes.
const (
	HomePrivate  = "private"
	HomeFiltered = "filtered"
	HomeFull     = "full"
)

// Filesystem is the [filesystem] section.
type Filesystem struct {
	Home    string     `json:"home"`
	Allow   []PathRule `json:"allow,omitempty"`
	Deny    []string   `json:"deny,omitempty"`
	Tmpfs   []string   `json:"tmpfs,omitempty"`
	Devices []string   `json:"devices,omitempty"`
}

// PathRule is one allowed host path.
type PathRule struct {
	Path   string `json:"path"`
	Mode   string `json:"mode"` // ro | rw
	Create bool   `json:"create,omitempty"`
}

// Network modes.
const (
	NetNone     = "none"
	NetFiltered = "filtered"
	NetFull     = "full"
)

// Network is the [network] section.
type Network struct {
	Mode  string    `json:"mode"`
	Allow []NetRule `json:"allow,omitempty"`
	Deny  []NetRule `json:"deny,omitempty"`
	// Listen are the local addresses the app may serve on; Host the host's loopback
	// services it may reach (its own loopback is private otherwise).
	Listen []NetRule `json:"listen,omitempty"`
	Host   []NetRule `json:"host,omitempty"`
	DNS    bool      `json:"dns"`
}

// NetRule is a prefix, or a host name pattern ("example.com", "*.example.com"), with
// optional port ranges (none: every port). A name rule covers the addresses the sandbox's
// resolver answered for a matching name.
type NetRule struct {
	Prefix netip.Prefix `json:"prefix"`
	Name   string       `json:"name,omitempty"`
	Ports  []PortRange  `json:"ports,omitempty"`
}

// PortRange is an inclusive port range.
type PortRange struct{ Lo, Hi uint16 }

func (r NetRule) String() string {
	base := r.Prefix.String()
	if r.Name != "" {
		base = r.Name
	}
	if len(r.Ports) == 0 {
		return base
	}
	var ps []string
	for _, p := range r.Ports {
		if p.Lo == p.Hi {
			ps = append(ps, fmt.Sprint(p.Lo))
		} else {
			ps = append(ps, fmt.Sprintf("%d-%d", p.Lo, p.Hi))
		}
	}
	return base + ":" + strings.Join(ps, ",")
}

// MarshalText renders the rule as written in profiles.
func (r NetRule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// DBusPolicy is a bus policy.
type DBusPolicy struct {
	See       []string `json:"see,omitempty"`
	Talk      []string `json:"talk,omitempty"`
	Own       []string `json:"own,omitempty"`
	Call      []string `json:"call,omitempty"`
	Broadcast []string `json:"broadcast,omitempty"`
}

// Empty reports whether the policy allows nothing.
func (p DBusPolicy) Empty() bool {
	return len(p.See)+len(p.Talk)+len(p.Own)+len(p.Call)+len(p.Broadcast) == 0
}

// DBus is the [dbus] section: the session bus policy and an optional system bus one.
type DBus struct {
	DBusPolicy
	System DBusPolicy `json:"system"`
}

// Display is the [display] section.
type Display struct {
	X11 bool `json:"x11"`
	// X11Nested (x11 = "nested") gives the app an X server of its own, a window on the
	// user's display (Xephyr), instead of the user's display itself; X11 is then set too.
	X11Nested bool `json:"x11_nested,omitempty"`
	Wayland   bool `json:"wayland"`
}

// X11Nested is display.x11's value for a nested X server.
const X11Nested = "nested"

// Audio is the [audio] section.
type Audio struct {
	PulseAudio bool `json:"pulseaudio"`
	PipeWire   bool `json:"pipewire"`
}

// EnvPolicy is the [env] section: host variables passed through, variables set.
type EnvPolicy struct {
	Pass []string          `json:"pass,omitempty"`
	Set  map[string]string `json:"set,omitempty"`
}

// Resources is the [resources] section.
type Resources struct {
	Memory uint64 `json:"memory,omitempty"` // bytes, 0: no limit
	Disk   uint64 `json:"disk,omitempty"`   // bytes the sandbox may add to the host, 0: no limit
	Tasks  int    `json:"tasks,omitempty"`
}

// Kernel is the [kernel] section.
type Kernel struct {
	Platform string   `json:"platform"` // auto | trap | ptrace | kvm
	Require  []string `json:"require,omitempty"`
}

// Features a profile may require.
var knownFeatures = []string{"landlock", "kvm", "seccomp", "userns"}

func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, s := range append(append([]string(nil), a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
