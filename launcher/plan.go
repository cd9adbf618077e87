// Package launcher assembles and runs sandboxes: it turns a resolved profile into a Plan
// (what the gofer serves, how the sandbox's filesystem is laid out, which environment the
// app gets), starts the gofer and kernel roles in their own namespaces, relays signals, and
// serves the sandbox's control socket.
package launcher

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel/sandbox"
	netbroker "github.com/sbx-dev/sbx/launcher/broker/net"
	"github.com/sbx-dev/sbx/launcher/dbusproxy"
)

// Plan is everything needed to start one sandbox. It is a plain value: building it touches
// nothing on the host beyond reading metadata (which system directories exist, which are
// symlinks), and `sbx profile show` and tests can print it.
type Plan struct {
	App         string
	ProfileName string
	ProfileFile string
	Argv        []string
	Env         []string
	Cwd         string
	UID, GID    uint32
	// Groups are the app's supplementary groups.
	Groups []uint32
	// Caps, when set, are the capabilities (effective, permitted, inheritable) the app's
	// root has inside the sandbox's kernel; unset, the launching user's own.
	Caps     *[3]uint64
	Hostname string
	Platform string
	Gofer    gofer.Config
	Layout   []sandbox.Mount
	Warnings []string
	MaxTasks int
	// Limits are resource limits (RLIMIT_* → soft, hard) the app starts with.
	Limits map[int][2]uint64
	// MemoryLimit bounds the sandbox's memory in bytes (0: none).
	MemoryLimit int64
	// DiskLimit bounds what the sandbox may add to the host's disk, in bytes (0: none).
	DiskLimit int64
	Debug     bool
	// DebugBlocked is how long a task may stay in one system call before a debug run
	// reports it (0: the kernel's default).
	DebugBlocked time.Duration
	Strace       bool
	// StraceSummary prints a table of the app's syscalls (calls, errors, time) at exit.
	StraceSummary bool
	// T0 is when sbx started; with Debug, start-up steps are logged relative to it.
	T0 time.Time
	// Sockets maps sandbox paths to the host sockets the socket broker connects them to.
	Sockets map[string]string
	// DBus, when set, puts a filtering proxy in front of the session bus.
	DBus *DBusPlan
	// NestedX11, when set, is an X server of the sandbox's own, started before the app.
	NestedX11 *NestedX11Plan
	// Net is the policy the net broker applies to the sandbox's Internet sockets; NetAddrs
	// the addresses the sandbox's eth0 shows (none: only lo).
	Net      netbroker.Policy
	NetAddrs []string
	// NetNS, when set, is the network namespace (a path naming it) the net broker makes
	// the sandbox's host sockets in, instead of the launcher's own: an OCI container's,
	// made by its engine. The sandbox's eth0 then shows that namespace's addresses.
	NetNS string
	// Hold starts the sandbox without running the program until Sandbox.Release (an OCI
	// container's startContainer hooks run in it first).
	Hold bool
}

// DBusPlan is the session-bus proxy of a sandbox.
type DBusPlan struct {
	Upstream    string // the real bus's socket
	Listen      string // the proxy's host socket (private to the user)
	SandboxPath string // where the app finds the bus
	Policy      dbusproxy.Policy
}

// HostPath is one host path the profile exposes.
type HostPath struct {
	Path     string
	ReadOnly bool
	Create   bool
}

// ViewSpec is the profile's filesystem view, expanded to absolute host paths.
type ViewSpec struct {
	// Home is "private", "filtered" or "full".
	Home string
	// HomeDir is the user's home directory (shown at the same path inside).
	HomeDir string
	Allow   []HostPath
	Deny    []string
	Tmpfs   []string
	Devices []string
}

// systemDirs are the read-only system directories every sandbox sees (when they exist).
var systemDirs = []string{"/usr", "/etc", "/opt", "/var/lib/dpkg", "/srv"}

// systemLinks are top-level names that merged-/usr systems make symlinks into /usr.
var systemLinks = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// Secrets are host paths that no desktop app needs and that every view hides, whatever the
// profile (as firejail's common blacklist does): password hashes, sudo rules, host private
// keys, stored network credentials, and root's home for everyone else. Shell patterns name
// several files. A profile (or --ro/--rw) that allows one of these paths, or a path below it,
// by name shows it again.
var Secrets = []string{
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
	"/etc/sudoers", "/etc/sudoers.d", "/etc/doas.conf", "/etc/security/opasswd",
	"/etc/ssh/ssh_host_*_key", "/etc/ssl/private", "/etc/krb5.keytab", "/etc/crypttab",
	"/etc/credstore", "/etc/credstore.encrypted", "/etc/letsencrypt",
	"/etc/NetworkManager/system-connections", "/etc/wpa_supplicant", "/etc/wireguard",
	"/etc/openvpn", "/etc/ipsec.secrets", "/etc/ppp/chap-secrets", "/etc/ppp/pap-secrets",
	"/root",
}

// secretDeny expands Secrets for one view: patterns become the host files they match, and
// what the view allows by name, or the user's own home, stays visible.
func secretDeny(v ViewSpec) []string {
	var out []string
	for _, s := range Secrets {
		paths := []string{s}
		if strings.ContainsAny(s, "*?[") {
			paths, _ = filepath.Glob(s) // a malformed pattern is a bug caught by the tests
		}
		for _, p := range paths {
			if p == v.HomeDir || strings.HasPrefix(v.HomeDir, p+"/") {
				continue
			}
			lifted := false
			for _, a := range v.Allow {
				c := filepath.Clean(a.Path)
				if c == p || strings.HasPrefix(c, p+"/") {
					lifted = true
				}
			}
			if !lifted {
				out = append(out, p)
			}
		}
	}
	return out
}

