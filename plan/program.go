// Package plan decides what a sandbox will be. From a profile and the options of `sbx run`
// (ForProgram), or from an OCI bundle (ForBundle), it builds the launcher.Plan that
// launcher.Start runs: the view the gofer serves and the kernel's layout, the app's
// environment, identity and working directory, the brokers (the session bus proxy), the
// platform and the limits. `sbx run`, the .desktop wrappers (which run `sbx run`) and the
// OCI runtime all come through here; the CLI only turns flags into Options.
//
// Building a plan starts nothing and changes nothing on the host: it reads what exists
// (paths, the session bus's socket) and takes the user's environment, IDs, home and
// working directory from Options, so tests build plans for any user.
package plan

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
	"github.com/sbx-dev/sbx/launcher/control"
	"github.com/sbx-dev/sbx/launcher/dbusproxy"
	"github.com/sbx-dev/sbx/platform"
	"github.com/sbx-dev/sbx/platform/kvm"
	"github.com/sbx-dev/sbx/profiles"
)

// Options are what `sbx run` was asked and who asks it.
type Options struct {
	// Argv is the program and its arguments.
	Argv []string
	// Profile is the resolved profile (Pick).
	Profile *profiles.Profile
	// Platform overrides the profile's [kernel] platform when set.
	Platform string
	// Cwd is the working directory inside; empty: WorkDir when the sandbox shows it, else
	// the home.
	Cwd string
	// RO and RW are host paths shown read-only or read-write at the same place (relative
	// ones against WorkDir); they must exist.
	RO, RW        []string
	Debug, Strace bool
	// StraceSummary prints a table of the app's syscalls at exit (--strace=summary).
	StraceSummary bool
	// DebugBlocked, with Debug, reports a task blocked longer than this in one call.
	DebugBlocked time.Duration
	// T0 is when sbx started (start-up timings with --debug).
	T0 time.Time

	// The user: home directory, current directory, environment and IDs (Host fills them).
	Home     string
	WorkDir  string
	Environ  []string
	UID, GID uint32

	// Notef, when set, gets notes for --debug (which platform was picked and why).
	Notef func(format string, args ...any)
}

// Host returns Options filled with the calling process's user: $HOME (else the password
// database's), the current directory, the environment and the real IDs.
func Host() Options {
	o := Options{Environ: os.Environ(), UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Home: os.Getenv("HOME")}
	if o.Home == "" {
		if u, err := user.Current(); err == nil {
			o.Home = u.HomeDir
		} else {
			o.Home = "/"
		}
	}
	o.WorkDir, _ = os.Getwd()
	return o
}

