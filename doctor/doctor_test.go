package doctor

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeHost is a host made of maps: files, stat results and environment variables.
type fakeHost struct {
	files  map[string]string
	stats  map[string]fakeInfo
	env    map[string]string
	uid    int
	userns error
	abi    int
	llErr  error
	kvmErr error
}

type fakeInfo struct {
	mode     fs.FileMode
	uid, gid int
}

func (f fakeInfo) Name() string       { return "x" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return f }

func (h *fakeHost) ReadFile(p string) ([]byte, error) {
	if v, ok := h.files[p]; ok {
		return []byte(v), nil
	}
	return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
}

func (h *fakeHost) Stat(p string) (fs.FileInfo, error) {
	if v, ok := h.stats[p]; ok {
		return v, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
}

func (h *fakeHost) Getenv(k string) string          { return h.env[k] }
func (h *fakeHost) Getuid() int                     { return h.uid }
func (h *fakeHost) Userns() error                   { return h.userns }
func (h *fakeHost) LandlockABI() (int, error)       { return h.abi, h.llErr }
func (h *fakeHost) OpenKVM() error                  { return h.kvmErr }
func (h *fakeHost) Owner(fi fs.FileInfo) (int, int) { i := fi.(fakeInfo); return i.uid, i.gid }

// healthy is a desktop session on a host where everything works.
func healthy() *fakeHost {
	return &fakeHost{
		uid: 1000,
		abi: 4,
		files: map[string]string{
			"/proc/sys/user/max_user_namespaces":     "63000\n",
			"/proc/sys/kernel/yama/ptrace_scope":     "1\n",
			"/proc/self/status":                      "Name:\tsbx\nSeccomp:\t0\nSeccomp_filters:\t0\n",
			"/proc/sys/kernel/seccomp/actions_avail": "kill_process kill_thread trap errno user_notif trace log allow\n",
			"/etc/group":                             "root:x:0:\nkvm:x:993:\n",
		},
		stats: map[string]fakeInfo{
			"/run/user/1000":            {mode: fs.ModeDir | 0o700, uid: 1000},
			"/run/user/1000/wayland-0":  {mode: fs.ModeSocket | 0o777, uid: 1000},
			"/tmp/.X11-unix/X0":         {mode: fs.ModeSocket | 0o777},
			"/run/user/1000/pipewire-0": {mode: fs.ModeSocket | 0o777, uid: 1000},
			"/run/user/1000/bus":        {mode: fs.ModeSocket | 0o666, uid: 1000},
			"/dev/kvm":                  {mode: fs.ModeDevice | fs.ModeCharDevice | 0o660, gid: 993},
			"/sys/module/kvm_intel":     {mode: fs.ModeDir | 0o755},
		},
		env: map[string]string{
			"XDG_RUNTIME_DIR":          "/run/user/1000",
			"WAYLAND_DISPLAY":          "wayland-0",
			"DISPLAY":                  ":0",
			"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
		},
	}
}

func find(t *testing.T, rs []Result, check string) Result {
	t.Helper()
	for _, r := range rs {
		if r.Check == check {
			return r
		}
	}
	t.Fatalf("no %q row in %+v", check, rs)
	return Result{}
}

func TestHealthyHost(t *testing.T) {
	rs := Run(healthy())
	for _, r := range rs {
		if r.Status != OK {
			t.Errorf("%s = %s (%s); want ok", r.Check, r.Status, r.Detail)
		}
	}
	if !CanRun(rs) {
		t.Error("CanRun = false on a healthy host")
	}
	if d := find(t, rs, "KVM").Detail; !strings.Contains(d, "kvm_intel") {
		t.Errorf("KVM detail = %q; want the kind kvm_intel", d)
	}
}

// TestHiddenCapabilities takes one thing away from a healthy host at a time and checks the
// row that must notice, its status, a fix that names the remedy, and whether sbx can run.
func TestHiddenCapabilities(t *testing.T) {
	tests := []struct {
		name   string
		hide   func(h *fakeHost)
		check  string
		status Status
		fix    string // a substring of the fix
		canRun bool
	}{
		{"max_user_namespaces=0", func(h *fakeHost) {
			h.files["/proc/sys/user/max_user_namespaces"] = "0\n"
			h.userns = syscall.ENOSPC
		}, "user namespaces", Fail, "user.max_user_namespaces=", false},
		{"unprivileged_userns_clone=0", func(h *fakeHost) {
			h.files["/proc/sys/kernel/unprivileged_userns_clone"] = "0\n"
			h.userns = syscall.EPERM
		}, "user namespaces", Fail, "kernel.unprivileged_userns_clone=1", false},
		{"AppArmor restricts userns, no sbx profile", func(h *fakeHost) {
			h.files["/proc/sys/kernel/apparmor_restrict_unprivileged_userns"] = "1\n"
			h.files["/sys/kernel/security/apparmor/profiles"] = "unprivileged_userns (enforce)\n"
			h.userns = syscall.EACCES
		}, "user namespaces", Fail, "apparmor_parser -r /etc/apparmor.d/sbx", false},
		{"AppArmor restricts userns, no sbx profile (its row)", func(h *fakeHost) {
			h.files["/proc/sys/kernel/apparmor_restrict_unprivileged_userns"] = "1\n"
			h.files["/sys/kernel/security/apparmor/profiles"] = "unprivileged_userns (enforce)\n"
			h.userns = syscall.EPERM
		}, "AppArmor userns restriction", Fail, "apparmor_parser -r /etc/apparmor.d/sbx", false},
		{"AppArmor restricts userns, profile for another path", func(h *fakeHost) {
			h.files["/proc/sys/kernel/apparmor_restrict_unprivileged_userns"] = "1\n"
			h.files["/sys/kernel/security/apparmor/profiles"] = "sbx (unconfined)\nunprivileged_userns (enforce)\n"
			h.userns = syscall.EPERM
		}, "AppArmor userns restriction", Fail, "this binary's path", false},
		{"userns creation fails", func(h *fakeHost) { h.userns = errors.New("operation not permitted") },
			"user namespaces", Fail, "allow unprivileged user namespaces", false},
		{"ptrace_scope=2", func(h *fakeHost) { h.files["/proc/sys/kernel/yama/ptrace_scope"] = "2\n" },
			"ptrace (Yama)", Fail, "kernel.yama.ptrace_scope=1", false},
		{"ptrace_scope=3", func(h *fakeHost) { h.files["/proc/sys/kernel/yama/ptrace_scope"] = "3\n" },
			"ptrace (Yama)", Fail, "reboot", false},
		{"no seccomp", func(h *fakeHost) { h.files["/proc/self/status"] = "Name:\tsbx\n" },
			"seccomp", Fail, "CONFIG_SECCOMP_FILTER", false},
		{"seccomp without trap", func(h *fakeHost) {
			h.files["/proc/sys/kernel/seccomp/actions_avail"] = "kill_process errno allow\n"
		}, "seccomp", Fail, "4.14", false},
		{"no Landlock", func(h *fakeHost) { h.llErr = syscall.EOPNOTSUPP },
			"Landlock", Warn, "lsm=landlock", true},
		{"KVM not usable", func(h *fakeHost) { h.kvmErr = syscall.EACCES },
			"KVM", Warn, "usermod -aG kvm", true},
		{"no XDG_RUNTIME_DIR", func(h *fakeHost) { delete(h.env, "XDG_RUNTIME_DIR") },
			"XDG_RUNTIME_DIR", Warn, "XDG_RUNTIME_DIR=/run/user/", true},
		{"XDG_RUNTIME_DIR not private", func(h *fakeHost) {
			h.stats["/run/user/1000"] = fakeInfo{mode: fs.ModeDir | 0o755, uid: 1000}
		}, "XDG_RUNTIME_DIR", Warn, "chmod 700", true},
		{"no display", func(h *fakeHost) { delete(h.env, "DISPLAY"); delete(h.env, "WAYLAND_DISPLAY") },
			"display", Warn, "DISPLAY", true},
		{"no sound", func(h *fakeHost) { delete(h.stats, "/run/user/1000/pipewire-0") },
			"sound", Warn, "pipewire", true},
		{"no session bus", func(h *fakeHost) { delete(h.stats, "/run/user/1000/bus") },
			"D-Bus session bus", Warn, "dbus-run-session", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := healthy()
			tt.hide(h)
			rs := Run(h)
			r := find(t, rs, tt.check)
			if r.Status != tt.status {
				t.Errorf("%s = %s (%s); want %s", tt.check, r.Status, r.Detail, tt.status)
			}
			if !strings.Contains(r.Fix, tt.fix) {
				t.Errorf("%s fix = %q; want it to mention %q", tt.check, r.Fix, tt.fix)
			}
			if got := CanRun(rs); got != tt.canRun {
				t.Errorf("CanRun = %v; want %v", got, tt.canRun)
			}
		})
	}
}

