package kernel

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Support says how completely a syscall is implemented.
type Support uint8

const (
	// Missing syscalls return ENOSYS and are counted and logged once.
	Missing Support = iota
	// Supported syscalls implement Linux behaviour fully for the sandbox.
	Supported
	// Partial syscalls implement the common cases; Note says what is missing.
	Partial
	// Refused syscalls return a fixed errno on purpose (Note says why).
	Refused
)

func (s Support) String() string {
	switch s {
	case Supported:
		return "supported"
	case Partial:
		return "partial"
	case Refused:
		return "refused"
	}
	return "missing"
}

// SyscallArgs are the six raw syscall arguments.
type SyscallArgs [6]uint64

// SyscallFn implements one syscall. It returns the value for rax or an errno (unix.Errno).
type SyscallFn func(t *Task, a SyscallArgs) (uint64, error)

// ArgWidth is how much of its register a syscall argument uses, from its C type.
type ArgWidth uint8

const (
	// Wide arguments use the whole register (long, size_t, off_t, pointers).
	Wide ArgWidth = iota
	// Int32 arguments are C int (and pid_t, clockid_t, ...): the low half, sign-extended.
	Int32
	// Uint32 arguments are C unsigned int (and uid_t, u32, ...): the low half.
	Uint32
	// Uint16 arguments are umode_t: the low 16 bits.
	Uint16
)

// Syscall is one table entry.
type Syscall struct {
	Name    string
	Fn      SyscallFn
	Support Support
	Note    string
	// Format decodes arguments for --strace; nil prints raw hex.
	Format func(t *Task, a SyscallArgs) string
	// Widths gives each argument's width; Decode applies them before the handler runs, as
	// Linux's syscall wrappers cast each register to its parameter's type, so upper bits
	// an app left in a 32-bit argument's register are ignored.
	Widths [6]ArgWidth
	// Native is, in the i386 table, the x86-64 number of the call an entry runs (for the
	// restart rules and the counters).
	Native uint64
}

// Decode cuts each argument to the width of its C type.
func (s *Syscall) Decode(a *SyscallArgs) {
	for i, w := range s.Widths {
		switch w {
		case Int32:
			a[i] = uint64(int64(int32(a[i])))
		case Uint32:
			a[i] = uint64(uint32(a[i]))
		case Uint16:
			a[i] = uint64(uint16(a[i]))
		}
	}
}

// SyscallTable maps x86-64 syscall numbers to handlers.
type SyscallTable struct {
	Entries [MaxSyscall]Syscall
	// Compat is the i386 table a 64-bit process reaches through int 0x80 (syscall32.go);
	// nil: such calls fail with ENOSYS.
	Compat *SyscallTable
}

// MaxSyscall bounds syscall numbers (x86-64 numbers are below 512).
const MaxSyscall = 512

// ErrNoReturn is returned by handlers that set the task's registers themselves (execve,
// rt_sigreturn, exit): the task loop writes nothing to rax.
var ErrNoReturn = errors.New("syscall sets registers itself")

// ErrRestart asks the task loop to re-execute the syscall (after a signal that did not
// interrupt it, for example).
var ErrRestart = errors.New("restart syscall")

// ErrInterruptedNoRestart is EINTR that SA_RESTART does not turn into a restart: a socket
// call with a timeout (SO_RCVTIMEO, SO_SNDTIMEO) that a handled signal interrupted
// (signal(7)).
var ErrInterruptedNoRestart = errors.New("interrupted (not restartable)")

// unknownLog remembers which unknown syscall numbers were already logged.
type unknownLog struct {
	mu     sync.Mutex
	logged map[uint64]bool
}

func (u *unknownLog) first(nr uint64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.logged == nil {
		u.logged = make(map[uint64]bool)
	}
	if u.logged[nr] {
		return false
	}
	u.logged[nr] = true
	return true
}

// Counters are a task's syscall statistics. Only the owning task writes them (plain atomic
// adds on its own cache lines); readers sum over tasks.
type Counters struct {
	Total   atomic.Uint64
	PerNr   [MaxSyscall]atomic.Uint64
	Unknown atomic.Uint64
	// With Config.SyscallTimes: wall time in each call's handler (blocking included) and
	// the calls that failed, by x86-64 number.
	Nanos  [MaxSyscall]atomic.Int64
	Errors [MaxSyscall]atomic.Uint64
}

// Name returns the name of syscall nr.
func (st *SyscallTable) Name(nr uint64) string {
	if nr < MaxSyscall && st.Entries[nr].Name != "" {
		return st.Entries[nr].Name
	}
	return fmt.Sprintf("syscall_%d", nr)
}
