// Package oci is sbx's OCI runtime front end: it reads an OCI bundle (config.json and the
// root filesystem) and turns it into the same launcher.Plan `sbx run` builds, then runs it
// with the container lifecycle of the OCI runtime specification (create, start, state, kill,
// delete), keeping each container's state under a root directory as runc does.
//
// A container is a small monitor process (sbx re-executed in the OCI init role) that the
// engine sees as the container's process: create starts it, and it waits on a FIFO in the
// container's state directory; start opens the FIFO, and the monitor starts the sandbox
// (gofer and kernel) and exits with the app's status. Signals sent to it reach the app.
package oci

// The subset of the OCI runtime specification (config.json, v1.x) sbx reads. Written from
// the specification's config.md and config-linux.md.

// Spec is a bundle's config.json.
type Spec struct {
	OCIVersion  string            `json:"ociVersion"`
	Process     *Process          `json:"process,omitempty"`
	Root        *Root             `json:"root,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Mounts      []Mount           `json:"mounts,omitempty"`
	Hooks       *Hooks            `json:"hooks,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Linux       *Linux            `json:"linux,omitempty"`
}

// Process is the container's process.
type Process struct {
	Terminal        bool          `json:"terminal,omitempty"`
	ConsoleSize     *Box          `json:"consoleSize,omitempty"`
	User            User          `json:"user"`
	Args            []string      `json:"args,omitempty"`
	Env             []string      `json:"env,omitempty"`
	Cwd             string        `json:"cwd"`
	Capabilities    *Capabilities `json:"capabilities,omitempty"`
	Rlimits         []Rlimit      `json:"rlimits,omitempty"`
	NoNewPrivileges bool          `json:"noNewPrivileges,omitempty"`
	ApparmorProfile string        `json:"apparmorProfile,omitempty"`
	OOMScoreAdj     *int          `json:"oomScoreAdj,omitempty"`
	SelinuxLabel    string        `json:"selinuxLabel,omitempty"`
}

// Box is a terminal size.
type Box struct {
	Height uint `json:"height"`
	Width  uint `json:"width"`
}

// User is the process's identity.
type User struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	Umask          *uint32  `json:"umask,omitempty"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
}

// Capabilities are the process's capability sets.
type Capabilities struct {
	Bounding    []string `json:"bounding,omitempty"`
	Effective   []string `json:"effective,omitempty"`
	Inheritable []string `json:"inheritable,omitempty"`
	Permitted   []string `json:"permitted,omitempty"`
	Ambient     []string `json:"ambient,omitempty"`
}

// Rlimit is one resource limit.
type Rlimit struct {
	Type string `json:"type"`
	Hard uint64 `json:"hard"`
	Soft uint64 `json:"soft"`
}

// Root is the root filesystem.
type Root struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly,omitempty"`
}

// Mount is one mount.
type Mount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type,omitempty"`
	Source      string   `json:"source,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// Hook is one hook command.
type Hook struct {
	Path    string   `json:"path"`
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env,omitempty"`
	Timeout *int     `json:"timeout,omitempty"`
}

// Hooks are the lifecycle hooks.
type Hooks struct {
	Prestart        []Hook `json:"prestart,omitempty"`
	CreateRuntime   []Hook `json:"createRuntime,omitempty"`
	CreateContainer []Hook `json:"createContainer,omitempty"`
	StartContainer  []Hook `json:"startContainer,omitempty"`
	Poststart       []Hook `json:"poststart,omitempty"`
	Poststop        []Hook `json:"poststop,omitempty"`
}

// Linux is the Linux-specific part.
type Linux struct {
	Namespaces    []Namespace `json:"namespaces,omitempty"`
	MaskedPaths   []string    `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string    `json:"readonlyPaths,omitempty"`
	CgroupsPath   string      `json:"cgroupsPath,omitempty"`
}

// Namespace is one namespace the container gets.
type Namespace struct {
	Type string `json:"type"`
	Path string `json:"path,omitempty"`
}

// State is the runtime's view of a container (the specification's state, with runc's extra
// fields).
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     string            `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Statuses.
const (
	StatusCreating = "creating"
	StatusCreated  = "created"
	StatusRunning  = "running"
	StatusStopped  = "stopped"
)

// Version is the specification version sbx implements.
const Version = "1.0.2"
