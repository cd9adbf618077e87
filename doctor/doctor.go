// Package doctor checks whether this host can run sbx, and what it would take to run it
// fully: unprivileged user namespaces (and Ubuntu's AppArmor restriction of them), Yama's
// ptrace_scope, seccomp, Landlock, KVM, the display, sound and D-Bus sockets, and
// XDG_RUNTIME_DIR. Every check reads the host through the Host interface, so tests fake
// the host instead of changing it.
package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Status is the outcome of one check.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn" // sbx runs, but something is missing (a feature, a socket)
	Fail Status = "fail" // sbx cannot run at all
	Info Status = "info" // nothing wrong; something worth knowing
)

// Result is one row of the report.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Host is what the checks read. System is the real one.
type Host interface {
	ReadFile(path string) ([]byte, error)
	Stat(path string) (fs.FileInfo, error)
	Getenv(key string) string
	Getuid() int
	// Userns creates a user namespace (in a child process) and reports why it could not.
	Userns() error
	// LandlockABI returns the Landlock ABI version the kernel offers.
	LandlockABI() (int, error)
	// OpenKVM opens /dev/kvm read-write and asks its API version.
	OpenKVM() error
	// Owner returns the owner uid and gid of a file.
	Owner(fi fs.FileInfo) (uid, gid int)
}

// Run runs every check against h, in the order of the report.
func Run(h Host) []Result {
	var out []Result
	for _, c := range []func(Host) Result{checkUserns, checkAppArmor, checkPtrace, checkSeccomp, checkLandlock,
		checkKVM, checkRuntimeDir, checkDisplay, checkSound, checkDBus} {
		out = append(out, c(h))
	}
	return out
}

// CanRun reports whether no check failed: a failure means sbx cannot run at all.
func CanRun(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return false
		}
	}
	return true
}

