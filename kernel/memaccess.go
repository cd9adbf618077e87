package kernel

import (
	"golang.org/x/sys/unix"

	"github.com/sbx-dev/sbx/kernel/mm"
)

// AccessMM returns the address space of process tg for reading or writing it from t
// (process_vm_readv/writev), with a reference the caller drops with DecUsers. The check
// is ptrace's PTRACE_MODE_ATTACH_REALCREDS: t's own process, or one whose real, effective
// and saved IDs all equal t's real IDs and that is dumpable, or t has CAP_SYS_PTRACE
// (EPERM otherwise; ESRCH once tg has no address space).
func (t *Task) AccessMM(tg *ThreadGroup) (*mm.MM, error) {
	if !t.MayPtraceAttach(tg) {
		return nil, unix.EPERM
	}
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.mm == nil {
		return nil, unix.ESRCH
	}
	tg.mm.IncUsers()
	return tg.mm, nil
}

// MayPtraceAttach is ptrace's PTRACE_MODE_ATTACH_REALCREDS check of t on process tg: t's
// own process, or one whose real, effective and saved IDs all equal t's real IDs and that
// is dumpable (an exited one has no dumpable flag left to check), or t has CAP_SYS_PTRACE.
func (t *Task) MayPtraceAttach(tg *ThreadGroup) bool {
	if tg == t.tg {
		return true
	}
	c := t.Creds()
	if c.EUID == 0 && t.k.Caps[0]&(1<<unix.CAP_SYS_PTRACE) != 0 {
		return true
	}
	tc := tg.Creds()
	same := c.UID == tc.UID && c.UID == tc.EUID && c.UID == tc.SUID &&
		c.GID == tc.GID && c.GID == tc.EGID && c.GID == tc.SGID
	return same && (tg.MM() == nil || tg.Dumpable())
}

// Reaped reports whether process tg is gone from the process table (its parent waited
// for it, or it was never a zombie to wait for).
func (tg *ThreadGroup) Reaped() bool {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	return tg.k.groups[tg.PID] != tg
}
