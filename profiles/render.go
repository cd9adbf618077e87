package profiles

import (
	"fmt"
	"strconv"
	"strings"
)

// TOML renders the resolved profile as a profile file, with a comment on each key naming the
// file(s) that set it.
func (p *Profile) TOML() string {
	var b strings.Builder
	src := func(key string) string {
		if s := p.Sources[key]; len(s) > 0 {
			return "  # " + strings.Join(s, ", ")
		}
		return "  # default"
	}
	q := strconv.Quote
	list := func(key string, vals []string) {
		quoted := make([]string, len(vals))
		for i, v := range vals {
			quoted[i] = q(v)
		}
		fmt.Fprintf(&b, "%s = [%s]%s\n", key[strings.LastIndex(key, ".")+1:], strings.Join(quoted, ", "), src(key))
	}
	fmt.Fprintf(&b, "# Profile %s from %s, resolved.\n", p.Name, p.File)
	if len(p.Includes) > 0 {
		fmt.Fprintf(&b, "# Includes merged: %s\n", strings.Join(p.Includes, ", "))
	}
	fmt.Fprintf(&b, "description = %s\n", q(p.Description))
	if len(p.Binaries) > 0 {
		list("binaries", p.Binaries)
	}
	b.WriteString("\n[filesystem]\n")
	fmt.Fprintf(&b, "home = %s%s\n", q(p.Filesystem.Home), src("filesystem.home"))
	if len(p.Filesystem.Allow) > 0 {
		fmt.Fprintf(&b, "allow = [%s\n", src("filesystem.allow"))
		for _, a := range p.Filesystem.Allow {
			c := ""
			if a.Create {
				c = ", create = true"
			}
			fmt.Fprintf(&b, "  { path = %s, mode = %s%s },\n", q(a.Path), q(a.Mode), c)
		}
		b.WriteString("]\n")
	}
	for _, k := range []struct {
		key  string
		vals []string
	}{{"filesystem.deny", p.Filesystem.Deny}, {"filesystem.tmpfs", p.Filesystem.Tmpfs}, {"filesystem.devices", p.Filesystem.Devices}} {
		if len(k.vals) > 0 {
			list(k.key, k.vals)
		}
	}
	b.WriteString("\n[network]\n")
	fmt.Fprintf(&b, "mode = %s%s\n", q(p.Network.Mode), src("network.mode"))
	for _, k := range []struct {
		key   string
		rules []NetRule
	}{{"network.allow", p.Network.Allow}, {"network.deny", p.Network.Deny}, {"network.listen", p.Network.Listen}, {"network.host", p.Network.Host}} {
		if len(k.rules) > 0 {
			vals := make([]string, len(k.rules))
			for i, r := range k.rules {
				vals[i] = r.String()
			}
			list(k.key, vals)
		}
	}
	fmt.Fprintf(&b, "dns = %t%s\n", p.Network.DNS, src("network.dns"))
	for _, bus := range []struct {
		name string
		pol  DBusPolicy
	}{{"dbus", p.DBus.DBusPolicy}, {"dbus.system", p.DBus.System}} {
		if bus.pol.Empty() {
			continue
		}
		fmt.Fprintf(&b, "\n[%s]\n", bus.name)
		for _, k := range []struct {
			n    string
			vals []string
		}{{"see", bus.pol.See}, {"talk", bus.pol.Talk}, {"own", bus.pol.Own}, {"call", bus.pol.Call}, {"broadcast", bus.pol.Broadcast}} {
			if len(k.vals) > 0 {
				list(bus.name+"."+k.n, k.vals)
			}
		}
	}
	b.WriteString("\n[display]\n")
	if p.Display.X11Nested {
		b.WriteString("# X11 nested: the app gets an X server of its own (Xephyr) in a window, and sees only its own windows\n")
	} else if p.Display.X11 {
		b.WriteString("# X11: any client of the display can read other windows' contents and keystrokes\n")
	}
	x11 := fmt.Sprint(p.Display.X11)
	if p.Display.X11Nested {
		x11 = `"` + X11Nested + `"`
	}
	fmt.Fprintf(&b, "x11 = %s%s\nwayland = %t%s\n", x11, src("display.x11"), p.Display.Wayland, src("display.wayland"))
	b.WriteString("\n[audio]\n")
	fmt.Fprintf(&b, "pulseaudio = %t%s\npipewire = %t%s\n", p.Audio.PulseAudio, src("audio.pulseaudio"), p.Audio.PipeWire, src("audio.pipewire"))
	if len(p.Env.Pass) > 0 || len(p.Env.Set) > 0 {
		b.WriteString("\n[env]\n")
		if len(p.Env.Pass) > 0 {
			list("env.pass", p.Env.Pass)
		}
		if len(p.Env.Set) > 0 {
			b.WriteString("set = {")
			var kv []string
			for _, k := range sortedKeys(p.Env.Set) {
				kv = append(kv, fmt.Sprintf(" %s = %s", k, q(p.Env.Set[k])))
			}
			b.WriteString(strings.Join(kv, ",") + " }" + src("env.set") + "\n")
		}
	}
	if p.Resources.Memory != 0 || p.Resources.Disk != 0 || p.Resources.Tasks != 0 {
		b.WriteString("\n[resources]\n")
		if p.Resources.Memory != 0 {
			fmt.Fprintf(&b, "memory = %d%s\n", p.Resources.Memory, src("resources.memory"))
		}
		if p.Resources.Disk != 0 {
			fmt.Fprintf(&b, "disk = %d%s\n", p.Resources.Disk, src("resources.disk"))
		}
		if p.Resources.Tasks != 0 {
			fmt.Fprintf(&b, "tasks = %d%s\n", p.Resources.Tasks, src("resources.tasks"))
		}
	}
	b.WriteString("\n[kernel]\n")
	fmt.Fprintf(&b, "platform = %s%s\n", q(p.Kernel.Platform), src("kernel.platform"))
	if len(p.Kernel.Require) > 0 {
		list("kernel.require", p.Kernel.Require)
	}
	return b.String()
}