func readTrim(h Host, path string) (string, error) {
	b, err := h.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

func checkUserns(h Host) Result {
	r := Result{Check: "user namespaces"}
	if v, err := readTrim(h, "/proc/sys/user/max_user_namespaces"); err == nil && v == "0" {
		r.Status, r.Detail = Fail, "user.max_user_namespaces is 0: no process may create a user namespace"
		r.Fix = "sudo sysctl -w user.max_user_namespaces=15000 (and set it in /etc/sysctl.d/ to keep it)"
		return r
	}
	if v, err := readTrim(h, "/proc/sys/kernel/unprivileged_userns_clone"); err == nil && v == "0" {
		r.Status, r.Detail = Fail, "kernel.unprivileged_userns_clone is 0: only root may create user namespaces"
		r.Fix = "sudo sysctl -w kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d/ to keep it)"
		return r
	}
	if err := h.Userns(); err != nil {
		r.Status, r.Detail = Fail, "creating a user namespace failed: "+err.Error()
		r.Fix = "allow unprivileged user namespaces (see the AppArmor row; on hardened kernels the sysctls above)"
		if restricted(h) {
			r.Fix = "sudo apparmor_parser -r /etc/apparmor.d/sbx (installed by the sbx package)"
		}
		return r
	}
	r.Status, r.Detail = OK, "unprivileged user namespaces work"
	return r
}

// restricted reports Ubuntu's (>= 23.10) AppArmor restriction of unprivileged user namespaces.
func restricted(h Host) bool {
	v, err := readTrim(h, "/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
	return err == nil && v == "1"
}

func checkAppArmor(h Host) Result {
	r := Result{Check: "AppArmor userns restriction"}
	if !restricted(h) {
		r.Status, r.Detail = OK, "not restricting user namespaces"
		return r
	}
	loaded := ""
	if profiles, err := h.ReadFile("/sys/kernel/security/apparmor/profiles"); err == nil {
		for _, l := range strings.Split(string(profiles), "\n") {
			if strings.HasPrefix(l, "sbx ") {
				loaded = strings.TrimSpace(l)
			}
		}
	}
	if err := h.Userns(); err == nil {
		r.Status, r.Detail = OK, "restricting user namespaces; sbx may create them"
		if loaded != "" {
			r.Detail += " (profile " + loaded + ")"
		}
		return r
	}
	r.Status = Fail
	r.Detail = "kernel.apparmor_restrict_unprivileged_userns=1 and no AppArmor profile lets this sbx create user namespaces"
	r.Fix = "install the sbx package (it ships /etc/apparmor.d/sbx), or sudo apparmor_parser -r /etc/apparmor.d/sbx"
	if loaded != "" {
		r.Detail = "kernel.apparmor_restrict_unprivileged_userns=1; profile " + loaded + " is loaded but does not cover this binary"
		r.Fix = "run the packaged /usr/bin/sbx, or copy /etc/apparmor.d/sbx with this binary's path and load it with sudo apparmor_parser -r"
	}
	return r
}

func checkPtrace(h Host) Result {
	r := Result{Check: "ptrace (Yama)"}
	v, err := readTrim(h, "/proc/sys/kernel/yama/ptrace_scope")
	if err != nil {
		r.Status, r.Detail = OK, "Yama is not active: ptrace is not restricted"
		return r
	}
	switch v {
	case "0", "1":
		r.Status, r.Detail = OK, "ptrace_scope="+v+": sbx may trace the processes it starts"
	case "2":
		r.Status, r.Detail = Fail, "ptrace_scope=2: only processes with CAP_SYS_PTRACE may trace"
		r.Fix = "sudo sysctl -w kernel.yama.ptrace_scope=1 (1 lets a process trace its own descendants)"
	case "3":
		r.Status, r.Detail = Fail, "ptrace_scope=3: ptrace is disabled until reboot"
		r.Fix = "set kernel.yama.ptrace_scope=1 in /etc/sysctl.d/ and reboot (3 cannot be lowered at run time)"
	default:
		r.Status, r.Detail = Warn, "unknown ptrace_scope "+strconv.Quote(v)
	}
	return r
}

func checkSeccomp(h Host) Result {
	r := Result{Check: "seccomp"}
	status, err := h.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(status), "\nSeccomp:") {
		r.Status, r.Detail = Fail, "the kernel has no seccomp (CONFIG_SECCOMP_FILTER)"
		r.Fix = "use a kernel built with CONFIG_SECCOMP_FILTER=y (every distribution kernel is)"
		return r
	}
	actions, err := readTrim(h, "/proc/sys/kernel/seccomp/actions_avail")
	if err != nil {
		r.Status, r.Detail = Warn, "cannot read seccomp's actions: "+errText(err)
		return r
	}
	have := map[string]bool{}
	for _, a := range strings.Fields(actions) {
		have[a] = true
	}
	var missing []string
	for _, a := range []string{"kill_process", "trap", "errno", "allow"} {
		if !have[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		r.Status, r.Detail = Fail, "seccomp lacks the actions "+strings.Join(missing, ", ")
		r.Fix = "use Linux 4.14 or newer"
		return r
	}
	r.Status, r.Detail = OK, "filters with "+actions
	return r
}

func checkLandlock(h Host) Result {
	r := Result{Check: "Landlock"}
	abi, err := h.LandlockABI()
	if err != nil {
		r.Status, r.Detail = Warn, "unavailable ("+errText(err)+"): the file server confines itself without it"
		r.Fix = "use Linux 5.13 or newer with Landlock in the LSM list (boot with lsm=landlock,... if it is built but off)"
		return r
	}
	r.Status, r.Detail = OK, "ABI version "+strconv.Itoa(abi)
	return r
}

func checkKVM(h Host) Result {
	r := Result{Check: "KVM"}
	kind := kvmKind(h)
	fi, err := h.Stat("/dev/kvm")
	if err != nil {
		r.Status, r.Detail = Info, "no /dev/kvm: the ptrace and trap platforms are used"
		if kind != "" {
			r.Detail = "the " + kind + " module is loaded but there is no /dev/kvm"
		}
		return r
	}
	if err := h.OpenKVM(); err != nil {
		r.Status, r.Detail = Warn, "/dev/kvm is not usable by this user ("+errText(err)+"); the ptrace and trap platforms are used"
		if kind != "" {
			r.Detail = "/dev/kvm (" + kind + ") is not usable by this user (" + errText(err) + "); the ptrace and trap platforms are used"
		}
		_, gid := h.Owner(fi)
		if g := groupName(h, gid); g != "" && g != "root" {
			r.Fix = "sudo usermod -aG " + g + " $USER, then log in again"
		} else {
			r.Fix = "ask the administrator to give your user read-write access to /dev/kvm"
		}
		return r
	}
	if kind == "" {
		kind = "unknown kind"
	}
	r.Status, r.Detail = OK, "/dev/kvm usable ("+kind+")"
	if kind == "kvm_pvm" {
		r.Detail += "; PVM is slower than the trap platform here, so auto does not pick it"
	}
	return r
}

// kvmKind names the loaded KVM module: kvm_intel (VT-x), kvm_amd (AMD-V) or kvm_pvm.
func kvmKind(h Host) string {
	for _, m := range []string{"kvm_intel", "kvm_amd", "kvm_pvm"} {
		if _, err := h.Stat("/sys/module/" + m); err == nil {
			return m
		}
	}
	return ""
}

func groupName(h Host, gid int) string {
	b, err := h.ReadFile("/etc/group")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 3 && f[2] == strconv.Itoa(gid) {
			return f[0]
		}
	}
	return ""
}

func checkRuntimeDir(h Host) Result {
	r := Result{Check: "XDG_RUNTIME_DIR"}
	dir := h.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		r.Status, r.Detail = Warn, "not set: sandboxes' control sockets go to /tmp, and apps get no runtime directory"
		r.Fix = "log in through a session manager (systemd-logind, elogind) or export XDG_RUNTIME_DIR=/run/user/$(id -u)"
		return r
	}
	fi, err := h.Stat(dir)
	if err != nil {
		r.Status, r.Detail = Warn, dir+": "+errText(err)
		r.Fix = "create it: mkdir -m 700 " + dir
		return r
	}
	uid, _ := h.Owner(fi)
	switch {
	case !fi.IsDir():
		r.Status, r.Detail, r.Fix = Warn, dir+" is not a directory", "point XDG_RUNTIME_DIR at your runtime directory"
	case uid != h.Getuid():
		r.Status, r.Detail, r.Fix = Warn, dir+" belongs to uid "+strconv.Itoa(uid), "point XDG_RUNTIME_DIR at a directory of yours"
	case fi.Mode().Perm()&0o077 != 0:
		r.Status, r.Detail, r.Fix = Warn, fmt.Sprintf("%s has mode %o; it must be private", dir, fi.Mode().Perm()), "chmod 700 "+dir
	default:
		r.Status, r.Detail = OK, dir
	}
	return r
}

