package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testEnv = Env{Home: "/home/u", ConfigHome: "/home/u/.config", DataHome: "/home/u/.local/share",
	CacheHome: "/home/u/.cache", RuntimeDir: "/run/user/1000", Downloads: "/home/u/Downloads", Cwd: "/home/u/src"}

func TestEveryBuiltinResolves(t *testing.T) {
	l := &Loader{Env: testEnv}
	list := l.List()
	apps := 0
	for _, e := range list {
		p, err := l.Load(e.Name)
		if err != nil {
			t.Errorf("built-in %s: %v", e.Name, err)
			continue
		}
		if p.Description == "" || e.Description == "" {
			t.Errorf("built-in %s has no description", e.Name)
		}
		if len(p.Binaries) > 0 {
			apps++
		}
	}
	if apps < 30 {
		t.Errorf("%d built-in application profiles, want at least 30", apps)
	}
}

func TestDefaultIsStrict(t *testing.T) {
	p, err := (&Loader{Env: testEnv}).Load("default")
	if err != nil {
		t.Fatal(err)
	}
	if p.Filesystem.Home != HomePrivate || len(p.Filesystem.Allow) != 0 || p.Network.Mode != NetNone ||
		!p.DBus.Empty() || !p.DBus.System.Empty() || p.Display.X11 || p.Display.Wayland {
		t.Fatalf("default profile is not strict: %+v", p)
	}
}

func writeProfiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMergeRules(t *testing.T) {
	dir := writeProfiles(t, map[string]string{
		"a.toml": "description = \"a\"\n[filesystem]\nallow = [\"~/shared\", { path = \"~/.ssh/config\", mode = \"rw\" }]\n[network]\nmode = \"full\"\n",
		"b.toml": "description = \"b\"\n[filesystem]\nallow = [{ path = \"~/shared\", mode = \"rw\" }]\ndeny = [\"~/.ssh\"]\n[network]\nmode = \"none\"\n",
		"c.toml": "description = \"c\"\ninclude = [\"a\", \"b\"]\n[network]\nmode = \"filtered\"\n",
		"d.toml": "description = \"d\"\ninclude = [\"a\", \"b\"]\n",
	})
	l := &Loader{Path: []string{dir}, Env: testEnv, NoBuiltin: true}
	p, err := l.Load("c")
	if err != nil {
		t.Fatal(err)
	}
	if p.Network.Mode != NetFiltered {
		t.Errorf("the including profile's scalar should win: mode %q", p.Network.Mode)
	}
	if len(p.Filesystem.Allow) != 1 || p.Filesystem.Allow[0].Path != "/home/u/shared" || p.Filesystem.Allow[0].Mode != "rw" {
		t.Errorf("allow = %+v, want only ~/shared rw (deny wins over the include's ~/.ssh/config)", p.Filesystem.Allow)
	}
	if _, err := l.Load("d"); err == nil || !strings.Contains(err.Error(), "two includes disagree") {
		t.Errorf("conflicting includes: err = %v", err)
	}
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"unknown key", "description = \"x\"\n[network]\nmod = \"none\"\n",
			[]string{`bad.toml:3:1: network.mod: unknown key (valid in [network]: allow, deny, dns, host, listen, mode)`}},
		{"bad cidr", "description = \"x\"\n[network]\nallow = [\"10.0.0.0/33:80\"]\n",
			[]string{`bad.toml:3:11: network.allow: "10.0.0.0/33:80": bad CIDR`}},
		{"bad mode", "description = \"x\"\n[filesystem]\nhome = \"everything\"\n",
			[]string{`bad.toml:3:8: filesystem.home: invalid value "everything" (valid: private, filtered, full)`}},
		{"relative path", "description = \"x\"\n[filesystem]\ndeny = [\"docs\"]\n",
			[]string{`filesystem.deny: "docs" is relative`}},
		{"unknown variable", "description = \"x\"\n[filesystem]\ntmpfs = [\"${NOPE}/x\"]\n",
			[]string{"filesystem.tmpfs: unknown variable ${NOPE}"}},
		{"bad ports", "description = \"x\"\n[network]\ndeny = [\"::/0:0\"]\n",
			[]string{`bad port "0"`}},
		{"bad host pattern", "description = \"x\"\n[network]\nallow = [\"good.test:80\", \"exa mple.com:443\"]\n",
			[]string{`bad.toml:3:27: network.allow: "exa mple.com:443": not an address, CIDR or host name`}},
		{"bad listen port", "description = \"x\"\n[network]\nlisten = [\"0.0.0.0:99999\"]\n",
			[]string{`bad.toml:3:12: network.listen: "0.0.0.0:99999": bad port "99999"`}},
		{"bad host address", "description = \"x\"\n[network]\nhost = [\"[::1:631\"]\n",
			[]string{`network.host: "[::1:631": missing ] after an IPv6 address`}},
		{"wrong type", "description = \"x\"\n[display]\nwayland = \"yes\"\n",
			[]string{"display.wayland: must be true or false"}},
		{"bad x11 value", "description = \"x\"\n[display]\nx11 = \"yes\"\n",
			[]string{`display.x11: invalid value "yes" (valid: true, false, nested)`}},
		{"missing include", "description = \"x\"\ninclude = [\"nope\"]\n",
			[]string{`bad.toml:2:12: include: included profile "nope" not found`}},
		{"invalid toml", "description = \n", []string{"bad.toml:1:"}},
		{"several at once", "description = \"x\"\nfoo = 1\n[network]\nallow = [\"1.2.3.4/40\"]\n",
			[]string{"foo: unknown key", "network.allow"}},
	}
	for _, tt := range tests {
		dir := writeProfiles(t, map[string]string{"bad.toml": tt.src})
		l := &Loader{Path: []string{dir}, Env: testEnv, NoBuiltin: true}
		errs := l.Check(filepath.Join(dir, "bad.toml"))
		got := strings.ReplaceAll(errs.Error(), dir+"/", "")
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: errors = %q, want %q", tt.name, got, w)
			}
		}
	}
}

