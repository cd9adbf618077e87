// Package kernel is sbx's user-space Linux kernel: tasks (one goroutine per app thread,
// running app code through a platform.Context), thread groups, the syscall table and the
// task loop. Memory lives in kernel/mm, files in kernel/vfs and kernel/fs/*, ELF loading in
// kernel/loader, syscall handlers in kernel/syscalls.
//
// Lock order: Kernel.mu → ThreadGroup.mu → Task.mu. The syscall path takes no global lock:
// a task touches only its own state, its thread group's, and the objects it operates on.
package kernel

import (
	"fmt"
	"github.com/sbx-dev/sbx/kernel/tty"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/kernel/net/inet"
	"github.com/sbx-dev/sbx/kernel/vfs"
	"github.com/sbx-dev/sbx/platform"
)

// Config is everything a Kernel needs from its creator.
type Config struct {
	Platform   platform.Platform
	MemoryFile *mm.MemoryFile
	Syscalls   *SyscallTable
	Hostname   string
	Release    string // uname -r inside the sandbox
	Version    string // uname -v
	UID, GID   uint32 // the app's credentials
	// Groups are the first process's supplementary groups.
	SupplementaryGroups []uint32
	// Debug receives one line per unknown syscall number (sbx run --debug); nil discards.
	Debug io.Writer
	// Strace receives every syscall with decoded arguments and result; nil disables.
	Strace io.Writer
	// SyscallTimes makes the kernel time each call's handler and count failures, per
	// syscall (Stats.PerSyscallTime, PerSyscallErrors: sbx run --strace=summary).
	SyscallTimes bool
	// Limits are the initial resource limits (RLIMIT_* → soft, hard); missing use defaults.
	Limits map[int][2]uint64
	// MaxTasks bounds the number of tasks (profile resources.tasks); 0 means no bound.
	MaxTasks int
	// MemoryLimit bounds the sandbox's memory in bytes (profile resources.memory, oom.go);
	// 0 means no bound.
	MemoryLimit int64
	// Caps are the effective, permitted and inheritable capabilities capget reports for
	// root in the sandbox: those of the user who started it.
	Caps [3]uint64
	// OOMScoreAdj is the oom_score_adj the first process starts with: the launcher's own,
	// as a child inherits it on Linux.
	OOMScoreAdj int
	// IgnoredSignals (bit sig-1) start ignored in the first process and in processes
	// started from outside (NewTopGroup): inherited from the launcher, as across exec.
	IgnoredSignals uint64
	// Sockets connects to the host sockets the profile allows (nil: none).
	Sockets SocketBroker
	// BlockedReport, when positive, makes the kernel report to Debug every task that
	// stays longer than this in one system call (watchdog.go).
	BlockedReport time.Duration
	// Net holds the sandbox's Internet sockets (nil: a stack with only the private
	// loopback).
	Net *inet.Stack
	// NoSyscallPatch keeps the kernel from patching syscall sites (patch.go) on platforms
	// that could run them without a trap.
	NoSyscallPatch bool
}

// SocketBroker hands the kernel connected host sockets for allowed sandbox paths.
type SocketBroker interface {
	Connect(path string) (fd int, err error)
}

// Kernel is one sandbox's kernel.
type Kernel struct {
	Config
	NS    *vfs.Namespace
	Start time.Time
	// BootID is /proc/sys/kernel/random/boot_id.
	BootID string
	// exitMu makes a process becoming a zombie and its exit signal one step for wait scans.
	exitMu sync.Mutex
	// exitHooks run when a process exits (SysV semaphore undo). protected by mu
	exitHooks []func(*ThreadGroup)
	// reapedCPU is the CPU time of processes gone from the table. protected by mu
	reapedCPU time.Duration

	unknown unknownLog
	// patched counts the syscall sites patched, trapped the syscalls that came through a
	// patchable trap, unpatched the others' sites for a debug run (patch.go).
	patched, trapped atomic.Int64
	unpatched        unpatchedSites
	oom              oomState
	// prestarted hands the next task started with Run to the goroutine Prestart readied.
	prestarted atomic.Pointer[prestart]
	// futexes holds the tasks waiting on futex words.
	futexes futexTable
	futexPI futexPI
	// state holds what packages keep per kernel (StateOf); stateMu serializes creating it.
	// Lock order: stateMu before mu.
	stateMu sync.Mutex
	state   sync.Map

	mu sync.Mutex
	// tasks maps TIDs to tasks; groups maps TGIDs to thread groups. protected by mu
	tasks  map[int32]*Task
	groups map[int32]*ThreadGroup
	// nextPID is the next PID to hand out. protected by mu
	nextPID int32
	// ctty maps sessions to their controlling terminals. protected by mu
	ctty map[int32]*tty.Control
	// init is the first thread group; the sandbox ends when it exits. protected by mu
	init *ThreadGroup
	// exited counters of dead tasks, so totals stay monotonic. protected by mu
	deadSyscalls uint64
	deadPerNr    map[uint64]uint64
	deadNanos    map[uint64]int64
	deadErrors   map[uint64]uint64

	done     chan struct{}
	exitCode int

	// rootNS are the sandbox's initial namespaces; nsIno numbers new ones (ns.go).
	rootNS *NSSet
	nsIno  atomic.Uint64
	// sysvIPCRender renders /proc/sysvipc rows (ipcproc.go).
	sysvIPCRender atomic.Pointer[func(n *Namespace, kind string) string]
	// nsReleaseHooks run when a namespace's last process leaves it. protected by mu
	nsReleaseHooks []func(*Namespace)
	// rootDentry is the first process's root: a process elsewhere is chrooted. Set once
	// under mu before any other process exists.
	rootDentry vfs.VirtualDentry
}