// isSocket reports whether path is a unix socket.
func isSocket(h Host, path string) bool {
	fi, err := h.Stat(path)
	return err == nil && fi.Mode()&fs.ModeSocket != 0
}

func checkDisplay(h Host) Result {
	r := Result{Check: "display"}
	var found []string
	if w := h.Getenv("WAYLAND_DISPLAY"); w != "" {
		p := w
		if !strings.HasPrefix(w, "/") {
			p = h.Getenv("XDG_RUNTIME_DIR") + "/" + w
		}
		if isSocket(h, p) {
			found = append(found, "Wayland "+p)
		}
	}
	if d := h.Getenv("DISPLAY"); d != "" {
		if n, ok := x11Number(d); ok {
			p := "/tmp/.X11-unix/X" + n
			if isSocket(h, p) {
				found = append(found, "X11 "+p)
			}
		} else {
			found = append(found, "X11 "+d+" (TCP display: not brokered)")
		}
	}
	if len(found) == 0 {
		r.Status, r.Detail = Warn, "no Wayland or X11 socket (WAYLAND_DISPLAY, DISPLAY): graphical apps cannot show windows"
		r.Fix = "run sbx from a graphical session, or set DISPLAY/WAYLAND_DISPLAY to a running server"
		return r
	}
	r.Status, r.Detail = OK, strings.Join(found, ", ")
	return r
}

// x11Number extracts N from ":N", ":N.S" or "unix:N".
func x11Number(d string) (string, bool) {
	d = strings.TrimPrefix(d, "unix")
	if !strings.HasPrefix(d, ":") {
		return "", false
	}
	n, _, _ := strings.Cut(d[1:], ".")
	if _, err := strconv.Atoi(n); err != nil {
		return "", false
	}
	return n, true
}

func checkSound(h Host) Result {
	r := Result{Check: "sound"}
	rt := h.Getenv("XDG_RUNTIME_DIR")
	var found []string
	if rt != "" && isSocket(h, rt+"/pipewire-0") {
		found = append(found, "PipeWire "+rt+"/pipewire-0")
	}
	pulse := ""
	if s := h.Getenv("PULSE_SERVER"); strings.HasPrefix(s, "unix:") {
		pulse = strings.TrimPrefix(s, "unix:")
	} else if rt != "" {
		pulse = rt + "/pulse/native"
	}
	if pulse != "" && isSocket(h, pulse) {
		found = append(found, "PulseAudio "+pulse)
	}
	if len(found) == 0 {
		r.Status, r.Detail = Warn, "no PipeWire or PulseAudio socket in XDG_RUNTIME_DIR: apps play no sound"
		r.Fix = "start your sound server (systemctl --user start pipewire pipewire-pulse)"
		return r
	}
	r.Status, r.Detail = OK, strings.Join(found, ", ")
	return r
}

func checkDBus(h Host) Result {
	r := Result{Check: "D-Bus session bus"}
	addr := h.Getenv("DBUS_SESSION_BUS_ADDRESS")
	path := ""
	for _, part := range strings.Split(addr, ";") {
		if rest, ok := strings.CutPrefix(part, "unix:"); ok {
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "path="); ok {
					path = v
				}
			}
		}
		if path != "" {
			break
		}
	}
	if path == "" && addr == "" && h.Getenv("XDG_RUNTIME_DIR") != "" {
		path = h.Getenv("XDG_RUNTIME_DIR") + "/bus"
	}
	if path == "" {
		r.Status, r.Detail = Warn, "no unix:path= session bus address (DBUS_SESSION_BUS_ADDRESS="+strconv.Quote(addr)+"): apps get no D-Bus"
		r.Fix = "run sbx from a desktop session, or start one: dbus-run-session -- sbx run APP"
		return r
	}
	if !isSocket(h, path) {
		r.Status, r.Detail = Warn, "no session bus socket at "+path+": apps get no D-Bus"
		r.Fix = "start the session bus (systemctl --user start dbus), or dbus-run-session -- sbx run APP"
		return r
	}
	r.Status, r.Detail = OK, path
	return r
}

// errText is err without the Go path-error prefix when it has one.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