// systemWritable reports why a read-write allow of p would expose the system tree: p is the
// root, or a system directory, or holds one (/var for /var/lib/dpkg). Paths below a system
// directory (/srv/project) may be writable.
func systemWritable(p string) bool {
	if p == "/" {
		return true
	}
	for _, d := range append(append([]string{"/boot", "/proc", "/sys", "/dev", "/run"}, systemDirs...), systemLinks...) {
		if d == p || strings.HasPrefix(d, p+"/") {
			return true
		}
	}
	return false
}

// BuildView computes the gofer configuration and the kernel's layout for a view, and the
// warnings the user should see about it.
func BuildView(v ViewSpec) (gofer.Config, []sandbox.Mount, []string, error) {
	var warnings []string
	var cfg gofer.Config
	cfg.Deny = append(cfg.Deny, v.Deny...)
	cfg.Deny = append(cfg.Deny, secretDeny(v)...)
	var layout []sandbox.Mount
	addGofer := func(host, inside string, ro, create bool) {
		// Only the system's directories are taken as unchanging while the sandbox runs;
		// what a profile shows read-only (the user's settings) other programs rewrite.
		live := ro && !slices.Contains(systemDirs, host) && !slices.Contains(systemLinks, host)
		cfg.Mounts = append(cfg.Mounts, gofer.Mount{HostPath: host, SandboxPath: inside, ReadOnly: ro, Create: create, Live: live})
		layout = append(layout, sandbox.Mount{Kind: sandbox.MountGofer, Path: inside, GoferIndex: len(cfg.Mounts) - 1, ReadOnly: ro})
	}
	for _, d := range systemDirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			addGofer(d, d, true, false)
		}
	}
	for _, l := range systemLinks {
		fi, err := os.Lstat(l)
		if err != nil {
			continue
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(l)
			if err != nil {
				continue
			}
			layout = append(layout, sandbox.Mount{Kind: sandbox.MountSymlink, Path: l, Target: target})
		} else if fi.IsDir() {
			addGofer(l, l, true, false)
		}
	}
	layout = append(layout,
		sandbox.Mount{Kind: sandbox.MountProc, Path: "/proc"},
		sandbox.Mount{Kind: sandbox.MountDev, Path: "/dev"},
		sandbox.Mount{Kind: sandbox.MountTmpfs, Path: "/dev/shm", Mode: 0o1777},
		sandbox.Mount{Kind: sandbox.MountSys, Path: "/sys"},
		sandbox.Mount{Kind: sandbox.MountTmpfs, Path: "/tmp", Mode: 0o1777},
		sandbox.Mount{Kind: sandbox.MountDir, Path: "/run"},
		sandbox.Mount{Kind: sandbox.MountDir, Path: "/var/tmp"},
	)
	if v.HomeDir != "" {
		switch v.Home {
		case "full":
			addGofer(v.HomeDir, v.HomeDir, false, false)
		case "private", "filtered", "":
			layout = append(layout, sandbox.Mount{Kind: sandbox.MountTmpfs, Path: v.HomeDir, Mode: 0o700, Owned: true})
		default:
			return cfg, nil, nil, fmt.Errorf("unknown home mode %q (valid: private, filtered, full)", v.Home)
		}
	}
	for _, t := range v.Tmpfs {
		layout = append(layout, sandbox.Mount{Kind: sandbox.MountTmpfs, Path: t, Mode: 0o1777})
	}
	// Allowed paths, shallowest first so nested mounts land on top of their parents.
	allow := append([]HostPath(nil), v.Allow...)
	sort.SliceStable(allow, func(i, j int) bool {
		return strings.Count(filepath.Clean(allow[i].Path), "/") < strings.Count(filepath.Clean(allow[j].Path), "/")
	})
	for _, a := range allow {
		p := filepath.Clean(a.Path)
		if _, err := os.Stat(p); err != nil {
			if !a.Create {
				continue // an optional path that does not exist on this host
			}
		}
		if v.Home == "full" && strings.HasPrefix(p, v.HomeDir+"/") && !a.ReadOnly {
			continue // already visible read-write through the home mount
		}
		if !a.ReadOnly && systemWritable(p) {
			// The system tree stays read-only in every view (a profile allowing ${CWD}
			// read-write, started in /etc, say).
			warnings = append(warnings, fmt.Sprintf("%s is shown read-only: the system's directories are never writable in a sandbox", p))
			a.ReadOnly = true
		}
		addGofer(p, p, a.ReadOnly, a.Create)
	}
	return cfg, layout, warnings, nil
}

// CleanEnv builds the app's environment: a small, profile-controlled set, never the whole
// host environment.
func CleanEnv(host []string, home string, pass []string, set map[string]string) []string {
	keep := map[string]bool{"TERM": true, "LANG": true, "LANGUAGE": true, "COLORTERM": true, "TZ": true,
		"USER": true, "LOGNAME": true, "NO_COLOR": true}
	for _, p := range pass {
		keep[p] = true
	}
	env := map[string]string{}
	for _, kv := range host {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if keep[k] || strings.HasPrefix(k, "LC_") {
			env[k] = v
		}
	}
	env["HOME"] = home
	env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	env["SBX"] = "1"
	if env["TERM"] == "" {
		env["TERM"] = "dumb"
	}
	for k, v := range set {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
