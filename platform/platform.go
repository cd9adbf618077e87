// Package platform defines how the sbx kernel runs application machine code: address spaces
// filled with ranges of the sandbox's memory file, and execution contexts that run app code
// until it makes a system call, faults, gets a synchronous signal, or is interrupted.
//
// Implementations: platform/ptrace (stub processes traced with PTRACE_SYSEMU), platform/trap
// (the same stubs, syscalls caught by a seccomp RET_TRAP filter inside them) and
// platform/kvm (app code in ring 3 of a KVM virtual machine). They register by name (registry.go). The kernel (package kernel) is the only user. See DESIGN.md §4.
//
// Threading contract:
//   - A Context is used by exactly one goroutine, which the kernel locks to its OS thread
//     (runtime.LockOSThread) for the Context's whole life. Switch, FPState, SetFPState and
//     Release are called only from that goroutine. Interrupt may be called from any goroutine.
//   - AddressSpace methods may be called from any goroutine, including goroutines of tasks
//     that are not currently running in that address space; implementations serialise them.
package platform

import (
	"errors"
	"time"
)

// Prot is a set of page protections.
type Prot uint8

const (
	ProtRead  Prot = 1 << 0
	ProtWrite Prot = 1 << 1
	ProtExec  Prot = 1 << 2
)

// Platform creates address spaces and contexts. One Platform serves one sandbox and is bound
// to that sandbox's memory file at creation.
type Platform interface {
	// Name is the name it is registered under: "trap", "ptrace", "kvm".
	Name() string
	// MaxUserAddress is the exclusive upper bound of addresses the app may map; anything the
	// platform itself needs in the app's address space lives above it.
	MaxUserAddress() uint64
	// VDSO is the vDSO every address space of this platform shows, or nil when it shows
	// none (the kernel then gives the app no AT_SYSINFO_EHDR and libc makes syscalls).
	VDSO() *VDSO
	// NewAddressSpace returns a new, empty address space.
	NewAddressSpace() (AddressSpace, error)
	// NewContext returns a new execution context. It must be called from the goroutine that
	// will use it, already locked to its OS thread.
	NewContext() (Context, error)
	// Close releases every address space and context and the platform's own resources.
	Close() error
}

// AddressSpace is the app-visible memory of one process: ranges of the memory file mapped at
// page-aligned app addresses. It is a cache the kernel fills: the kernel's mm keeps the truth.
//
// Changes are synchronous for every thread, as a TLB shoot-down is on Linux: once MapFile,
// MapHostFile, Unmap or Protect returns, no context switched into the address space runs
// app code that still sees what the call replaced, removed or took access from (a thread
// that learns of the change afterwards, by a store the caller makes next, cannot read the
// old pages or write where it no longer may). Contexts running app code with the range
// mapped are stopped before the call returns; the others need nothing.
type AddressSpace interface {
	// MapFile maps [offset, offset+length) of the memory file at addr with prot, replacing
	// whatever was mapped there (MAP_SHARED|MAP_FIXED semantics on the memory file).
	MapFile(addr, length uint64, offset int64, prot Prot) error
	// MapHostFile maps [offset, offset+length) of the host file fd (a host memfd the kernel
	// holds: memory shared with host processes) at addr with prot, replacing whatever was
	// mapped there (MAP_SHARED|MAP_FIXED semantics on that file). The platform keeps its own
	// duplicate of fd for as long as a mapping of it may need it; the caller keeps fd.
	MapHostFile(addr, length uint64, fd int, offset int64, prot Prot) error
	// Unmap removes any mapping in [addr, addr+length).
	Unmap(addr, length uint64) error
	// Protect changes the protection of [addr, addr+length), which must be mapped.
	Protect(addr, length uint64, prot Prot) error
	// Release destroys the address space. Contexts switched into it must not be running.
	Release()
}

// EventKind says why Switch returned.
type EventKind uint8

const (
	// EventSyscall: the app executed a system call instruction. Regs.OrigRax holds the number,
	// Rdi, Rsi, Rdx, R10, R8, R9 the arguments; Rip points after the instruction. The kernel
	// writes the result to Rax before the next Switch.
	EventSyscall EventKind = iota + 1
	// EventFault: a memory access fault (SIGSEGV/SIGBUS). Addr is the faulting address.
	EventFault
	// EventSignal: a synchronous signal other than a memory fault (SIGILL, SIGFPE, SIGTRAP
	// from int3 or single-step, ...).
	EventSignal
	// EventInterrupted: Interrupt was called; the app was stopped at an instruction boundary.
	EventInterrupted
)

// AccessType describes a faulting access where the platform can tell; all false means unknown.
type AccessType struct {
	Read, Write, Exec bool
}

// Event is the result of Switch.
type Event struct {
	Kind EventKind
	// Signo and Code are the host siginfo's si_signo and si_code for EventFault and EventSignal.
	Signo int32
	Code  int32
	// Addr is si_addr for EventFault and EventSignal.
	Addr   uint64
	Access AccessType
	// Patchable (EventSyscall) says the app reached the kernel through a syscall
	// instruction the platform could run without a trap if the kernel patched its site
	// (SyscallPatcher).
	Patchable bool
}