func TestIncludeCycle(t *testing.T) {
	dir := writeProfiles(t, map[string]string{
		"x.toml": "description = \"x\"\ninclude = [\"y\"]\n",
		"y.toml": "description = \"y\"\ninclude = [\"x\"]\n",
	})
	l := &Loader{Path: []string{dir}, Env: testEnv, NoBuiltin: true}
	errs := l.Check(filepath.Join(dir, "x.toml"))
	if !strings.Contains(errs.Error(), "include cycle x → y → x") {
		t.Fatalf("errors = %v", errs)
	}
}

func TestWhich(t *testing.T) {
	l := &Loader{Env: testEnv}
	for app, want := range map[string]string{"firefox": "firefox", "/usr/bin/firefox-esr": "firefox-esr",
		"/usr/lib/firefox-esr/firefox-esr": "firefox-esr", "soffice": "libreoffice", "some-unknown-tool": "default", "gui": "default"} {
		m, err := l.Which(app)
		if err != nil || m.Name != want {
			t.Errorf("Which(%q) = %+v, %v; want %s", app, m, err, want)
		}
	}
}

func TestSearchPathShadowsBuiltin(t *testing.T) {
	dir := writeProfiles(t, map[string]string{"firefox.toml": "description = \"mine\"\n"})
	l := &Loader{Path: []string{dir}, Env: testEnv}
	p, err := l.Load("firefox")
	if err != nil || p.Description != "mine" || p.File != filepath.Join(dir, "firefox.toml") {
		t.Fatalf("Load = %+v, %v", p, err)
	}
}

func FuzzLoad(f *testing.F) {
	ents, _ := os.ReadDir("builtin")
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join("builtin", e.Name()))
		f.Add(b)
	}
	f.Add([]byte("[network]\nallow = [\"::/0:1-2,3\"]\n[[x]]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "f.toml")
		os.WriteFile(p, src, 0o644)
		l := &Loader{Path: []string{dir}, Env: testEnv, NoBuiltin: true}
		_ = l.Check(p)
	})
}

// TestX11Nested: x11 = "nested" overrides the gui fragment's x11 = true and shows as such.
func TestX11Nested(t *testing.T) {
	dir := writeProfiles(t, map[string]string{
		"n.toml": "description = \"n\"\ninclude = [\"gui\"]\n[display]\nx11 = \"nested\"\n",
	})
	l := &Loader{Path: []string{dir}, Env: testEnv}
	p, err := l.Load("n")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Display.X11 || !p.Display.X11Nested {
		t.Errorf("Display = %+v, want X11 and X11Nested", p.Display)
	}
	if out := p.TOML(); !strings.Contains(out, `x11 = "nested"`) {
		t.Errorf("Render shows no x11 = \"nested\":\n%s", out)
	}
	g, err := l.Load("gui")
	if err != nil {
		t.Fatal(err)
	}
	if !g.Display.X11 || g.Display.X11Nested {
		t.Errorf("gui: Display = %+v, want the user's display", g.Display)
	}
}
