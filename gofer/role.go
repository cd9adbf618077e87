package gofer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/gofer/seccomp"
	"golang.org/x/sys/unix"
)

// FD numbers the launcher passes to the gofer role (role.Spec.Files).
const (
	ConfigFD = 3 // JSON Config, read once
	ConnFD   = 4 // the gofer's end of the kernel's connection
	StatusFD = 5 // the gofer reports ready (or why it failed) here, then closes it
)

// status is what the role reports to the launcher once it is ready (or failed).
type status struct {
	Error    string   `json:"error,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Steps are when the gofer reached each step of its start-up, for the breakdown
	// `sbx run --debug` prints.
	Steps []Step `json:"steps,omitempty"`
}

// Step is one step of a role's start-up and when it ended (Unix nanoseconds).
type Step struct {
	What string `json:"what"`
	At   int64  `json:"at"`
}

// steps records the start-up steps of this process.
type steps []Step

func (s *steps) mark(what string) { *s = append(*s, Step{What: what, At: time.Now().UnixNano()}) }

// RoleMain is the body of the hidden `__gofer` command.
func RoleMain() error {
	var steps steps
	steps.mark("running (its Go runtime started)")
	st := os.NewFile(StatusFD, "status")
	report := func(s status) {
		json.NewEncoder(st).Encode(s)
		st.Close()
	}
	NeutralizeRuntimeFDs()
	var cfg Config
	if err := json.NewDecoder(os.NewFile(ConfigFD, "config")).Decode(&cfg); err != nil {
		report(status{Error: "reading configuration: " + err.Error()})
		return err
	}
	steps.mark("configuration read")
	uid, gid := uint32(unix.Getuid()), uint32(unix.Getgid()) // before seccomp refuses these
	// The sandbox's kernel applies the app's umask to every mode it sends; the gofer's own
	// (inherited from the user's shell) must not take more bits away.
	unix.Umask(0)
	v, warnings, err := confineView(&cfg, &steps)
	if err != nil {
		report(status{Error: err.Error()})
		return err
	}
	report(status{Warnings: warnings, Steps: steps})
	s := newServer(v)
	s.disk.limit = cfg.DiskLimit
	s.uid, s.gid = uid, gid
	s.hostUID, s.hostGID = cfg.HostUID, cfg.HostGID
	err = s.Serve(ConnFD)
	if err == errClose || errors.Is(err, errClose) {
		return nil
	}
	return err
}

// confineView builds the gofer's private root holding only the view's paths, enters it,
// and confines the process: Landlock, no capabilities, no new privileges, seccomp.
func confineView(cfg *Config, steps *steps) (*view, []string, error) {
	var warnings []string
	v := &view{}
	// Why first: dropping the bounding set stops and signals every thread once per
	// capability, which costs least while the runtime has few threads.
	if err := DropBoundingSet(); err != nil {
		return nil, nil, err
	}
	for _, d := range cfg.Deny {
		if !filepath.IsAbs(d) {
			return nil, nil, fmt.Errorf("deny path %q is not absolute", d)
		}
		v.deny = append(v.deny, filepath.Clean(d))
	}
	// Why: mounts made here must not leak to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, nil, fmt.Errorf("making mounts private: %w", err)
	}
	// Why: hold every view path by FD before the host tree is hidden.
	fds := make([]int, len(cfg.Mounts))
	for i, m := range cfg.Mounts {
		if !filepath.IsAbs(m.HostPath) || !filepath.IsAbs(m.SandboxPath) {
			return nil, nil, fmt.Errorf("mount %q → %q: paths must be absolute", m.HostPath, m.SandboxPath)
		}
		host := filepath.Clean(m.HostPath)
		if m.Create {
			if err := os.MkdirAll(host, 0o700); err != nil {
				return nil, nil, fmt.Errorf("creating %s: %w", host, err)
			}
		}
		fd, err := unix.Open(host, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("opening %s: %w", host, err)
		}
		fds[i] = fd
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return nil, nil, err
		}
		k := kindOf(st.Mode)
		if k != KindDir && k != KindRegular {
			return nil, nil, fmt.Errorf("mount %s: only directories and regular files can be served", host)
		}
		v.mounts = append(v.mounts, servedMount{Mount: Mount{HostPath: host, SandboxPath: filepath.Clean(m.SandboxPath),
			ReadOnly: m.ReadOnly, AllowDevices: m.AllowDevices, Live: m.Live}, path: fmt.Sprintf("/m%d", i), kind: k})
	}
	// Why: the new root is an empty tmpfs; /sys is never in a view, so it hosts it.
	const staging = "/sys"
	if err := unix.Mount("sbx-gofer", staging, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return nil, nil, fmt.Errorf("mounting the gofer root: %w", err)
	}
	for i, m := range v.mounts {
		target := staging + m.path
		if m.kind == KindDir {
			if err := unix.Mkdir(target, 0o755); err != nil {
				return nil, nil, err
			}
		} else if err := os.WriteFile(target, nil, 0o644); err != nil {
			return nil, nil, err
		}
		src := fmt.Sprintf("/proc/self/fd/%d", fds[i])
		// Why recursive: a host tree with mounts below it (a bind-mounted /etc/resolv.conf in
		// a container, a tmpfs under /srv) can only be bound whole from a user namespace, its
		// submounts locked to it; the sandbox sees them as the host does.
		if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return nil, nil, fmt.Errorf("binding %s: %w", m.HostPath, err)
		}
		if err := restrictTree(target, m.ReadOnly, !m.AllowDevices); err != nil {
			return nil, nil, fmt.Errorf("remounting %s: %w", m.HostPath, err)
		}
		unix.Close(fds[i])
	}
	steps.mark("view bound")
	if err := unix.Chdir(staging); err != nil {
		return nil, nil, err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return nil, nil, fmt.Errorf("pivot_root: %w", err)
	}
	// Why in the background: see DetachAsync. The gofer serves nothing before it returns.
	detached, err := DetachAsync(".")
	if err != nil {
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return nil, nil, fmt.Errorf("detaching the host root: %w", err)
		}
		detached = func() error { return nil }
	}
	confined := false
	defer func() {
		if !confined {
			detached()
		}
	}()
	if err := unix.Chdir("/"); err != nil {
		return nil, nil, err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return nil, nil, fmt.Errorf("making the gofer root read-only: %w", err)
	}
	// Landlock: the kernel enforces the view again, below the mount namespace.
	if abi, err := landlockABI(); err != nil {
		if cfg.RequireLandlock {
			return nil, nil, fmt.Errorf("the profile requires Landlock, which this kernel does not offer (%v)", err)
		}
		warnings = append(warnings, "Landlock is unavailable on this kernel; the gofer relies on its mount namespace and seccomp")
	} else {
		var paths []landlockPath
		for _, m := range v.mounts {
			paths = append(paths, landlockPath{path: m.path, readOnly: m.ReadOnly, file: m.kind == KindRegular})
		}
		// The root itself must stay searchable to reach the mounts.
		paths = append(paths, landlockPath{path: "/", readOnly: true})
		if err := applyLandlock(abi, paths); err != nil {
			if cfg.RequireLandlock {
				return nil, nil, err
			}
			warnings = append(warnings, "Landlock could not be applied: "+err.Error())
		}
	}
	var keep uint64
	if cfg.RootFileCaps {
		for _, c := range rootFileCaps {
			keep |= 1 << c
		}
	}
	steps.mark("Landlock applied")
	if err := dropCapabilitiesExcept(keep); err != nil {
		return nil, nil, err
	}
	steps.mark("capabilities dropped")
	if err := seccomp.Install(goferSyscalls); err != nil {
		return nil, nil, fmt.Errorf("seccomp: %w", err)
	}
	steps.mark("seccomp installed")
	confined = true
	if err := detached(); err != nil {
		return nil, nil, err
	}
	steps.mark("host root detached")
	return v, warnings, nil
}

// restrictTree makes the bound tree at target, its submounts included, nosuid, and
// read-only and nodev when asked. Flags are only ever added, so mounts whose flags the host
// locked (nodev, noexec, ro from a more privileged namespace) keep them.
func restrictTree(target string, readOnly, noDev bool) error {
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID}
	if readOnly {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if noDev {
		attr.Attr_set |= unix.MOUNT_ATTR_NODEV
	}
	err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW, &attr)
	if err != unix.ENOSYS {
		return err
	}
	// Before Linux 5.12: remount each mount of the tree, deepest last.
	mounts, err := mountsBelow(target)
	if err != nil {
		return err
	}
	for _, mp := range mounts {
		var sfs unix.Statfs_t
		if err := unix.Statfs(mp, &sfs); err != nil {
			return err
		}
		// A bind remount must repeat the flags it keeps (statfs's ST_* bits name them).
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_NOSUID)
		for _, f := range [][2]uintptr{{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NODEV, unix.MS_NODEV},
			{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
			{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME}} {
			if uintptr(sfs.Flags)&f[0] != 0 {
				flags |= f[1]
			}
		}
		if readOnly {
			flags |= unix.MS_RDONLY
		}
		if noDev {
			flags |= unix.MS_NODEV
		}
		if err := unix.Mount("", mp, "", flags, ""); err != nil {
			return fmt.Errorf("%s: %w", mp, err)
		}
	}
	return nil
}

// mountsBelow lists the mount points at or below dir, from /proc/self/mountinfo.
func mountsBelow(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// goferSyscalls are the host syscalls the gofer makes once confined.
var goferSyscalls = []seccomp.Rule{
	{Nr: unix.SYS_OPENAT2, Reason: "walking one component beneath a held directory"},
	{Nr: unix.SYS_OPENAT, Reason: "reopening a handle for I/O (O_NOFOLLOW, checked against the handle's inode)"},
	{Nr: unix.SYS_OPEN, Reason: "reopening a mount root"},
	{Nr: unix.SYS_CLOSE, Reason: "closing handles and donated FDs"},
	{Nr: unix.SYS_FSTAT, Reason: "stat of handles"},
	{Nr: unix.SYS_NEWFSTATAT, Reason: "stat (Go runtime and handles)"},
	{Nr: unix.SYS_FSTATFS, Reason: "statfs"},
	{Nr: unix.SYS_READLINKAT, Reason: "symlink targets"},
	{Nr: unix.SYS_INOTIFY_INIT1, Reason: "watching host files the sandbox watches"},
	{Nr: unix.SYS_INOTIFY_ADD_WATCH, Reason: "watching host files the sandbox watches"},
	{Nr: unix.SYS_INOTIFY_RM_WATCH, Reason: "watching host files the sandbox watches"},
	{Nr: unix.SYS_FCHDIR, Reason: "naming a watched file relative to its handle"},
	{Nr: unix.SYS_CHDIR, Reason: "leaving the watched file's directory"},
	{Nr: unix.SYS_GETDENTS64, Reason: "directory listings"},
	{Nr: unix.SYS_LSEEK, Reason: "resuming directory listings"},
	{Nr: unix.SYS_MKDIRAT, Reason: "mkdir"},
	{Nr: unix.SYS_MKNODAT, Reason: "FIFOs and sockets"},
	{Nr: unix.SYS_SYMLINKAT, Reason: "symlink"},
	{Nr: unix.SYS_LINKAT, Reason: "link"},
	{Nr: unix.SYS_UNLINKAT, Reason: "unlink and rmdir"},
	{Nr: unix.SYS_RENAMEAT2, Reason: "rename"},
	{Nr: unix.SYS_FCHMODAT, Reason: "chmod"},
	{Nr: unix.SYS_FCHMODAT2, Reason: "chmod of an open file whose name is gone (AT_EMPTY_PATH)"},
	{Nr: unix.SYS_FCHOWNAT, Reason: "chown"},
	{Nr: unix.SYS_UTIMENSAT, Reason: "utimes"},
	{Nr: unix.SYS_FTRUNCATE, Reason: "truncate"},
	{Nr: unix.SYS_FGETXATTR, Reason: "getxattr"},
	{Nr: unix.SYS_FLISTXATTR, Reason: "listxattr"},
	{Nr: unix.SYS_FSETXATTR, Reason: "setxattr (user.* only)"},
	{Nr: unix.SYS_FREMOVEXATTR, Reason: "removexattr (user.* only)"},
	{Nr: unix.SYS_READ, Reason: "handshake, Go runtime"},
	{Nr: unix.SYS_WRITE, Reason: "handshake, status"},
	{Nr: unix.SYS_SENDMSG, Reason: "replies with donated FDs"},
	{Nr: unix.SYS_RECVMSG, Reason: "requests"},
	{Nr: unix.SYS_MMAP, Reason: "Go runtime"},
	{Nr: unix.SYS_MUNMAP, Reason: "Go runtime"},
	{Nr: unix.SYS_MPROTECT, Reason: "Go runtime"},
	{Nr: unix.SYS_MADVISE, Reason: "Go runtime"},
	{Nr: unix.SYS_BRK, Reason: "Go runtime"},
	{Nr: unix.SYS_FUTEX, Reason: "Go runtime"},
	{Nr: unix.SYS_CLONE, Reason: "Go runtime threads"},
	{Nr: unix.SYS_CLONE3, Reason: "Go runtime threads"},
	{Nr: unix.SYS_EXIT, Reason: "Go runtime"},
	{Nr: unix.SYS_EXIT_GROUP, Reason: "exit"},
	{Nr: unix.SYS_WAIT4, Reason: "reaping the helper that detaches the host root (DetachAsync)"},
	{Nr: unix.SYS_RT_SIGACTION, Reason: "Go runtime"},
	{Nr: unix.SYS_RT_SIGPROCMASK, Reason: "Go runtime"},
	{Nr: unix.SYS_RT_SIGRETURN, Reason: "Go runtime"},
	{Nr: unix.SYS_SIGALTSTACK, Reason: "Go runtime"},
	{Nr: unix.SYS_GETPID, Reason: "Go runtime"},
	{Nr: unix.SYS_GETTID, Reason: "Go runtime"},
	{Nr: unix.SYS_TGKILL, Reason: "Go runtime preemption"},
	{Nr: unix.SYS_SCHED_YIELD, Reason: "Go runtime"},
	{Nr: unix.SYS_SCHED_GETAFFINITY, Reason: "Go runtime"},
	{Nr: unix.SYS_NANOSLEEP, Reason: "Go runtime"},
	{Nr: unix.SYS_CLOCK_GETTIME, Reason: "Go runtime"},
	{Nr: unix.SYS_CLOCK_NANOSLEEP, Reason: "Go runtime"},
	{Nr: unix.SYS_GETRANDOM, Reason: "Go runtime"},
	{Nr: unix.SYS_EPOLL_CREATE1, Reason: "Go runtime"},
	{Nr: unix.SYS_EPOLL_CTL, Reason: "Go runtime"},
	{Nr: unix.SYS_EPOLL_PWAIT, Reason: "Go runtime"},
	{Nr: unix.SYS_EPOLL_PWAIT2, Reason: "Go runtime"},
	{Nr: unix.SYS_EVENTFD2, Reason: "Go runtime netpoller wake-ups (initialised lazily, on the first timer)"},
	{Nr: unix.SYS_UNAME, Reason: "Go runtime"},
	{Nr: unix.SYS_MEMBARRIER, Reason: "Go runtime"},
	{Nr: unix.SYS_PIPE2, Reason: "Go runtime"},
	{Nr: unix.SYS_FCNTL, Reason: "Go runtime"},
	{Nr: unix.SYS_GETRLIMIT, Reason: "Go runtime"},
	{Nr: unix.SYS_PRLIMIT64, Reason: "Go runtime"},
	{Nr: unix.SYS_RSEQ, Reason: "Go runtime"},
	{Nr: unix.SYS_SET_ROBUST_LIST, Reason: "Go runtime"},
	{Nr: unix.SYS_PRCTL, Reason: "Go runtime"},
}
