// Package control is the live-sandbox API: every running sandbox serves a Unix socket at
// $XDG_RUNTIME_DIR/sbx/<id>.sock (directory 0700, peer UID checked) answering versioned JSON
// requests; sbx list, sbx kill and sbx top are its clients.
//
//	client                                     sandbox (launcher)
//	  {"v":1,"op":"info"}              ─────▶
//	                                   ◀─────  {"v":1,"info":{...}}
//	  {"v":1,"op":"stats"}             ─────▶
//	                                   ◀─────  {"v":1,"stats":{...}}
//	  {"v":1,"op":"events"}            ─────▶
//	                                   ◀─────  {"v":1,"event":{...}} ... (until closed)
//	  {"v":1,"op":"kill","signal":15,"grace_ms":3000} ─▶ ◀─ {"v":1}
//
// One request per connection line; one JSON object per reply line.
package control

import (
	"syscall"
	"time"
)

// Version is the protocol version; a sandbox refuses requests of another major version.
const Version = 1

// Ops.
const (
	OpInfo   = "info"
	OpStats  = "stats"
	OpTree   = "tree"
	OpEvents = "events"
	OpKill   = "kill"
)

// Request is a client message.
type Request struct {
	V       int    `json:"v"`
	Op      string `json:"op"`
	Signal  int    `json:"signal,omitempty"`
	GraceMS int    `json:"grace_ms,omitempty"`
}

// Response is a sandbox message.
type Response struct {
	V     int       `json:"v"`
	Error string    `json:"error,omitempty"`
	Info  *Info     `json:"info,omitempty"`
	Stats *Stats    `json:"stats,omitempty"`
	Tree  []Process `json:"tree,omitempty"`
	// Connections come with the tree from sources that know them.
	Connections []Connection `json:"connections,omitempty"`
	Event       *Event       `json:"event,omitempty"`
}

// Info describes a sandbox.
type Info struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	App         string    `json:"app"`
	Argv        []string  `json:"argv"`
	Profile     string    `json:"profile"`
	ProfileFile string    `json:"profile_file"`
	Platform    string    `json:"platform"`
	Started     time.Time `json:"started"`
	LauncherPID int       `json:"launcher_pid"`
	KernelPID   int       `json:"kernel_pid"`
	GoferPID    int       `json:"gofer_pid"`
	Warnings    []string  `json:"warnings,omitempty"`
}

// NameCount is one row of a histogram.
type NameCount struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// Stats is a sandbox's live state, as its kernel accounts it.
type Stats struct {
	Tasks       int   `json:"tasks"`
	MemoryBytes int64 `json:"memory_bytes"`
	// MemoryLimit is the sandbox's memory limit ([resources] memory; 0: none).
	MemoryLimit int64  `json:"memory_limit,omitempty"`
	CPUNanos    int64  `json:"cpu_ns"`
	Syscalls    uint64 `json:"syscalls"`
	// SyscallsPerSec is computed by the sandbox from its previous sample.
	SyscallsPerSec float64           `json:"syscalls_per_sec"`
	TopSyscalls    []NameCount       `json:"top_syscalls,omitempty"`
	Unimplemented  []NameCount       `json:"unimplemented,omitempty"`
	Denials        map[string]uint64 `json:"denials,omitempty"`
}

// Process is one process in the sandbox.
type Process struct {
	PID     int32  `json:"pid"`
	PPID    int32  `json:"ppid"`
	Command string `json:"command"`
	Threads int    `json:"threads"`
	State   string `json:"state"`
	// HostFiles are open host files (served by the gofer), "FD: path".
	HostFiles []string `json:"host_files,omitempty"`
}

// Connection is one Internet socket of a sandbox.
type Connection struct {
	Proto  string `json:"proto"` // tcp, tcp6, udp, udp6, icmp
	State  string `json:"state"` // listen, established, connecting, bound, open
	Local  string `json:"local"`
	Remote string `json:"remote,omitempty"`
	// Names are the host names the sandbox's resolver answered the remote address for.
	Names    []string `json:"names,omitempty"`
	Private  bool     `json:"private,omitempty"` // on the sandbox's own loopback
	BytesIn  uint64   `json:"bytes_in"`
	BytesOut uint64   `json:"bytes_out"`
}

// ConnectionLister is a Source that knows its network connections (sent with the tree).
type ConnectionLister interface {
	Connections() ([]Connection, error)
}

// Event is something that happened in a sandbox.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // exec, exit, denial
	Detail string    `json:"detail"`
}

// Source is what a sandbox exposes; the launcher implements it.
type Source interface {
	Info() Info
	Stats() (Stats, error)
	Tree() ([]Process, error)
	// Subscribe returns recent and future events; cancel stops the stream.
	Subscribe() (events <-chan Event, cancel func())
	// Kill sends sig to the app, then SIGKILL after grace if it is still running.
	Kill(sig syscall.Signal, grace time.Duration) error
}
