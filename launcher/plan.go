// Package launcher assembles and runs sandboxes: it turns a resolved profile into a Plan
// (what the gofer serves, how the sandbox's filesystem is laid out, which environment the
// app gets), starts the gofer and kernel roles in their own namespaces, relays signals, and
// serves the sandbox's control socket.
package launcher

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel/sandbox"
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
	Hostname    string
	Platform    string
	Gofer       gofer.Config
	Layout      []sandbox.Mount
	Warnings    []string
	MaxTasks    int
	Debug       bool
	Strace      bool
	// T0 is when sbx started; with Debug, start-up steps are logged relative to it.
	T0 time.Time
	// Sockets maps sandbox paths to the host sockets the socket broker connects them to.
	Sockets map[string]string
	// DBus, when set, puts a filtering proxy in front of the session bus.
	DBus *DBusPlan
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

// BuildView computes the gofer configuration and the kernel's layout for a view.
func BuildView(v ViewSpec) (gofer.Config, []sandbox.Mount, error) {
	var cfg gofer.Config
	cfg.Deny = append(cfg.Deny, v.Deny...)
	var layout []sandbox.Mount
	addGofer := func(host, inside string, ro, create bool) {
		cfg.Mounts = append(cfg.Mounts, gofer.Mount{HostPath: host, SandboxPath: inside, ReadOnly: ro, Create: create})
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
			return cfg, nil, fmt.Errorf("unknown home mode %q (valid: private, filtered, full)", v.Home)
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
		addGofer(p, p, a.ReadOnly, a.Create)
	}
	return cfg, layout, nil
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