func (o *Options) getenv(k string) string {
	for _, kv := range o.Environ {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return ""
}

// UsageError is a plan refused because of how sbx was called (a --ro/--rw path that does
// not exist, say), not because of the profile or the host.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Pick resolves the profile for app: the one named (a name or a .toml path), else the app's
// own (by name or binaries), else default.
func Pick(l *profiles.Loader, named, app string) (*profiles.Profile, error) {
	if named != "" {
		return l.Load(named)
	}
	m, err := l.Which(app)
	if err != nil {
		return nil, err
	}
	return l.Load(m.Name)
}

// ForProgram builds the plan for running o.Argv under o.Profile.
func ForProgram(o Options) (*launcher.Plan, error) {
	prof := o.Profile
	if prof == nil || len(o.Argv) == 0 {
		return nil, errors.New("plan: a program and its profile are needed")
	}
	home := o.Home
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
	}{{o.RO, true}, {o.RW, false}} {
		for _, p := range list.paths {
			abs := p
			if !filepath.IsAbs(abs) {
				abs = filepath.Join(o.WorkDir, p)
			}
			abs = filepath.Clean(abs)
			if _, err := os.Stat(abs); err != nil {
				return nil, &UsageError{fmt.Errorf("--ro/--rw %s: %w (the path must exist)", p, err)}
			}
			view.Allow = append(view.Allow, launcher.HostPath{Path: abs, ReadOnly: list.ro})
		}
	}
	gcfg, layout, viewWarnings, err := launcher.BuildView(view)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", prof.File, err)
	}
	p := &launcher.Plan{App: filepath.Base(o.Argv[0]), ProfileName: prof.Name, ProfileFile: prof.File, Argv: o.Argv,
		Env: launcher.CleanEnv(o.Environ, home, prof.Env.Pass, prof.Env.Set), UID: o.UID, GID: o.GID,
		Hostname: "sbx", Gofer: gcfg, Layout: layout, Debug: o.Debug, DebugBlocked: o.DebugBlocked, Strace: o.Strace, StraceSummary: o.StraceSummary, T0: o.T0,
		MaxTasks: prof.Resources.Tasks, MemoryLimit: memoryLimit(prof.Resources.Memory), DiskLimit: int64(min(prof.Resources.Disk, 1<<62)),
		Warnings: viewWarnings}
	p.Gofer.DiskLimit = p.DiskLimit
	for _, r := range prof.Kernel.Require {
		switch r {
		case "landlock":
			p.Gofer.RequireLandlock = true
		case "kvm":
			if err := kvm.Probe(); err != nil {
				return nil, fmt.Errorf("profile %s requires kvm, which cannot run here: %v (remove \"kvm\" from [kernel] require)", prof.File, err)
			}
		}
	}
	name := prof.Kernel.Platform
	if o.Platform != "" {
		name = o.Platform
	}
	choice, err := platform.Resolve(name)
	if err != nil {
		if name != "" && name != "auto" {
			return nil, err // says what to do already
		}
		return nil, fmt.Errorf("%w (use --platform %s)", err, strings.Join(platform.Names(), " or "))
	}
	p.Platform = choice.Name
	if o.Notef != nil {
		why := choice.Why
		if why == "" {
			why = "named by " + map[bool]string{true: "--platform", false: "the profile"}[o.Platform != ""]
		}
		o.Notef("platform %s (%s)", choice.Name, why)
	}
	if !prof.DBus.Empty() {
		if err := planDBus(p, prof, &o); err != nil {
			p.Warnings = append(p.Warnings, "D-Bus withheld: "+err.Error())
		}
	}
	p.Net = netPolicy(prof.Network)
	if prof.Network.Mode != profiles.NetNone {
		p.NetAddrs = HostAddrs()
	}
	// Why: names resolve through the broker, which pins what they resolved to for name rules.
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountFile, Path: "/etc/resolv.conf", Content: []byte(resolvConf(prof.Network.DNS))})
	x11 := false
	if prof.Display.X11Nested {
		if err := planX11Nested(p, &o, "sbx: "+prof.Name); err != nil {
			p.Warnings = append(p.Warnings, "X11 display withheld: "+err.Error())
			p.Env = unsetEnv(unsetEnv(p.Env, "DISPLAY"), "XAUTHORITY")
		} else {
			x11 = true
		}
	}
	var x11Err error
	if prof.Display.X11 && !prof.Display.X11Nested {
		if x11Err = planX11(p, &o); x11Err == nil {
			x11 = true
		}
	}
	wayland := false
	if prof.Display.Wayland {
		if err := planWayland(p, &o); err != nil {
			if !x11 {
				p.Warnings = append(p.Warnings, "Wayland display withheld: "+err.Error())
			}
			p.Env = unsetEnv(p.Env, "WAYLAND_DISPLAY")
		} else {
			wayland = true
		}
	}
	// A Wayland session without $DISPLAY (no Xwayland) has no X display to withhold.
	if x11Err != nil && !(wayland && o.getenv("DISPLAY") == "") {
		p.Warnings = append(p.Warnings, "X11 display withheld: "+x11Err.Error())
	}
	pulse := false
	if prof.Audio.PulseAudio {
		if err := planPulse(p, &o); err != nil {
			p.Warnings = append(p.Warnings, "PulseAudio withheld: "+err.Error())
		} else {
			pulse = true
		}
	}
	if prof.Audio.PipeWire {
		if err := planPipeWire(p, &o); err != nil && !pulse {
			p.Warnings = append(p.Warnings, "PipeWire withheld: "+err.Error())
		}
	}
	p.Warnings = append(p.Warnings, withheld(prof, x11, pulse)...)
	privateRuntimeDir(p, o.UID)
	cwd := o.Cwd
	if cwd == "" {
		cwd = home
		if o.WorkDir != "" && visible(o.WorkDir, layout, gcfg.Deny) {
			cwd = o.WorkDir
		}
	}
	p.Cwd = cwd
	return p, nil
}

// privateRuntimeDir makes $XDG_RUNTIME_DIR, when a broker put its socket there, what the
// XDG Base Directory spec says it is: a directory of the user's own with mode 0700, where
// the app makes its own files and sockets (dconf's user file, Qt's and GLib's sockets);
// Qt refuses one with other permissions. It is a tmpfs mounted before the brokers' sockets
// and files go in it.
func privateRuntimeDir(p *launcher.Plan, uid uint32) {
	dir := fmt.Sprintf("/run/user/%d", uid)
	if envOf(p.Env, "XDG_RUNTIME_DIR") != dir {
		return
	}
	at := len(p.Layout)
	for i, m := range p.Layout {
		if m.Path == dir || strings.HasPrefix(m.Path, dir+"/") {
			at = i
			break
		}
	}
	rt := sandbox.Mount{Kind: sandbox.MountTmpfs, Path: dir, Mode: 0o700, Owned: true}
	p.Layout = append(p.Layout[:at:at], append([]sandbox.Mount{rt}, p.Layout[at:]...)...)
}

func envOf(env []string, k string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return ""
}

// withheld names what the profile grants that this build cannot provide yet; the app runs
// without it, and the user is told.
func withheld(p *profiles.Profile, x11, pulse bool) []string {
	var w []string
	if !p.DBus.System.Empty() {
		w = append(w, "the system bus")
	}
	if p.Audio.PulseAudio && !pulse {
		w = append(w, "audio (PulseAudio)")
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
func planDBus(p *launcher.Plan, prof *profiles.Profile, o *Options) error {
	addr := o.getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		if rt := o.getenv("XDG_RUNTIME_DIR"); rt != "" {
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
	runtimeDir := fmt.Sprintf("/run/user/%d", o.UID)
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

func setEnv(env []string, k, v string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	return append(out, k+"="+v)
}
