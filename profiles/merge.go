package profiles

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// merger accumulates layers: lists union, scalars from the last layer that sets them, and
// two includes disagreeing on a scalar is an error unless the including profile decides.
type merger struct {
	values  map[string]any
	sources map[string][]string
	chain   []string
	// conflicts are scalars two includes disagree on; the including profile may settle them.
	conflicts map[string]*Error
}

func newMerger() *merger {
	return &merger{values: map[string]any{}, sources: map[string][]string{}, conflicts: map[string]*Error{}}
}

// unsettled returns the conflicts no profile settled.
func (m *merger) unsettled() Errors {
	var out Errors
	keys := make([]string, 0, len(m.conflicts))
	for k := range m.conflicts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, m.conflicts[k])
	}
	return out
}

func isList(key string) bool {
	switch schema[key].kind {
	case kStrings, kPaths, kDevices, kAllow, kNet, kBusNames, kBusRules, kVarNames, kFeatures, kStringMap:
		return true
	}
	return false
}

// combine merges a sibling include into m; conflicting scalars are recorded.
func (m *merger) combine(o *merger) {
	keys := make([]string, 0, len(o.values))
	for k := range o.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := o.values[k]
		if isList(k) {
			m.values[k] = unionAny(m.values[k], v)
			m.sources[k] = union(m.sources[k], o.sources[k])
			continue
		}
		if old, ok := m.values[k]; ok && fmt.Sprint(old) != fmt.Sprint(v) && k != "description" {
			m.conflicts[k] = &Error{File: o.sources[k][0], Key: k,
				Msg: fmt.Sprintf("set to %v here and to %v in %s (two includes disagree; set %s in the including profile)",
					v, old, m.sources[k][0], k)}
			continue
		}
		m.values[k] = v
		m.sources[k] = o.sources[k]
	}
	for k, e := range o.conflicts {
		m.conflicts[k] = e
	}
	m.chain = union(m.chain, o.chain)
}

// overlay applies a profile's own values on top (it may override its includes' scalars).
func (m *merger) overlay(l *layer) {
	for k, v := range l.values {
		if isList(k) {
			m.values[k] = unionAny(m.values[k], v)
			m.sources[k] = union(m.sources[k], []string{l.file})
			continue
		}
		m.values[k] = v
		m.sources[k] = []string{l.file}
		delete(m.conflicts, k)
	}
	m.chain = append(m.chain, l.name)
}

func unionAny(a, b any) any {
	switch bv := b.(type) {
	case []string:
		av, _ := a.([]string)
		return union(av, bv)
	case []PathRule:
		av, _ := a.([]PathRule)
		out := append([]PathRule(nil), av...)
		for _, r := range bv {
			replaced := false
			for i, o := range out {
				if o.Path == r.Path {
					// The same path twice: the wider grant and create win.
					if r.Mode == "rw" {
						out[i].Mode = "rw"
					}
					out[i].Create = out[i].Create || r.Create
					replaced = true
				}
			}
			if !replaced {
				out = append(out, r)
			}
		}
		return out
	case []NetRule:
		av, _ := a.([]NetRule)
		out := append([]NetRule(nil), av...)
		seen := map[string]bool{}
		for _, r := range out {
			seen[r.String()] = true
		}
		for _, r := range bv {
			if !seen[r.String()] {
				out = append(out, r)
				seen[r.String()] = true
			}
		}
		return out
	case map[string]string:
		av, _ := a.(map[string]string)
		out := map[string]string{}
		for k, v := range av {
			out[k] = v
		}
		for k, v := range bv {
			out[k] = v
		}
		return out
	}
	return b
}

func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// profile builds the resolved Profile: defaults for unset keys, and deny wins over allow.
func (m *merger) profile(name, file string) *Profile {
	v := m.values
	str := func(k, def string) string {
		if s, ok := v[k].(string); ok {
			return s
		}
		return def
	}
	boolean := func(k string) bool { b, _ := v[k].(bool); return b }
	strs := func(k string) []string { s, _ := v[k].([]string); return s }
	p := &Profile{Name: name, File: file, Description: str("description", ""), Includes: m.chain[:max(len(m.chain)-1, 0)],
		Binaries: strs("binaries"), Sources: m.sources}
	p.Filesystem = Filesystem{Home: str("filesystem.home", HomePrivate), Deny: strs("filesystem.deny"),
		Tmpfs: strs("filesystem.tmpfs"), Devices: strs("filesystem.devices")}
	allow, _ := v["filesystem.allow"].([]PathRule)
	for _, a := range allow {
		denied := false
		for _, d := range p.Filesystem.Deny {
			if under(a.Path, d) {
				denied = true
			}
		}
		if !denied {
			p.Filesystem.Allow = append(p.Filesystem.Allow, a)
		}
	}
	sort.SliceStable(p.Filesystem.Allow, func(i, j int) bool {
		return strings.Count(filepath.Clean(p.Filesystem.Allow[i].Path), "/") < strings.Count(filepath.Clean(p.Filesystem.Allow[j].Path), "/")
	})
	na, _ := v["network.allow"].([]NetRule)
	nd, _ := v["network.deny"].([]NetRule)
	nl, _ := v["network.listen"].([]NetRule)
	nh, _ := v["network.host"].([]NetRule)
	p.Network = Network{Mode: str("network.mode", NetNone), Allow: na, Deny: nd, Listen: nl, Host: nh, DNS: boolean("network.dns")}
	for _, bus := range []struct {
		prefix string
		pol    *DBusPolicy
	}{{"dbus", &p.DBus.DBusPolicy}, {"dbus.system", &p.DBus.System}} {
		bus.pol.See, bus.pol.Talk, bus.pol.Own = strs(bus.prefix+".see"), strs(bus.prefix+".talk"), strs(bus.prefix+".own")
		bus.pol.Call, bus.pol.Broadcast = strs(bus.prefix+".call"), strs(bus.prefix+".broadcast")
	}
	nested := str("display.x11", "") == X11Nested
	p.Display = Display{X11: boolean("display.x11") || nested, X11Nested: nested, Wayland: boolean("display.wayland")}
	p.Audio = Audio{PulseAudio: boolean("audio.pulseaudio"), PipeWire: boolean("audio.pipewire")}
	set, _ := v["env.set"].(map[string]string)
	p.Env = EnvPolicy{Pass: strs("env.pass"), Set: set}
	mem, _ := v["resources.memory"].(uint64)
	tasks, _ := v["resources.tasks"].(int64)
	disk, _ := v["resources.disk"].(uint64)
	p.Resources = Resources{Memory: mem, Disk: disk, Tasks: int(tasks)}
	p.Kernel = Kernel{Platform: str("kernel.platform", "auto"), Require: strs("kernel.require")}
	return p
}
