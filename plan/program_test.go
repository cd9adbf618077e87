package plan

import (
	"errors"
	"github.com/sbx-dev/sbx/platform/kvm"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
	"github.com/sbx-dev/sbx/profiles"
)

// fixture is a user with a home directory of their own and a profiles directory.
type fixture struct {
	home, work, profileDir string
	loader                 *profiles.Loader
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{home: filepath.Join(root, "home/u"), profileDir: filepath.Join(root, "profiles")}
	f.work = filepath.Join(f.home, "src/project")
	for _, d := range []string{f.work, f.profileDir, filepath.Join(f.home, "Documents"), filepath.Join(f.home, ".ssh")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := profiles.Env{Home: f.home, ConfigHome: f.home + "/.config", DataHome: f.home + "/.local/share", CacheHome: f.home + "/.cache",
		RuntimeDir: "/run/user/1000", Downloads: f.home + "/Downloads", Cwd: f.work}
	f.loader = &profiles.Loader{Path: []string{f.profileDir}, Env: env, NoBuiltin: true}
	return f
}

func (f *fixture) profile(t *testing.T, name, body string) *profiles.Profile {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.profileDir, name+".toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Pick(f.loader, name, "app")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) options(p *profiles.Profile) Options {
	return Options{Argv: []string{"/usr/bin/app", "arg"}, Profile: p, Home: f.home, WorkDir: f.work, UID: 1000, GID: 1000,
		Environ: []string{"HOME=/elsewhere", "LANG=C.UTF-8", "SECRET_TOKEN=x", "EDITOR=vi", "PATH=/home/u/bin"}}
}

func gofers(p *launcher.Plan) map[string]bool {
	out := map[string]bool{} // sandbox path → read-only
	for _, m := range p.Gofer.Mounts {
		out[m.SandboxPath] = m.ReadOnly
	}
	return out
}

func TestForProgramView(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name       string
		profile    string
		ro, rw     []string
		shown      map[string]bool // path → read-only
		hidden     []string
		wantDenied []string
	}{
		{name: "private home shows no host path of it",
			profile: "description = \"p\"\n[filesystem]\nhome = \"private\"\nallow = [ { path = \"~/Documents\", mode = \"rw\" } ]\n",
			shown:   map[string]bool{"/usr": true, "/etc": true}, hidden: []string{f.home + "/Documents", f.home}},
		{name: "filtered home shows what is allowed",
			profile: "description = \"p\"\n[filesystem]\nhome = \"filtered\"\nallow = [ { path = \"~/Documents\", mode = \"rw\" }, \"~/missing\" ]\ndeny = [\"~/.ssh\"]\n",
			shown:   map[string]bool{f.home + "/Documents": false}, hidden: []string{f.home + "/missing"}, wantDenied: []string{f.home + "/.ssh"}},
		{name: "full home", profile: "description = \"p\"\n[filesystem]\nhome = \"full\"\n",
			shown: map[string]bool{f.home: false}},
		{name: "--ro and --rw, relative to the current directory",
			profile: "description = \"p\"\n", ro: []string{"."}, rw: []string{f.home + "/Documents"},
			shown: map[string]bool{f.work: true, f.home + "/Documents": false}},
		{name: "secrets are denied whatever the profile", profile: "description = \"p\"\n",
			wantDenied: []string{"/etc/shadow", "/etc/gshadow", "/etc/sudoers.d"}},
	}
	for _, tt := range tests {
		o := f.options(f.profile(t, "view", tt.profile))
		o.RO, o.RW = tt.ro, tt.rw
		p, err := ForProgram(o)
		if err != nil {
			t.Errorf("%s: ForProgram: %v", tt.name, err)
			continue
		}
		got := gofers(p)
		for path, ro := range tt.shown {
			if gotRO, ok := got[path]; !ok || gotRO != ro {
				t.Errorf("%s: %s shown=%v read-only=%v, want shown read-only=%v (mounts %v)", tt.name, path, ok, gotRO, ro, got)
			}
		}
		for _, path := range tt.hidden {
			if _, ok := got[path]; ok {
				t.Errorf("%s: %s is served, want it hidden", tt.name, path)
			}
		}
		for _, d := range tt.wantDenied {
			if !slices.Contains(p.Gofer.Deny, d) {
				t.Errorf("%s: deny = %v, want %s in it", tt.name, p.Gofer.Deny, d)
			}
		}
	}
}

