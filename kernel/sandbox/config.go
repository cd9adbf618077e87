// Package sandbox is the kernel role of sbx: the process the launcher starts to run one
// sandbox's user-space kernel. It reads its Config from an inherited FD, builds the
// sandbox's filesystem namespace (gofer mounts, tmpfs, /proc, /dev, /sys), confines itself
// (empty root, no capabilities, seccomp), and runs the app until it exits.
package sandbox

import "time"

// FD numbers the launcher passes to the kernel role (after stdin/stdout/stderr).
const (
	ConfigFD  = 3 // JSON Config, read once
	GoferFD   = 4 // the kernel's end of the gofer socketpair
	ControlFD = 5 // the launcher's end of the control channel (stats, kill)
	BrokerFD  = 6 // the socket broker: sandbox path in, connected host socket FD out
	ExecFD    = 7 // processes started from outside while the sandbox runs (see exec.go)
	NetFD     = 8 // the net broker (kernel/net/netproto): Internet sockets, checked
	StatusFD  = 9 // the app's exit status, sent as the kernel ends (exit.go)
)

// Config is what the launcher tells the kernel role. It contains no host paths the kernel
// could open: host files come only through the gofer.
type Config struct {
	Argv     []string `json:"argv"`
	Env      []string `json:"env"`
	Cwd      string   `json:"cwd"`
	UID      uint32   `json:"uid"`
	GID      uint32   `json:"gid"`
	Groups   []uint32 `json:"groups,omitempty"` // supplementary groups
	Hostname string   `json:"hostname"`
	Platform string   `json:"platform"`
	Debug    bool     `json:"debug"`
	// BlockedReportSeconds is how long a task may stay in one system call before a debug
	// run reports it (0: defaultBlockedReport).
	BlockedReportSeconds int `json:"blocked_report_seconds,omitempty"`
	// DebugT0 is when sbx started (Unix ns); with Debug, start-up steps are logged from it.
	DebugT0 int64 `json:"debug_t0,omitempty"`
	Strace  bool  `json:"strace"`
	// StraceSummary: time the app's syscalls and print a table of them at exit.
	StraceSummary bool `json:"strace_summary,omitempty"`
	// Layout is applied in order: parents before children.
	Layout   []Mount           `json:"layout"`
	Limits   map[int][2]uint64 `json:"limits,omitempty"`
	MaxTasks int               `json:"max_tasks,omitempty"`
	// MemoryLimit is [resources] memory in bytes (0: none): beyond it the kernel kills the
	// sandbox's largest process.
	MemoryLimit int64 `json:"memory_limit,omitempty"`
	// DiskLimit is [resources] disk in bytes (0: none); the gofer counts and grants, the
	// kernel asks before files grow.
	DiskLimit int64 `json:"disk_limit,omitempty"`
	// Caps are the launching user's effective, permitted and inheritable capabilities:
	// what capget reports for root inside (the sandbox grants none of them on the host).
	Caps [3]uint64 `json:"caps"`
	// OOMScoreAdj is the launcher's /proc/self/oom_score_adj, which the first process
	// inherits.
	OOMScoreAdj int `json:"oom_score_adj,omitempty"`
	// IgnoredSignals are the signals the launcher inherited as ignored (bit sig-1), which
	// the first process keeps ignored, as an exec would (nohup's SIGHUP, a background
	// job's SIGINT).
	IgnoredSignals uint64 `json:"ignored_signals,omitempty"`
	// NetAddrs are the addresses of the sandbox's eth0 (the host's, as connections through
	// the net broker show them); none: the sandbox has only lo (network mode none).
	NetAddrs []string `json:"net_addrs,omitempty"`
	// Seccomp installs the kernel's own host-syscall filter (tests may turn it off to debug).
	NoSeccomp bool `json:"no_seccomp,omitempty"`
	// NoSyscallPatch turns syscall-site patching off (the trap platform then takes a
	// signal for every syscall): SBX_SYSCALL_PATCH=0 in the launcher's environment.
	NoSyscallPatch bool `json:"no_syscall_patch,omitempty"`
	// SharedStubs runs every thread of an app address space in one host stub process on the
	// trap platform (platform/ptrace/shared.go; SBX_SHARED_STUBS=1; off by default).
	SharedStubs bool `json:"shared_stubs,omitempty"`
	// Hold makes the kernel build the sandbox and serve execs, but run the program only
	// when the control channel says "start" (an OCI runtime's startContainer hooks run in
	// the sandbox first).
	Hold bool `json:"hold,omitempty"`
}

// Mount kinds.
const (
	MountGofer   = "gofer"   // a gofer mount (GoferIndex) at Path
	MountTmpfs   = "tmpfs"   // an empty tmpfs at Path (Mode, owned by the app's user when Owned)
	MountProc    = "proc"    // /proc
	MountDev     = "dev"     // /dev with the kernel's devices
	MountSys     = "sys"     // a minimal /sys
	MountSymlink = "symlink" // a symlink at Path pointing to Target
	MountDir     = "dir"     // an empty directory at Path in its parent filesystem (tmpfs parents only)
	MountSocket  = "socket"  // a socket node at Path that the socket broker connects to the host
	MountFile    = "file"    // a read-only file at Path holding Content (/etc/resolv.conf); Mode (default 0644); the app user's and writable when Owned
	// MountMask hides what is at Path, as runc masks an OCI spec's maskedPaths: a file is
	// covered by the null device, a directory by an empty read-only tmpfs; a missing Path
	// is left alone.
	MountMask = "mask"
	// MountReadOnly makes what is at Path read-only (an OCI spec's readonlyPaths): the
	// same files mounted again over themselves, read-only; a missing Path is left alone.
	MountReadOnly = "readonly"
)

// Mount is one step of the sandbox's filesystem layout.
type Mount struct {
	Kind       string `json:"kind"`
	Path       string `json:"path"`
	GoferIndex int    `json:"gofer_index,omitempty"`
	Target     string `json:"target,omitempty"`
	ReadOnly   bool   `json:"read_only,omitempty"`
	Mode       uint32 `json:"mode,omitempty"`
	Owned      bool   `json:"owned,omitempty"`
	Content    []byte `json:"content,omitempty"` // bytes, not a string: JSON would mangle binary content
}

// defaultBlockedReport is how long a task may stay in one system call before a debug run
// reports it.
const defaultBlockedReport = 10 * time.Second
