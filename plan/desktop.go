package plan

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
	"github.com/sbx-dev/sbx/launcher/broker/display"
)

// planX11 brokers the user's X display ($DISPLAY, a local one): its socket at the same path
// inside (the abstract @/tmp/.X11-unix/X<n> name belongs to the host's network namespace and
// stays unreachable), reached through the X11 proxy that hides MIT-SHM, and an Xauthority
// file holding only this display's cookie (the host's ~/.Xauthority is not shown).
func planX11(p *launcher.Plan, o *Options) error {
	d, err := display.ParseDisplay(o.getenv("DISPLAY"))
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
	xauth := o.getenv("XAUTHORITY")
	if xauth == "" {
		xauth = filepath.Join(o.Home, ".Xauthority")
	}
	cookies, _ := display.Cookies(xauth, d.Number)
	if len(cookies) == 0 {
		p.Env = unsetEnv(p.Env, "XAUTHORITY")
		return nil
	}
	inside := fmt.Sprintf("/run/user/%d/Xauthority", o.UID)
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountFile, Path: inside, Mode: 0o600, Owned: true, Content: cookies})
	p.Env = setEnv(p.Env, "XAUTHORITY", inside)
	return nil
}

// planX11Nested gives the app an X server of its own (x11 = "nested"): Xephyr on a free
// display, a window on the user's, started by the launcher; its socket is the only X
// server inside, with its own cookie. The user's display is never offered instead.
func planX11Nested(p *launcher.Plan, o *Options, title string) error {
	if _, err := exec.LookPath("Xephyr"); err != nil {
		return fmt.Errorf(`x11 = "nested" needs Xephyr, which is not installed (Debian: apt install xserver-xephyr); the user's display is not offered instead`)
	}
	host, err := display.ParseDisplay(o.getenv("DISPLAY"))
	if err != nil {
		return err
	}
	if st, err := os.Stat(host.Socket); err != nil || st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("no X server socket at %s", host.Socket)
	}
	n := -1
	for attempt := 0; attempt < 50 && n < 0; attempt++ {
		b := make([]byte, 2)
		rand.Read(b)
		c := 100 + (int(b[0])<<8|int(b[1]))%900
		_, errSock := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", c))
		_, errLock := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", c))
		if errSock != nil && errLock != nil {
			n = c
		}
	}
	if n < 0 {
		return fmt.Errorf("no free X display number for the nested server")
	}
	cookie := make([]byte, 16)
	rand.Read(cookie)
	auth := display.CookieEntry(n, cookie)
	hostAuth := o.getenv("XAUTHORITY")
	if hostAuth == "" {
		if a := filepath.Join(o.Home, ".Xauthority"); fileExists(a) {
			hostAuth = a
		}
	}
	p.NestedX11 = &launcher.NestedX11Plan{Host: fmt.Sprintf(":%d", host.Number), HostAuth: hostAuth, Number: n,
		Auth: auth, Title: title, Screen: "1024x768"}
	sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
	if p.Sockets == nil {
		p.Sockets = map[string]string{}
	}
	p.Sockets[sock] = launcher.X11Socket + sock
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountSocket, Path: sock})
	p.Env = setEnv(p.Env, "DISPLAY", fmt.Sprintf(":%d", n))
	inside := fmt.Sprintf("/run/user/%d/Xauthority", o.UID)
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountFile, Path: inside, Mode: 0o600, Owned: true, Content: auth})
	p.Env = setEnv(p.Env, "XAUTHORITY", inside)
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// planWayland brokers the user's Wayland compositor: its socket ($WAYLAND_DISPLAY, a name
// in $XDG_RUNTIME_DIR or an absolute path) at /run/user/<uid>/<name> inside, named by an
// absolute WAYLAND_DISPLAY. Files travel both ways over it (SCM_RIGHTS: wl_shm buffers,
// keymaps, clipboard pipes; kernel/syscalls/rights.go). The compositor sees every
// connection as the user's own: Debian 12's weston offers no wp_security_context_v1.
func planWayland(p *launcher.Plan, o *Options) error {
	name := o.getenv("WAYLAND_DISPLAY")
	if name == "" {
		return fmt.Errorf("WAYLAND_DISPLAY is not set")
	}
	host := name
	if !filepath.IsAbs(name) {
		rt := o.getenv("XDG_RUNTIME_DIR")
		if rt == "" {
			return fmt.Errorf("WAYLAND_DISPLAY=%s names no path and XDG_RUNTIME_DIR is not set", name)
		}
		host = filepath.Join(rt, name)
	}
	if st, err := os.Stat(host); err != nil || st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("no Wayland socket at %s", host)
	}
	dir := fmt.Sprintf("/run/user/%d", o.UID)
	inside := dir + "/" + filepath.Base(host)
	if p.Sockets == nil {
		p.Sockets = map[string]string{}
	}
	p.Sockets[inside] = host
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountSocket, Path: inside})
	p.Env = setEnv(p.Env, "WAYLAND_DISPLAY", inside)
	p.Env = setEnv(p.Env, "XDG_RUNTIME_DIR", dir)
	p.Env = unsetEnv(p.Env, "WAYLAND_SOCKET") // an FD of the launcher's, never the app's
	return nil
}

