// Package sandbox is the kernel role of sbx: the process the launcher starts to run one
// sandbox's user-space kernel. It reads its Config from an inherited FD, builds the
// sandbox's filesystem namespace (gofer mounts, tmpfs, /proc, /dev, /sys), confines itself
// (empty root, no capabilities, seccomp), and runs the app until it exits.
package sandbox

// FD numbers the launcher passes to the kernel role (after stdin/stdout/stderr).
const (
	ConfigFD  = 3 // JSON Config, read once
	GoferFD   = 4 // the kernel's end of the gofer socketpair
	ControlFD = 5 // the launcher's end of the control channel (stats, kill)
	BrokerFD  = 6 // the socket broker: sandbox path in, connected host socket FD out
)

// Config is what the launcher tells the kernel role. It contains no host paths the kernel
// could open: host files come only through the gofer.
type Config struct {
	Argv     []string `json:"argv"`
	Env      []string `json:"env"`
	Cwd      string   `json:"cwd"`
	UID      uint32   `json:"uid"`
	GID      uint32   `json:"gid"`
	Hostname string   `json:"hostname"`
	Platform string   `json:"platform"`
	Debug    bool     `json:"debug"`
	Strace   bool     `json:"strace"`
	// Layout is applied in order: parents before children.
	Layout   []Mount           `json:"layout"`
	Limits   map[int][2]uint64 `json:"limits,omitempty"`
	MaxTasks int               `json:"max_tasks,omitempty"`
	// Caps are the launching user's effective, permitted and inheritable capabilities:
	// what capget reports for root inside (the sandbox grants none of them on the host).
	Caps [3]uint64 `json:"caps"`
	// Seccomp installs the kernel's own host-syscall filter (tests may turn it off to debug).
	NoSeccomp bool `json:"no_seccomp,omitempty"`
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
	MountFile    = "file"    // a file at Path holding Content, mode Mode, owned by the app's user (tmpfs parents only)
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
	Content    []byte `json:"content,omitempty"`
}