// New creates a kernel. The caller mounts filesystems into ns before starting processes.
func New(cfg Config, ns *vfs.Namespace) *Kernel {
	if cfg.Release == "" {
		cfg.Release = "6.8.0-sbx"
	}
	if cfg.Version == "" {
		cfg.Version = "#1 SMP PREEMPT_DYNAMIC sbx"
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "sbx"
	}
	if cfg.Net == nil {
		cfg.Net = inet.NewStack(nil)
	}
	k := &Kernel{Config: cfg, NS: ns, Start: time.Now(), tasks: make(map[int32]*Task), groups: make(map[int32]*ThreadGroup),
		nextPID: 1, done: make(chan struct{}), deadPerNr: make(map[uint64]uint64), deadNanos: make(map[uint64]int64), deadErrors: make(map[uint64]uint64), BootID: newUUID(),
		ctty: make(map[int32]*tty.Control)}
	k.rootNS = k.rootNamespaces()
	k.nsIno.Store(0xF0000100)
	k.OnProcessExit(k.ttyExit)
	if k.BlockedReport > 0 && k.Debug != nil {
		go k.watchdog()
	} else {
		k.BlockedReport = 0
	}
	return k
}

// allocPIDLocked returns a fresh PID. Preconditions: k.mu held.
func (k *Kernel) allocPIDLocked() (int32, error) {
	if k.MaxTasks > 0 && len(k.tasks) >= k.MaxTasks {
		return 0, errAgain
	}
	for range 1 << 22 {
		pid := k.nextPID
		k.nextPID++
		if k.nextPID >= pidMax {
			k.nextPID = 300
		}
		if _, used := k.tasks[pid]; used {
			continue
		}
		if _, used := k.groups[pid]; used {
			continue
		}
		return pid, nil
	}
	return 0, errAgain
}

// pidMax is /proc/sys/kernel/pid_max.
const pidMax = 4194304

// Done is closed when the sandbox's first process has exited and every task is gone.
func (k *Kernel) Done() <-chan struct{} { return k.done }

// ExitCode is the shell-style status of the first process: its exit status, or 128+signal.
func (k *Kernel) ExitCode() int { return k.exitCode }

// TaskByTID returns a live task.
func (k *Kernel) TaskByTID(tid int32) *Task {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tasks[tid]
}

// GroupByPID returns a live (or zombie) thread group.
func (k *Kernel) GroupByPID(pid int32) *ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.groups[pid]
}

// Groups lists thread groups by PID.
func (k *Kernel) Groups() []*ThreadGroup {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*ThreadGroup, 0, len(k.groups))
	for _, g := range k.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// Stats is a snapshot of the kernel's counters.
type Stats struct {
	Tasks         int
	Processes     int
	MemoryBytes   int64
	Syscalls      uint64
	PerSyscall    map[string]uint64
	Unimplemented map[string]uint64
	// With Config.SyscallTimes: time in each syscall's handler and its failures.
	PerSyscallTime   map[string]time.Duration
	PerSyscallErrors map[string]uint64
	CPUTime          time.Duration
}

// Stats sums the per-task counters.
func (k *Kernel) Stats() Stats {
	k.mu.Lock()
	s := Stats{Tasks: len(k.tasks), Processes: len(k.groups), Syscalls: k.deadSyscalls,
		PerSyscall: make(map[string]uint64), Unimplemented: make(map[string]uint64),
		PerSyscallTime: make(map[string]time.Duration), PerSyscallErrors: make(map[string]uint64)}
	for nr, n := range k.deadPerNr {
		s.PerSyscall[k.Syscalls.Name(nr)] += n
	}
	for nr, n := range k.deadNanos {
		s.PerSyscallTime[k.Syscalls.Name(nr)] += time.Duration(n)
	}
	for nr, n := range k.deadErrors {
		s.PerSyscallErrors[k.Syscalls.Name(nr)] += n
	}
	tasks := make([]*Task, 0, len(k.tasks))
	for _, t := range k.tasks {
		tasks = append(tasks, t)
	}
	k.mu.Unlock()
	for _, t := range tasks {
		s.Syscalls += t.counters.Total.Load()
		for nr := range uint64(MaxSyscall) {
			if n := t.counters.PerNr[nr].Load(); n != 0 {
				name := k.Syscalls.Name(nr)
				s.PerSyscall[name] += n
				if k.Syscalls.Entries[nr].Support == Missing {
					s.Unimplemented[name] += n
				}
			}
			if n := t.counters.Nanos[nr].Load(); n != 0 {
				s.PerSyscallTime[k.Syscalls.Name(nr)] += time.Duration(n)
			}
			if n := t.counters.Errors[nr].Load(); n != 0 {
				s.PerSyscallErrors[k.Syscalls.Name(nr)] += n
			}
		}
	}
	if k.MemoryFile != nil {
		s.MemoryBytes = k.MemoryFile.Resident()
	}
	k.mu.Lock()
	s.CPUTime = k.reapedCPU
	k.mu.Unlock()
	for _, tg := range k.Groups() {
		u, sys := tg.CPUTimes()
		s.CPUTime += u + sys
	}
	return s
}

func (k *Kernel) debugf(format string, args ...any) {
	if k.Debug != nil {
		fmt.Fprintf(k.Debug, "sbx: kernel: "+format+"\n", args...)
	}
}

// OnProcessExit registers f to run whenever a process exits, after its last thread.
func (k *Kernel) OnProcessExit(f func(*ThreadGroup)) {
	k.mu.Lock()
	k.exitHooks = append(k.exitHooks, f)
	k.mu.Unlock()
}
