package sandbox

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/sbx-dev/sbx/kernel/tty"
	"os"
	"sort"

	"github.com/sbx-dev/sbx/kernel"
	"github.com/sbx-dev/sbx/kernel/fs/goferfs"
	"golang.org/x/sys/unix"
)

// The control channel between launcher and kernel (FD ControlFD) carries one JSON request
// per line and one JSON reply per line:
//
//	launcher → kernel: {"op":"stats"}            kernel → launcher: KernelStats
//	launcher → kernel: {"op":"tree"}             kernel → launcher: {"processes":[...]}
//	launcher → kernel: {"op":"connections"}      kernel → launcher: {"connections":[...]}
//	launcher → kernel: {"op":"signal","signal":15,"pid":0}   (pid 0: the first process; -1: all)
//	launcher → kernel: {"op":"tty-signal","signal":2}   (what the user's terminal sent the
//	                   launcher: to the terminal's foreground process group inside)
//
// The launcher serves the user-facing control socket from these answers.

// ControlRequest is a launcher request.
type ControlRequest struct {
	Op     string `json:"op"`
	Signal int    `json:"signal,omitempty"`
	PID    int32  `json:"pid,omitempty"`
}

// SyscallCount is one row of the syscall histogram.
type SyscallCount struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// Process is one process in the sandbox.
type Process struct {
	PID     int32  `json:"pid"`
	PPID    int32  `json:"ppid"`
	Command string `json:"command"`
	Threads int    `json:"threads"`
	State   string `json:"state"`
	// HostFiles are the process's open files served by the gofer, by sandbox path.
	HostFiles []string `json:"host_files,omitempty"`
}

// ControlReply is the kernel's answer.
type ControlReply struct {
	Error       string    `json:"error,omitempty"`
	Tasks       int       `json:"tasks"`
	Processes   []Process `json:"processes,omitempty"`
	MemoryBytes int64     `json:"memory_bytes"`
	MemoryLimit int64     `json:"memory_limit,omitempty"`
	// OOMKills lists every process the memory limit killed so far.
	OOMKills []kernel.OOMKill `json:"oom_kills,omitempty"`
	// DiskFull counts writes the disk limit refused or cut short.
	DiskFull      uint64         `json:"disk_full,omitempty"`
	Syscalls      uint64         `json:"syscalls"`
	TopSyscalls   []SyscallCount `json:"top_syscalls,omitempty"`
	Unimplemented []SyscallCount `json:"unimplemented,omitempty"`
	CPUNanos      int64          `json:"cpu_ns"`
	Connections   []Connection   `json:"connections,omitempty"`
}

// Connection is one Internet socket of the sandbox.
type Connection struct {
	Proto    string `json:"proto"`
	State    string `json:"state"`
	Local    string `json:"local"`
	Remote   string `json:"remote,omitempty"`
	Private  bool   `json:"private,omitempty"` // on the sandbox's own loopback
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
}

func sortedCounts(m map[string]uint64, limit int) []SyscallCount {
	out := make([]SyscallCount, 0, len(m))
	for n, c := range m {
		out = append(out, SyscallCount{n, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func serveControl(k *kernel.Kernel, files *goferfs.Cache, userTTY *tty.Control, start func() error) {
	f := os.NewFile(ControlFD, "control")
	if f == nil {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(ControlFD, &st) != nil {
		return
	}
	r := bufio.NewScanner(f)
	enc := json.NewEncoder(f)
	for r.Scan() {
		var req ControlRequest
		var rep ControlReply
		if err := json.Unmarshal(r.Bytes(), &req); err != nil {
			rep.Error = "bad request"
			enc.Encode(rep)
			continue
		}
		switch req.Op {
		case "stats", "tree":
			s := k.Stats()
			rep.Tasks = s.Tasks
			rep.MemoryBytes = s.MemoryBytes
			rep.MemoryLimit = k.MemoryLimit
			rep.OOMKills = k.OOMKills()
			rep.DiskFull = files.DiskFull()
			rep.Syscalls = s.Syscalls
			rep.TopSyscalls = sortedCounts(s.PerSyscall, 20)
			rep.Unimplemented = sortedCounts(s.Unimplemented, 0)
			rep.CPUNanos = int64(s.CPUTime) // the app's code in its stubs and the kernel's work for it
			for _, tg := range k.Groups() {
				state := "running"
				if tg.Zombie() {
					state = "zombie"
				}
				p := Process{PID: tg.PID, PPID: tg.PPID(), Command: tg.Comm(), Threads: len(tg.Tasks()), State: state}
				if req.Op == "tree" {
					p.HostFiles = hostFiles(tg)
				}
				rep.Processes = append(rep.Processes, p)
			}
		case "connections":
			for _, c := range k.Net.Conns() {
				conn := Connection{Proto: c.Proto, State: c.State, Local: c.Local.String(), Private: c.Private,
					BytesIn: c.BytesIn, BytesOut: c.BytesOut}
				if c.Remote.IsValid() {
					conn.Remote = c.Remote.String()
				}
				rep.Connections = append(rep.Connections, conn)
			}
		case "tty-signal":
			pgrp := int32(0)
			if userTTY != nil {
				_, pgrp = userTTY.Session()
			}
			if pgrp != 0 {
				k.SignalProcessGroup(pgrp, unix.Signal(req.Signal))
			} else if err := k.Signal(k.InitPID(), unix.Signal(req.Signal)); err != nil {
				rep.Error = err.Error()
			}
		case "signal":
			pid := req.PID
			if pid == 0 {
				pid = k.InitPID()
			}
			if pid == -1 {
				// Every process of the sandbox (an OCI kill --all).
				for _, tg := range k.Groups() {
					k.SignalGroup(tg, unix.Signal(req.Signal))
				}
				break
			}
			if err := k.Signal(pid, unix.Signal(req.Signal)); err != nil {
				rep.Error = err.Error()
			}
		case "start":
			// A held sandbox runs its program (Config.Hold); the reply says it runs.
			if start == nil {
				rep.Error = "the program runs already"
			} else if err := start(); err != nil {
				rep.Error = err.Error()
			}
			start = nil
		default:
			rep.Error = "unknown op"
		}
		enc.Encode(rep)
	}
}

// hostFiles lists a process's open descriptors that are host files served by the gofer.
func hostFiles(tg *kernel.ThreadGroup) []string {
	fds := tg.FDs()
	if fds == nil {
		return nil
	}
	var out []string
	for _, n := range fds.Numbers() {
		fd, _, err := fds.Get(n)
		if err != nil {
			continue
		}
		if vd := fd.VirtualDentry(); vd.Ok() && vd.Mount.FSType == "gofer" {
			out = append(out, fmt.Sprintf("%d: %s", n, vd.Path()))
		}
		fd.DecRef()
	}
	return out
}
