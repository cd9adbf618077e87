package plan

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/kernel/sandbox"
)

// TestWaylandAndPipeWirePlans: the compositor's and PipeWire's sockets are brokered at
// /run/user/<uid>/ with the variables that name them; a missing one is withheld with a
// warning.
func TestWaylandAndPipeWirePlans(t *testing.T) {
	f := newFixture(t)
	rt := t.TempDir()
	for _, name := range []string{"wayland-1", "pipewire-0"} {
		l, err := net.Listen("unix", filepath.Join(rt, name))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
	}
	o := f.options(f.profile(t, "wl", "description = \"p\"\n[display]\nwayland = true\n[audio]\npipewire = true\n"))
	o.Environ = append(o.Environ, "XDG_RUNTIME_DIR="+rt, "WAYLAND_DISPLAY=wayland-1", "WAYLAND_SOCKET=5")
	p, err := ForProgram(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Sockets["/run/user/1000/wayland-1"]; got != filepath.Join(rt, "wayland-1") {
		t.Errorf("the Wayland socket is brokered to %q, want %s/wayland-1", got, rt)
	}
	if got := p.Sockets["/run/user/1000/pipewire-0"]; got != filepath.Join(rt, "pipewire-0") {
		t.Errorf("the PipeWire socket is brokered to %q, want %s/pipewire-0", got, rt)
	}
	if w, s := envOf(p.Env, "WAYLAND_DISPLAY"), envOf(p.Env, "WAYLAND_SOCKET"); w != "/run/user/1000/wayland-1" || s != "" {
		t.Errorf("WAYLAND_DISPLAY=%q WAYLAND_SOCKET=%q, want the socket inside and no inherited FD", w, s)
	}
	if r := envOf(p.Env, "PIPEWIRE_RUNTIME_DIR"); r != "/run/user/1000" || len(p.Warnings) != 0 {
		t.Errorf("PIPEWIRE_RUNTIME_DIR=%q, warnings %q", r, p.Warnings)
	}
	// $XDG_RUNTIME_DIR is the app user's own 0700 directory, mounted before the sockets in it.
	rtAt, sockAt := -1, -1
	for i, m := range p.Layout {
		switch {
		case m.Path == "/run/user/1000" && m.Kind == sandbox.MountTmpfs && m.Mode == 0o700 && m.Owned:
			rtAt = i
		case m.Path == "/run/user/1000/wayland-1" && sockAt < 0:
			sockAt = i
		}
	}
	if rtAt < 0 || sockAt < rtAt {
		t.Errorf("runtime directory mount at %d, the socket at %d: want a private 0700 tmpfs first\n%+v", rtAt, sockAt, p.Layout)
	}
	o.Environ = append(f.options(o.Profile).Environ, "XDG_RUNTIME_DIR="+rt, "WAYLAND_DISPLAY=wayland-9", "PIPEWIRE_REMOTE=none")
	p, err = ForProgram(o)
	if err != nil {
		t.Fatal(err)
	}
	warn := strings.Join(p.Warnings, "\n")
	if !strings.Contains(warn, "Wayland display withheld: no Wayland socket") || !strings.Contains(warn, "PipeWire withheld: no PipeWire socket") ||
		envOf(p.Env, "WAYLAND_DISPLAY") != "" || len(p.Sockets) != 0 {
		t.Errorf("missing sockets: warnings %q, sockets %v", warn, p.Sockets)
	}
}

// TestX11WarningOnWayland: a profile granting X11 and Wayland warns that X11 is withheld
// when $DISPLAY names no usable display, but not in a Wayland session without $DISPLAY.
func TestX11WarningOnWayland(t *testing.T) {
	f := newFixture(t)
	rt := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(rt, "wayland-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	prof := f.profile(t, "both", "description = \"p\"\n[display]\nx11 = true\nwayland = true\n")
	for _, c := range []struct {
		env  []string
		warn bool
	}{
		{[]string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=wayland-1"}, false},
		{[]string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=wayland-1", "DISPLAY=:9999"}, true},
		{[]string{"XDG_RUNTIME_DIR=" + rt}, true},
	} {
		o := f.options(prof)
		o.Environ = append(o.Environ, c.env...)
		p, err := ForProgram(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(strings.Join(p.Warnings, "\n"), "X11 display withheld"); got != c.warn {
			t.Errorf("%v: X11 warning %v, want %v (%q)", c.env, got, c.warn, p.Warnings)
		}
	}
}