func TestForProgramProcess(t *testing.T) {
	f := newFixture(t)
	prof := f.profile(t, "proc", "description = \"p\"\n[filesystem]\nhome = \"filtered\"\nallow = [ { path = \"~/src\", mode = \"rw\" } ]\n[env]\npass = [\"EDITOR\"]\nset = { APP_MODE = \"sandboxed\" }\n[resources]\ntasks = 64\n")
	p, err := ForProgram(f.options(prof))
	if err != nil {
		t.Fatal(err)
	}
	if p.App != "app" || !slices.Equal(p.Argv, []string{"/usr/bin/app", "arg"}) || p.UID != 1000 || p.GID != 1000 || p.MaxTasks != 64 || p.Hostname != "sbx" {
		t.Errorf("ForProgram: app %q argv %v ids %d:%d tasks %d host %q", p.App, p.Argv, p.UID, p.GID, p.MaxTasks, p.Hostname)
	}
	env := strings.Join(p.Env, "\n")
	for _, want := range []string{"HOME=" + f.home, "LANG=C.UTF-8", "EDITOR=vi", "APP_MODE=sandboxed", "SBX=1", "PATH=/usr/local/sbin:"} {
		if !strings.Contains(env, want) {
			t.Errorf("ForProgram: environment lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "SECRET_TOKEN") {
		t.Errorf("ForProgram: a host variable the profile does not pass leaked:\n%s", env)
	}
	if p.Cwd != f.work {
		t.Errorf("ForProgram: cwd %q, want the current directory %s (shown through ~/src)", p.Cwd, f.work)
	}
	if p.Platform == "" {
		t.Error("ForProgram: no platform chosen")
	}

	// The current directory not shown: the home. --cwd: as given.
	o := f.options(f.profile(t, "nosrc", "description = \"p\"\n[filesystem]\nhome = \"filtered\"\n"))
	if p, err := ForProgram(o); err != nil || p.Cwd != f.home {
		t.Errorf("ForProgram with a hidden current directory: cwd %q (%v), want the home %s", p.Cwd, err, f.home)
	}
	o.Cwd = "/tmp"
	if p, err := ForProgram(o); err != nil || p.Cwd != "/tmp" {
		t.Errorf("ForProgram with --cwd /tmp: cwd %q (%v)", p.Cwd, err)
	}
	o.Cwd, o.WorkDir = "", "/usr/share"
	if p, err := ForProgram(o); err != nil || p.Cwd != "/usr/share" {
		t.Errorf("ForProgram in /usr/share: cwd %q (%v), want /usr/share", p.Cwd, err)
	}
}

func TestForProgramRefusalsAndWarnings(t *testing.T) {
	f := newFixture(t)
	plain := f.profile(t, "plain", "description = \"p\"\n")
	o := f.options(plain)
	o.RW = []string{"/nonexistent/sbx-path"}
	var ue *UsageError
	if _, err := ForProgram(o); !errors.As(err, &ue) {
		t.Errorf("--rw of a missing path: %v, want a UsageError", err)
	}
	o = f.options(plain)
	o.Platform = "kvm"
	if kvm.Probe() == nil {
		if p, err := ForProgram(o); err != nil || p.Platform != "kvm" {
			t.Errorf("--platform kvm where KVM works: %v", err)
		}
	} else if _, err := ForProgram(o); err == nil || !strings.Contains(err.Error(), "kvm") {
		t.Errorf("--platform kvm where KVM cannot run: %v, want an error naming kvm", err)
	}
	o.Platform = "bogus"
	if _, err := ForProgram(o); err == nil || !strings.Contains(err.Error(), "unknown platform") {
		t.Errorf("--platform bogus: %v", err)
	}
	o = f.options(f.profile(t, "bus", "description = \"p\"\n[network]\nmode = \"full\"\n[dbus]\ntalk = [\"org.example.*\"]\n"))
	o.Environ = []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(t.TempDir(), "no-bus")}
	p, err := ForProgram(o)
	if err != nil {
		t.Fatal(err)
	}
	warn := strings.Join(p.Warnings, "\n")
	if !strings.Contains(warn, "D-Bus withheld: no session bus") || p.DBus != nil {
		t.Errorf("ForProgram without a session bus: warnings %q, dbus %v", warn, p.DBus)
	}
	if p.Net.Mode != profiles.NetFull {
		t.Errorf("ForProgram: the net broker's mode is %q, want the profile's full", p.Net.Mode)
	}
	o = f.options(f.profile(t, "cwdrw", "description = \"p\"\n[filesystem]\nallow = [ { path = \"${CWD}\", mode = \"rw\" } ]\n"))
	o.WorkDir = "/etc"
	f.loader.Env.Cwd = "/etc"
	o.Profile, _ = Pick(f.loader, "cwdrw", "app")
	p, err = ForProgram(o)
	if err != nil {
		t.Fatal(err)
	}
	if ro, ok := gofers(p)["/etc"]; !ok || !ro || !strings.Contains(strings.Join(p.Warnings, "\n"), "/etc is shown read-only") {
		t.Errorf("${CWD} read-write in /etc: served %v read-only %v, warnings %q", ok, ro, p.Warnings)
	}
	for _, m := range p.Layout {
		if m.Kind == sandbox.MountGofer && m.Path == "/etc" && !m.ReadOnly {
			t.Errorf("/etc laid out writable")
		}
	}
}
