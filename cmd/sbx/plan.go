package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/sbx-dev/sbx/launcher/broker/display"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
	netbroker "github.com/sbx-dev/sbx/launcher/broker/net"
	"github.com/sbx-dev/sbx/launcher/control"
	"github.com/sbx-dev/sbx/launcher/dbusproxy"
	"github.com/sbx-dev/sbx/platform"
	"github.com/sbx-dev/sbx/profiles"
	"golang.org/x/sys/unix"
)

// pickProfile resolves --profile, or the app's own profile, or default.
func pickProfile(o *runOptions, app string) (*profiles.Profile, error) {
	l := o.loader()
	if o.profile != "" {
		p, err := l.Load(o.profile)
		if err != nil {
			return nil, profileErr(err)
		}
		return p, nil
	}
	m, err := l.Which(app)
	if err != nil {
		return nil, profileErr(err)
	}
	p, err := l.Load(m.Name)
	if err != nil {
		return nil, profileErr(err)
	}
	return p, nil
}

// buildPlan resolves what the sandbox will look like.
func buildPlan(o *runOptions, args []string) (*launcher.Plan, error) {
	prof, err := pickProfile(o, args[0])
	if err != nil {
		return nil, err
	}
	home := currentHome()
	view := launcher.ViewSpec{Home: prof.Filesystem.Home, HomeDir: home, Deny: prof.Filesystem.Deny, Tmpfs: prof.Filesystem.Tmpfs}
	for _, a := range prof.Filesystem.Allow {
		if prof.Filesystem.Home == profiles.HomePrivate && (a.Path == home || strings.HasPrefix(a.Path, home+"/")) {
			continue // a private home shows nothing of the host's
		}
		view.Allow = append(view.Allow, launcher.HostPath{Path: a.Path, ReadOnly: a.Mode != "rw", Create: a.Create})
	}
	for _, list := range []struct {
		paths []string
		ro    bool
	}{{o.ro, true}, {o.rw, false}} {
		for _, p := range list.paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, &usageError{fmt.Errorf("--ro/--rw %s: %w", p, err)}
			}
			if _, err := os.Stat(abs); err != nil {
				return nil, &usageError{fmt.Errorf("--ro/--rw %s: %w (the path must exist)", p, err)}
			}
			view.Allow = append(view.Allow, launcher.HostPath{Path: abs, ReadOnly: list.ro})
		}
	}
	gcfg, layout, viewWarnings, err := launcher.BuildView(view)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", prof.File, err)
	}
	p := &launcher.Plan{App: filepath.Base(args[0]), ProfileName: prof.Name, ProfileFile: prof.File, Argv: args,
		Env: launcher.CleanEnv(os.Environ(), home, prof.Env.Pass, prof.Env.Set), UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		Hostname: "sbx", Gofer: gcfg, Layout: layout, Debug: o.debug, DebugBlocked: o.blocked, Strace: o.strace, T0: processStart,
		MaxTasks: prof.Resources.Tasks, MemoryLimit: memoryLimit(prof.Resources.Memory), DiskLimit: int64(min(prof.Resources.Disk, 1<<62)),
		Warnings: viewWarnings}
	p.Gofer.DiskLimit = p.DiskLimit
	for _, r := range prof.Kernel.Require {
		switch r {
		case "landlock":
			p.Gofer.RequireLandlock = true
		case "kvm":
			return nil, fmt.Errorf("profile %s requires kvm, which this build does not offer yet (remove \"kvm\" from [kernel] require)", prof.File)
		}
	}
	name := prof.Kernel.Platform
	if o.platform != "" {
		name = o.platform
	}
	if name == "kvm" {
		return nil, fmt.Errorf("platform kvm is not available in this build (use --platform trap or ptrace)")
	}
	choice, err := platform.Resolve(name)
	if err != nil {
		return nil, fmt.Errorf("%w (use --platform %s)", err, strings.Join(platform.Names(), " or "))
	}
	p.Platform = choice.Name
	if o.debug {
		why := choice.Why
		if why == "" {
			why = "named by " + map[bool]string{true: "--platform", false: "the profile"}[o.platform != ""]
		}
		errOut := io.Writer(os.Stderr)
		if o.io != nil {
			errOut = o.io.ErrOut
		}
		fmt.Fprintf(errOut, "sbx: platform %s (%s)\n", choice.Name, why)
	}
	if !prof.DBus.Empty() {
		if err := planDBus(p, prof); err != nil {
			p.Warnings = append(p.Warnings, "D-Bus withheld: "+err.Error())
		}
	}
	p.Net = netPolicy(prof.Network)
	// Why: names resolve through the broker, which pins what they resolved to for name rules.
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountFile, Path: "/etc/resolv.conf", Content: []byte(resolvConf(prof.Network.DNS))})
	x11 := false
	if prof.Display.X11 {
		if err := planX11(p); err != nil {
			p.Warnings = append(p.Warnings, "X11 display withheld: "+err.Error())
		} else {
			x11 = true
		}
	}
	pulse := false
	if prof.Audio.PulseAudio {
		if err := planPulse(p); err != nil {
			p.Warnings = append(p.Warnings, "PulseAudio withheld: "+err.Error())
		} else {
			pulse = true
		}
	}
	p.Warnings = append(p.Warnings, withheld(prof, x11, pulse)...)
	cwd := o.cwd
	if cwd == "" {
		cwd = home
		if wd, err := os.Getwd(); err == nil && visible(wd, layout, gcfg.Deny) {
			cwd = wd
		}
	}
	p.Cwd = cwd
	return p, nil
}

