package plan

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sbx-dev/sbx/gofer"
	"github.com/sbx-dev/sbx/kernel/sandbox"
	"github.com/sbx-dev/sbx/launcher"
	netbroker "github.com/sbx-dev/sbx/launcher/broker/net"
	"github.com/sbx-dev/sbx/oci/spec"
	"github.com/sbx-dev/sbx/platform"
	"github.com/sbx-dev/sbx/profiles"
	"golang.org/x/sys/unix"
)

// Annotations that set sbx's features for one container.
const (
	AnnotationPlatform = "run.sbx.platform" // auto, ptrace, trap
	AnnotationDebug    = "run.sbx.debug"    // "true": the kernel's diagnostics on the container's stderr
	// AnnotationProfile names an sbx profile whose [network] policy (and [resources], where
	// the spec sets none) the container gets instead of its network namespace's full reach.
	AnnotationProfile = "run.sbx.profile"
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
// /dev and tmpfs mounts are the kernel's own, masked and read-only paths are mounts of the
// kernel's, the network is the namespace the engine made (entered by the net broker), and
// the cgroup limits the spec sets are the kernel's own limits.
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
	// resolvSource is the host file the engine binds at /etc/resolv.conf (its nameservers
	// are the container's).
	resolvSource := ""
	addGofer := func(host, inside string, ro bool) {
		p.Gofer.Mounts = append(p.Gofer.Mounts, gofer.Mount{HostPath: host, SandboxPath: inside, ReadOnly: ro})
		p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountGofer, Path: inside, GoferIndex: len(p.Gofer.Mounts) - 1, ReadOnly: ro})
		if inside == "/etc/resolv.conf" {
			resolvSource = host
		}
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
		case m.Type == "sysfs":
			p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountSys, Path: dst})
		case dst == "/dev" && (m.Type == "tmpfs" || m.Type == "devtmpfs"):
			// The kernel's /dev holds the devices a container gets (null, zero, full,
			// random, urandom, tty, ptmx, pts).
			p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountDev, Path: dst})
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
		// After every mount, as runc applies them: masks and read-only paths cover what
		// the mounts put there.
		for _, mp := range s.Linux.MaskedPaths {
			p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountMask, Path: filepath.Clean(mp)})
		}
		for _, rp := range s.Linux.ReadonlyPaths {
			p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountReadOnly, Path: filepath.Clean(rp)})
		}
	}
	if err := bundleNet(p, s, resolvSource); err != nil {
		return nil, err
	}
	if err := bundleResources(p, s); err != nil {
		return nil, err
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

// NewNetNS is the Plan.NetNS of a container whose spec asks for a new network namespace:
// the runtime makes it for the container's monitor, where the net broker then lives (an
// engine's hooks configure it, as Docker's do), and the launcher never sees this value.
const NewNetNS = "new"

// bundleNet sets the container's network. A network namespace the engine made (a path:
// podman's bridge, slirp4netns, CNI) is the container's network: the net broker makes the
// container's host sockets in it, and the engine's network configuration is the policy
// (every destination the namespace routes to, serving on any port, its loopback the
// container's own). A namespace to be made new (no path) is the runtime's to make (see
// NewNetNS), empty but for what the engine's hooks put in it; where the runtime cannot
// make one (unprivileged), the container has no network but the kernel's private
// loopback. No network namespace at all shares the runtime's, as runc does. An sbx
// profile named by the run.sbx.profile annotation replaces the policy with its [network].
func bundleNet(p *launcher.Plan, s *spec.Spec, resolvSource string) error {
	path, own := "", false
	if s.Linux != nil {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == "network" {
				path, own = ns.Path, true
			}
		}
	}
	var prof *profiles.Profile
	if name := s.Annotations[AnnotationProfile]; name != "" {
		var err error
		if prof, err = profiles.NewLoader().Load(name); err != nil {
			return fmt.Errorf("annotation %s: %w", AnnotationProfile, err)
		}
		if p.MaxTasks == 0 {
			p.MaxTasks = prof.Resources.Tasks
		}
		if prof.Resources.Memory != 0 {
			p.MemoryLimit = memoryLimit(prof.Resources.Memory)
		}
	}
	if own && path == "" {
		// The runtime makes the namespace (oci.Runtime.Create), or cannot (unprivileged)
		// and the container has no network.
		p.NetNS = NewNetNS
	} else if own {
		if fi, err := os.Stat(path); err != nil {
			return fmt.Errorf("network namespace %s: %w", path, err)
		} else if fi.IsDir() {
			return fmt.Errorf("network namespace %s is a directory, not a namespace", path)
		}
		p.NetNS = path
	} else {
		p.NetAddrs = HostAddrs()
	}
	anyAddr := []netbroker.Rule{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Text: "0.0.0.0/0"}, {Prefix: netip.MustParsePrefix("::/0"), Text: "::/0"}}
	loop := []netbroker.Rule{{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Text: "127.0.0.0/8"}, {Prefix: netip.MustParsePrefix("::1/128"), Text: "::1"}}
	p.Net = netbroker.Policy{Mode: netbroker.ModeFull, Listen: anyAddr, Host: loop}
	if prof == nil {
		return nil
	}
	p.Net = netPolicy(prof.Network)
	p.Net.Resolver, p.Net.Upstreams = netip.AddrPort{}, nil
	if prof.Network.DNS && resolvSource != "" {
		// Names resolve through the broker (so that name rules apply), which asks the
		// nameservers the engine gave the container.
		p.Net.Resolver = sandboxResolver
		for _, a := range hostResolvers(resolvSource) {
			p.Net.Upstreams = append(p.Net.Upstreams, netip.AddrPortFrom(a, 53))
		}
		p.Layout = append(p.Layout, sandbox.Mount{Kind: sandbox.MountFile, Path: "/etc/resolv.conf", Content: []byte(resolvConf(true))})
	}
	return nil
}

// bundleResources turns the spec's cgroup limits into the kernel's: memory.limit is the
// sandbox's memory limit (the kernel reclaims, then kills inside, as the cgroup's OOM
// killer would), pids.limit its task limit. Without a memory limit the sandbox gets
// `sbx run`'s default (half the host's memory). CPU quotas and shares have no equivalent
// in the kernel (it has no scheduler of its own; the host schedules its threads).
func bundleResources(p *launcher.Plan, s *spec.Spec) error {
	var r *spec.Resources
	if s.Linux != nil {
		r = s.Linux.Resources
	}
	if r != nil && r.Memory != nil && r.Memory.Limit != nil && *r.Memory.Limit > 0 {
		p.MemoryLimit = *r.Memory.Limit
	}
	if r != nil && r.Pids != nil && r.Pids.Limit > 0 {
		p.MaxTasks = int(min(r.Pids.Limit, 1<<30))
	}
	if p.MemoryLimit == 0 {
		p.MemoryLimit = memoryLimit(0)
	}
	return nil
}