// planPipeWire brokers the user's PipeWire daemon: its socket ($PIPEWIRE_REMOTE, default
// pipewire-0, in $PIPEWIRE_RUNTIME_DIR or $XDG_RUNTIME_DIR; or an absolute path) at
// /run/user/<uid>/pipewire-0 inside. PipeWire has no cookie: the daemon's own access
// control (module-access) sees a client of the user's.
func planPipeWire(p *launcher.Plan, o *Options) error {
	name := o.getenv("PIPEWIRE_REMOTE")
	if name == "" {
		name = "pipewire-0"
	}
	host := name
	if !filepath.IsAbs(name) {
		rt := o.getenv("PIPEWIRE_RUNTIME_DIR")
		if rt == "" {
			rt = o.getenv("XDG_RUNTIME_DIR")
		}
		if rt == "" {
			return fmt.Errorf("neither PIPEWIRE_RUNTIME_DIR nor XDG_RUNTIME_DIR is set")
		}
		host = filepath.Join(rt, name)
	}
	if st, err := os.Stat(host); err != nil || st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("no PipeWire socket at %s", host)
	}
	dir := fmt.Sprintf("/run/user/%d", o.UID)
	inside := dir + "/pipewire-0"
	if p.Sockets == nil {
		p.Sockets = map[string]string{}
	}
	p.Sockets[inside] = host
	p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountSocket, Path: inside})
	p.Env = setEnv(p.Env, "PIPEWIRE_RUNTIME_DIR", dir)
	p.Env = setEnv(p.Env, "PIPEWIRE_REMOTE", "pipewire-0")
	p.Env = setEnv(p.Env, "XDG_RUNTIME_DIR", dir)
	return nil
}

// planPulse brokers the user's PulseAudio server (also pipewire-pulse): its native socket
// ($PULSE_SERVER's unix: path, else $XDG_RUNTIME_DIR/pulse/native) at
// /run/user/<uid>/pulse/native inside, its cookie (the app's own writable file: libpulse
// opens it read-write), and a client.conf that keeps clients on the socket transport (the
// sandbox's memfd and shm pools cannot reach the server yet: kernel/mm/README.md, "Memory
// shared with host processes").
func planPulse(p *launcher.Plan, o *Options) error {
	host := ""
	if v := o.getenv("PULSE_SERVER"); v != "" {
		path, ok := strings.CutPrefix(v, "unix:")
		if !ok || strings.ContainsAny(path, " ") {
			return fmt.Errorf("PULSE_SERVER=%q is not a local socket (only unix:PATH is brokered)", v)
		}
		host = path
	} else if rt := o.getenv("XDG_RUNTIME_DIR"); rt != "" {
		host = filepath.Join(rt, "pulse", "native")
	} else {
		return fmt.Errorf("neither PULSE_SERVER nor XDG_RUNTIME_DIR is set")
	}
	if st, err := os.Stat(host); err != nil || st.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("no PulseAudio socket at %s", host)
	}
	dir := fmt.Sprintf("/run/user/%d/pulse", o.UID)
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
	cookie := o.getenv("PULSE_COOKIE")
	if cookie == "" {
		cfg := o.getenv("XDG_CONFIG_HOME")
		if cfg == "" {
			cfg = filepath.Join(o.Home, ".config")
		}
		cookie = filepath.Join(cfg, "pulse", "cookie")
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