// withheld names what the profile grants that this build cannot provide yet; the app runs
// without it, and the user is told.
func withheld(p *profiles.Profile, x11, pulse bool) []string {
	var w []string
	if !p.DBus.System.Empty() {
		w = append(w, "the system bus")
	}
	if p.Display.Wayland && !x11 {
		w = append(w, "display (Wayland)")
	}
	if p.Audio.PulseAudio && !pulse {
		w = append(w, "audio (PulseAudio)")
	}
	if p.Audio.PipeWire {
		w = append(w, "audio (PipeWire's own socket)")
	}
	if len(p.Filesystem.Devices) > 0 {
		w = append(w, "devices "+strings.Join(p.Filesystem.Devices, ","))
	}
	if len(w) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("profile %s grants what this build cannot provide yet; the app runs without: %s", p.Name, strings.Join(w, ", "))}
}

// visible reports whether path exists inside the sandbox: the deepest mount holding it
// shows host files (a gofer mount) and it is not denied, or it is a mount point itself
// (the private home, /tmp).
func visible(path string, layout []sandbox.Mount, deny []string) bool {
	for _, d := range deny {
		if path == d || strings.HasPrefix(path, d+"/") {
			return false
		}
	}
	best := -1
	for i, m := range layout {
		if m.Kind == sandbox.MountSymlink {
			continue
		}
		root := strings.TrimRight(m.Path, "/")
		if path == m.Path || strings.HasPrefix(path, root+"/") {
			if best < 0 || len(m.Path) >= len(layout[best].Path) {
				best = i
			}
		}
	}
	if best < 0 {
		return false
	}
	m := layout[best]
	switch m.Kind {
	case sandbox.MountGofer:
		return true
	case sandbox.MountProc, sandbox.MountDev, sandbox.MountSys:
		return false
	}
	return path == m.Path
}

// planDBus sets up the session-bus proxy: the host bus, the proxy's private socket, and the
// socket node the app connects to at $XDG_RUNTIME_DIR/bus.
func planDBus(p *launcher.Plan, prof *profiles.Profile) error {
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
			addr = "unix:path=" + rt + "/bus"
		}
	}
	upstream, err := dbusproxy.UpstreamAddress(addr)
	if err != nil {
		return fmt.Errorf("no session bus on the host (DBUS_SESSION_BUS_ADDRESS): %v", err)
	}
	if _, err := os.Stat(upstream); err != nil {
		return fmt.Errorf("no session bus at %s", upstream)
	}
	dir, err := control.Dir()
	if err != nil {
		return err
	}
	b := make([]byte, 6)
	rand.Read(b)
	runtimeDir := fmt.Sprintf("/run/user/%d", os.Getuid())
	inside := runtimeDir + "/bus"
	pol := dbusproxy.Policy{See: prof.DBus.See, Talk: prof.DBus.Talk, Own: prof.DBus.Own, Call: prof.DBus.Call, Broadcast: prof.DBus.Broadcast}
	p.DBus = &launcher.DBusPlan{Upstream: upstream, Listen: filepath.Join(dir, hex.EncodeToString(b)+".bus"), SandboxPath: inside, Policy: pol}
	if p.Sockets == nil {
		p.Sockets = map[string]string{}
	}
	p.Sockets[inside] = p.DBus.Listen
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountSocket, Path: inside})
	p.Env = setEnv(p.Env, "DBUS_SESSION_BUS_ADDRESS", "unix:path="+inside)
	p.Env = setEnv(p.Env, "XDG_RUNTIME_DIR", runtimeDir)
	return nil
}