// TestAppArmorAllowed: with the restriction on and the profile working, both rows are ok,
// even when the list of loaded profiles cannot be read (it needs privileges).
func TestAppArmorAllowed(t *testing.T) {
	h := healthy()
	h.files["/proc/sys/kernel/apparmor_restrict_unprivileged_userns"] = "1\n"
	rs := Run(h)
	for _, c := range []string{"user namespaces", "AppArmor userns restriction"} {
		if r := find(t, rs, c); r.Status != OK {
			t.Errorf("%s = %s (%s); want ok", c, r.Status, r.Detail)
		}
	}
	h.files["/sys/kernel/security/apparmor/profiles"] = "sbx (unconfined)\n"
	if d := find(t, Run(h), "AppArmor userns restriction").Detail; !strings.Contains(d, "sbx (unconfined)") {
		t.Errorf("detail = %q; want the loaded profile named", d)
	}
}

func TestKVMKinds(t *testing.T) {
	h := healthy()
	delete(h.stats, "/sys/module/kvm_intel")
	h.stats["/sys/module/kvm_pvm"] = fakeInfo{mode: fs.ModeDir}
	if d := find(t, Run(h), "KVM").Detail; !strings.Contains(d, "kvm_pvm") || !strings.Contains(d, "slower") {
		t.Errorf("KVM detail on PVM = %q; want the kind and that auto does not pick it", d)
	}
	h.kvmErr = syscall.EACCES
	if d := find(t, Run(h), "KVM").Detail; !strings.Contains(d, "kvm_pvm") {
		t.Errorf("KVM detail when not usable = %q; want the kind still named", d)
	}
	delete(h.stats, "/dev/kvm")
	if r := find(t, Run(h), "KVM"); r.Status != Info {
		t.Errorf("KVM without /dev/kvm = %s; want info", r.Status)
	}
}

// TestRealHost runs every check on this machine: the table must come out and sbx must be
// able to run here (the rest of the test suite runs it).
func TestRealHost(t *testing.T) {
	rs := Run(System{})
	for _, r := range rs {
		t.Logf("%-28s %-5s %s", r.Check, r.Status, r.Detail)
	}
	if len(rs) != 10 {
		t.Errorf("%d rows; want 10", len(rs))
	}
}
