package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
	"github.com/sbx-dev/sbx/oci/spec"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Annotations that set sbx's features for one container.
const (
	AnnotationPlatform = "run.sbx.platform" // auto, ptrace, trap
	AnnotationDebug    = "run.sbx.debug"    // "true": the kernel's diagnostics on the container's stderr
)

// rlimits maps the specification's names to Linux's resource numbers.
var rlimits = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}

// ForBundle turns an OCI bundle's spec into the plan `sbx run` would run: the root filesystem and
// every bind mount are served by the gofer (read-only where the spec says so), proc, sysfs,
// /dev and tmpfs mounts are the kernel's own, masked paths do not exist inside.
func ForBundle(id, bundle string, s *spec.Spec) (*launcher.Plan, error) {
	if s.Process == nil || len(s.Process.Args) == 0 {
		return nil, fmt.Errorf("config.json has no process.args")
	}
	if s.Root == nil || s.Root.Path == "" {
		return nil, fmt.Errorf("config.json has no root.path")
	}
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if fi, err := os.Stat(rootfs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("root filesystem %s is not a directory", rootfs)
	}
	p := &launcher.Plan{App: filepath.Base(s.Process.Args[0]), ProfileName: "oci", ProfileFile: filepath.Join(bundle, "config.json"),
		Argv: s.Process.Args, Env: s.Process.Env, Cwd: s.Process.Cwd, UID: s.Process.User.UID, GID: s.Process.User.GID,
		Hostname: s.Hostname}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if p.Hostname == "" {
		p.Hostname = id
	}
	// binds maps sandbox paths to the host paths serving them (none for the kernel's own
	// filesystems), later mounts last, to place masked paths.
	type bind struct{ inside, host string }
	binds := []bind{{"/", rootfs}}
	addGofer := func(host, inside string, ro bool) {
		p.Gofer.Mounts = append(p.Gofer.Mounts, gofer.Mount{HostPath: host, SandboxPath: inside, ReadOnly: ro})
		p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountGofer, Path: inside, GoferIndex: len(p.Gofer.Mounts) - 1, ReadOnly: ro})
		binds = append(binds, bind{inside, host})
	}
	addGofer(rootfs, "/", s.Root.Readonly)
	for _, m := range s.Mounts {
		dst := filepath.Clean(m.Destination)
		if !filepath.IsAbs(dst) {
			return nil, fmt.Errorf("mount destination %q is not absolute", m.Destination)
		}
		ro := slices.Contains(m.Options, "ro")
		isBind := m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		switch {
		case isBind:
			src := m.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(bundle, src)
			}
			if _, err := os.Stat(src); err != nil {
				return nil, fmt.Errorf("bind mount %s: %w", m.Destination, err)
			}
			addGofer(src, dst, ro)
		case m.Type == "proc":
			p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountProc, Path: dst})
			binds = append(binds, bind{dst, ""})
		case m.Type == "sysfs":
			p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountSys, Path: dst})
			binds = append(binds, bind{dst, ""})
		case dst == "/dev" && (m.Type == "tmpfs" || m.Type == "devtmpfs"):
			// The kernel's /dev holds the devices a container gets (null, zero, full,
			// random, urandom, tty, ptmx, pts).
			p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountDev, Path: dst})
			binds = append(binds, bind{dst, ""})
		case m.Type == "tmpfs":
			mode := uint32(0o1777)
			for _, o := range m.Options {
				if v, ok := strings.CutPrefix(o, "mode="); ok {
					if n, err := strconv.ParseUint(v, 8, 32); err == nil {
						mode = uint32(n)
					}
				}
			}
			p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountTmpfs, Path: dst, Mode: mode, ReadOnly: ro})
			binds = append(binds, bind{dst, ""})
		case m.Type == "devpts", m.Type == "mqueue", m.Type == "cgroup", m.Type == "cgroup2":
			// The kernel's /dev has its own pts; POSIX message queues and cgroup files
			// are not offered inside the sandbox.
		default:
			return nil, fmt.Errorf("mount %s: type %q is not supported (bind, tmpfs, proc, sysfs, devpts, mqueue, cgroup)", m.Destination, m.Type)
		}
	}
	if !slices.ContainsFunc(p.Layout, func(m sandbox.Mount) bool { return m.Path == "/dev" }) {
		p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountDev, Path: "/dev"})
	}
	if s.Linux != nil {
		for _, mp := range s.Linux.MaskedPaths {
			mp = filepath.Clean(mp)
			for i := len(binds) - 1; i >= 0; i-- {
				b := binds[i]
				if rel, ok := below(mp, b.inside); ok {
					// The kernel's /proc and /sys serve none of the host's files that
					// engines mask (kcore, keys, timer_list, firmware, ...).
					if b.host != "" {
						p.Gofer.Deny = append(p.Gofer.Deny, filepath.Join(b.host, rel))
					}
					break
				}
			}
		}
	}
	if s.Process.Rlimits != nil {
		p.Limits = map[int][2]uint64{}
		for _, r := range s.Process.Rlimits {
			n, ok := rlimits[r.Type]
			if !ok {
				return nil, fmt.Errorf("rlimit %q is not a Linux resource", r.Type)
			}
			p.Limits[n] = [2]uint64{r.Soft, r.Hard}
		}
	}
	p.Groups = append([]uint32(nil), s.Process.User.AdditionalGids...)
	if c := s.Process.Capabilities; c != nil {
		var caps [3]uint64
		for i, set := range [][]string{c.Effective, c.Permitted, c.Inheritable} {
			for _, name := range set {
				n, ok := capNumber(name)
				if !ok {
					return nil, fmt.Errorf("process.capabilities: unknown capability %q", name)
				}
				caps[i] |= 1 << n
			}
		}
		p.Caps = &caps
	}
	// A root process with root's file capabilities acts on its root filesystem as root
	// does (the gofer keeps them for it, inside its view).
	if s.Process.User.UID == 0 && (s.Process.Capabilities == nil || slices.Contains(s.Process.Capabilities.Effective, "CAP_DAC_OVERRIDE")) {
		p.Gofer.RootFileCaps = true
	}
	// The execution platform: auto (the fastest this host offers) unless an annotation
	// names one.
	choice, err := platform.Resolve(s.Annotations[AnnotationPlatform])
	if err != nil {
		return nil, fmt.Errorf("annotation %s: %w", AnnotationPlatform, err)
	}
	p.Platform = choice.Name
	if v := s.Annotations[AnnotationDebug]; v == "true" {
		p.Debug = true
	}
	return p, nil
}

// below reports whether path lies at or below dir, and the rest of it.
func below(path, dir string) (string, bool) {
	if dir == "/" {
		return strings.TrimPrefix(path, "/"), true
	}
	if path == dir {
		return "", true
	}
	if rest, ok := strings.CutPrefix(path, dir+"/"); ok {
		return rest, true
	}
	return "", false
}

// capNames are Linux's capabilities in number order (include/uapi/linux/capability.h).
var capNames = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE"}

// capNumber returns the number of a capability named CAP_X (or X).
func capNumber(name string) (int, bool) {
	i := slices.Index(capNames, strings.TrimPrefix(strings.ToUpper(name), "CAP_"))
	return i, i >= 0
}