// planX11 brokers the user's X display ($DISPLAY, a local one): its socket at the same path
// inside (the abstract @/tmp/.X11-unix/X<n> name belongs to the host's network namespace and
// stays unreachable), reached through the X11 proxy that hides MIT-SHM, and an Xauthority
// file holding only this display's cookie (the host's ~/.Xauthority is not shown).
func planX11(p *launcher.Plan) error {
	d, err := display.ParseDisplay(os.Getenv("DISPLAY"))
	if err != nil {
		return err
	}
	if st, err := os.Stat(d.Socket); err != nil || st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("no X server socket at %s", d.Socket)
	}
	if p.Sockets == nil {
		p.Sockets = map[string]string{}
	}
	p.Sockets[d.Socket] = launcher.X11Socket + d.Socket
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountSocket, Path: d.Socket})
	p.Env = setEnv(p.Env, "DISPLAY", fmt.Sprintf(":%d", d.Number))
	xauth := os.Getenv("XAUTHORITY")
	if xauth == "" {
		if home, err := os.UserHomeDir(); err == nil {
			xauth = filepath.Join(home, ".Xauthority")
		}
	}
	cookies, _ := display.Cookies(xauth, d.Number)
	if len(cookies) == 0 {
		p.Env = unsetEnv(p.Env, "XAUTHORITY")
		return nil
	}
	inside := fmt.Sprintf("/run/user/%d/Xauthority", os.Getuid())
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountFile, Path: inside, Mode: 0o600, Owned: true, Content: cookies})
	p.Env = setEnv(p.Env, "XAUTHORITY", inside)
	return nil
}

// planPulse brokers the user's PulseAudio server (also pipewire-pulse): its native socket
// ($PULSE_SERVER's unix: path, else $XDG_RUNTIME_DIR/pulse/native) at
// /run/user/<uid>/pulse/native inside, its cookie, and a client.conf that keeps clients on
// the socket transport (the sandbox's memfd and SysV/POSIX shm pools cannot reach the
// server yet: see kernel/mm/README.md, "Memory shared with host processes").
func planPulse(p *launcher.Plan) error {
	host := ""
	if v := os.Getenv("PULSE_SERVER"); v != "" {
		path, ok := strings.CutPrefix(v, "unix:")
		if !ok || strings.ContainsAny(path, " ") {
			return fmt.Errorf("PULSE_SERVER=%q is not a local socket (only unix:PATH is brokered)", v)
		}
		host = path
	} else if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		host = filepath.Join(rt, "pulse", "native")
	} else {
		return fmt.Errorf("neither PULSE_SERVER nor XDG_RUNTIME_DIR is set")
	}
	if st, err := os.Stat(host); err != nil || st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("no PulseAudio socket at %s", host)
	}
	dir := fmt.Sprintf("/run/user/%d/pulse", os.Getuid())
	inside := dir + "/native"
	if p.Sockets == nil {
		p.Sockets = map[string]string{}
	}
	p.Sockets[inside] = host
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountSocket, Path: inside})
	p.Env = setEnv(p.Env, "PULSE_SERVER", "unix:"+inside)
	conf := "# written by sbx: the socket transport only\nenable-shm = no\nenable-memfd = no\nautospawn = no\n"
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountFile, Path: dir + "/client.conf", Mode: 0o644, Owned: true, Content: []byte(conf)})
	p.Env = setEnv(p.Env, "PULSE_CLIENTCONFIG", dir+"/client.conf")
	cookie := os.Getenv("PULSE_COOKIE")
	if cookie == "" {
		if cfg, err := os.UserConfigDir(); err == nil {
			cookie = filepath.Join(cfg, "pulse", "cookie")
		}
	}
	if b, err := os.ReadFile(cookie); err == nil && len(b) > 0 {
		p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountFile, Path: dir + "/cookie", Mode: 0o600, Owned: true, Content: b})
		p.Env = setEnv(p.Env, "PULSE_COOKIE", dir+"/cookie")
	} else {
		p.Env = unsetEnv(p.Env, "PULSE_COOKIE")
	}
	return nil
}

func unsetEnv(env []string, k string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	return out
}

func setEnv(env []string, k, v string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	return append(out, k+"="+v)
}

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
	if n.DNS {
		pol.Resolver = sandboxResolver
		for _, a := range hostResolvers("/etc/resolv.conf") {
			pol.Upstreams = append(pol.Upstreams, netip.AddrPortFrom(a, 53))
		}
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