// SyscallPatcher is implemented by address spaces whose platform can run a patched syscall
// site without trapping (trap). The kernel, which owns app memory, does the patching: at a
// Patchable syscall event whose bytes around Rip are one of the PatchKind sequences it
// asks PatchSyscall for the replacement and writes it into a private copy of the page. The
// platform then reports a call through the patched site as EventSyscall with the
// registers the original instructions would have left (Rax and OrigRax the number, Rip
// after the original syscall instruction, Rcx = Rip, R11 = Eflags, and what the kind's
// first instruction loads), and an app at an instruction boundary inside the site (a
// restarted syscall, a signal frame saved there) as the original code would run there.
type SyscallPatcher interface {
	// PatchSyscall returns the bytes to write over the kind's sequence at site (7, or 10
	// for PatchXorRead), or false (no room, or nr not patchable). nr is the syscall number
	// of a PatchMovEax site.
	PatchSyscall(site uint64, kind PatchKind, nr uint32) ([]byte, bool)
	// InheritPatches makes the sites patched in parent work here (fork: the child's memory
	// holds the parent's patched pages).
	InheritPatches(parent AddressSpace)
}

// PatchKind is a patchable sequence around a syscall instruction.
type PatchKind uint8

const (
	// PatchMovEax is `mov $nr, %eax; syscall` (b8 imm32 0f 05): how glibc's wrappers make
	// almost every call.
	PatchMovEax PatchKind = iota
	// PatchLoadR9 is `mov 0x8(%rsp), %r9; syscall` (4c 8b 4c 24 08 0f 05): the end of
	// glibc's syscall(), which takes the number in rax and loads the sixth argument from
	// the stack. A load that would fault is reported as the fault, at the site.
	PatchLoadR9
	// PatchXorRead is `xor %eax, %eax; syscall; cmp $-4096, %rax` (31 c0 0f 05 48 3d 00
	// f0 ff ff): glibc's read. The site is those 10 bytes (PatchSyscall returns 10); the
	// syscall shows Rip = site+4 (after the original syscall instruction), Rax = OrigRax
	// = 0 and the flags xor leaves, and the platform runs the cmp (its flags from Rax)
	// when the app is resumed at site+4. An app resumed at site+2 (a restart) makes the
	// syscall at once, as at site+5 of the other kinds.
	PatchXorRead
)

// Retirer is implemented by address spaces whose threads may keep running on a mapping for
// a while after it was replaced (trap and ptrace: each thread's stub catches up with the
// address space's changes only when it next stops). Memory the kernel replaces under
// running threads without the app asking for it (a patched code page, mm.PatchCode) must
// stay valid, holding what it held, until no thread can still run on the old mapping: the
// kernel hands its release to Retire instead of freeing it at once.
type Retirer interface {
	// Retire calls release once every thread of the address space has caught up with the
	// changes made before the call (or has ended), at the latest when the address space is
	// released. release runs under the platform's locks: it may take the memory file's
	// lock, never an address space's or an MM's.
	Retire(release func())
}

// Registers is the x86-64 general register file, laid out as Linux's struct user_regs_struct
// (arch/x86/include/asm/user_64.h), so platforms can pass it to PTRACE_GETREGS unchanged.
type Registers struct {
	R15, R14, R13, R12, Rbp, Rbx, R11, R10, R9, R8 uint64
	Rax, Rcx, Rdx, Rsi, Rdi, OrigRax               uint64
	Rip, Cs, Eflags, Rsp, Ss                       uint64
	FsBase, GsBase                                 uint64
	Ds, Es, Fs, Gs                                 uint64
}

// Context runs app code for one task.
type Context interface {
	// Switch runs app code in as with regs until an event. regs is updated in place with the
	// register state at the event. FP/vector state lives in the context and survives across
	// Switch calls into the same address space.
	Switch(as AddressSpace, regs *Registers) (Event, error)
	// Interrupt makes a running (or the next) Switch return EventInterrupted promptly. Safe
	// from any goroutine.
	Interrupt()
	// FPState returns the context's FP/vector state in XSAVE layout (for signal frames and
	// fork). SetFPState installs one; a zero-length state resets to the initial FP state.
	FPState() ([]byte, error)
	SetFPState(state []byte) error
	// CPUTime returns the CPU time the context has used so far: running app code (user)
	// and everything done on its behalf, app faults and the kernel's own handling (sys).
	// Safe from any goroutine, also after Release.
	CPUTime() (user, sys time.Duration)
	// Release frees the context.
	Release()
}

// Prestarter is a Context that can prepare, ahead of its first Switch, what that Switch
// would otherwise start (ptrace and trap: a stub process), so that the start-up overlaps
// other work. Prestart runs on the goroutine (and locked OS thread) that will call Switch.
type Prestarter interface {
	Prestart() error
}

// ErrContextDead is returned by Switch when the context's underlying execution resource
// died unexpectedly (for ptrace: the stub thread was killed from outside).
var ErrContextDead = errors.New("platform: execution context died")

// VDSO is a vDSO a platform shows at the same addresses in every address space, above
// MaxUserAddress: the host's own [vvar] and [vdso] pages (ptrace and trap move each stub's
// pair there), so the app reads the host's clocks without a syscall. The app cannot
// unmap, move or change these mappings; its syscalls from vDSO code (a clock the vDSO
// does not serve) reach the kernel like any other.
type VDSO struct {
	// Maps are the mappings in address order, as /proc/PID/maps shows them.
	Maps []VDSOMap
	// Base is the address of the vDSO's ELF image (AT_SYSINFO_EHDR).
	Base uint64
	// Image is a copy of the vDSO's pages (the mapping at Base), for the kernel's own reads
	// of them (an app passing a vDSO address to write(2)).
	Image []byte
}

// VDSOMap is one mapping of a VDSO.
type VDSOMap struct {
	Start, End uint64
	Prot       Prot
	Name       string // "[vvar]", "[vvar_vclock]", "[vdso]", ...
}
