package gofer

import "golang.org/x/sys/unix"

// Kind is a file type.
type Kind uint8

// File kinds.
const (
	KindRegular Kind = iota + 1
	KindDir
	KindSymlink
	KindFIFO
	KindSocket
	KindChar
	KindBlock
)

// Timespec is a time as the gofer reports it.
type Timespec struct{ Sec, Nsec int64 }

// Attr are a file's attributes.
type Attr struct {
	Kind           Kind
	Mode           uint32 // full st_mode with type bits
	UID, GID       uint32
	Nlink          uint64
	Size, Blocks   int64
	BlkSize        int32
	Atime          Timespec
	Mtime          Timespec
	Ctime          Timespec
	Ino, Dev, Rdev uint64
	// ReadOnly is set for files on a read-only mount.
	ReadOnly bool
	// Live is set for files on a read-only mount whose host files other programs change
	// while the sandbox runs (Mount.Live): the kernel must not keep what it walked there.
	Live bool
}

// Entry is the result of a walk or a create.
type Entry struct {
	Handle *Handle
	Attr   Attr
	// Target is a symlink's target (Kind == KindSymlink).
	Target string
	// WD is the host watch a walk with watch put on the file, 0 if none (Handle.WalkWatch).
	WD int32
}

// Dirent is one directory entry.
type Dirent struct {
	Name string
	Ino  uint64
	Kind Kind
}

// StatFS is what statfs reports.
type StatFS struct {
	Type                                int64
	Bsize                               int64
	Blocks, Bfree, Bavail, Files, Ffree uint64
	NameLen                             int64
	Frsize                              int64
	Flags                               int64
}

// SetAttr is an attribute change; nil fields are left alone. A time whose Nsec is
// UTIME_NOW is set to the current time.
type SetAttr struct {
	Mode         *uint32
	UID, GID     *uint32
	Size         *int64
	Atime, Mtime *Timespec
}

// MountInfo describes one mount of the view.
type MountInfo struct {
	Index       int
	SandboxPath string
	ReadOnly    bool
	Kind        Kind // KindDir or KindRegular
}

// Mount is one host path the gofer serves.
type Mount struct {
	HostPath    string `json:"host_path"`
	SandboxPath string `json:"sandbox_path"`
	ReadOnly    bool   `json:"read_only,omitempty"`
	// Create makes a missing directory before serving it.
	Create bool `json:"create,omitempty"`
	// AllowDevices lets device nodes below this mount be opened (a GPU's /dev/dri).
	AllowDevices bool `json:"allow_devices,omitempty"`
	// Live marks a read-only mount whose files the user's programs change while the
	// sandbox runs (configuration a profile shows read-only: dconf's database, rewritten
	// by renaming a new file over it), unlike the system's directories: the kernel
	// revalidates its cached names and attributes there as on read-write mounts.
	Live bool `json:"live,omitempty"`
}

// Config is the gofer's view, decided by the launcher from the profile.
type Config struct {
	Mounts []Mount `json:"mounts"`
	// Deny lists host paths that do not exist inside, even below an allowed directory.
	Deny []string `json:"deny,omitempty"`
	// RequireLandlock refuses to start where Landlock is unavailable.
	RequireLandlock bool `json:"require_landlock,omitempty"`
	// RootFileCaps keeps root's file capabilities (CAP_CHOWN, CAP_DAC_OVERRIDE,
	// CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID) in the gofer, as a container's root has
	// them on its root filesystem (an image's 0555 root directory, files of other owners).
	// They act only in the gofer's own user namespace, on files of the IDs it maps, and only
	// inside the view. Set by the OCI front end for a root process; never for desktop apps.
	RootFileCaps bool `json:"root_file_caps,omitempty"`
	// HostUID and HostGID are the user's IDs on the host. Start sets them; the gofer's own
	// IDs inside its user namespace may differ (see innerID).
	HostUID uint32 `json:"host_uid"`
	HostGID uint32 `json:"host_gid"`
	// DiskLimit bounds what the sandbox may add to the host through writable mounts, in
	// bytes (disk.go); 0: no limit.
	DiskLimit int64 `json:"disk_limit,omitempty"`
}

// rootFileCaps are the capabilities RootFileCaps keeps.
var rootFileCaps = []uintptr{unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH, unix.CAP_FOWNER, unix.CAP_FSETID}
