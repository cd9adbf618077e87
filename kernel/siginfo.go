package kernel

import "encoding/binary"

// si_code values (include/uapi/asm-generic/siginfo.h).
const (
	SIUser   = 0
	SIKernel = 0x80
	SIQueue  = -1
	SITimer  = -2
	SITkill  = -6
	// SIGCHLD codes.
	CldExited    = 1
	CldKilled    = 2
	CldDumped    = 3
	CldStopped   = 5
	CldContinued = 6
)

// SigInfo is what the kernel records about a pending signal, for handlers (SA_SIGINFO),
// sigwaitinfo and signalfd (see pendingSet for how instances queue).
type SigInfo struct {
	Code int32
	// PID and UID name the sender (kill, sigqueue) or the child (SIGCHLD).
	PID int32
	UID uint32
	// Status is a SIGCHLD's exit code or signal.
	Status int32
	// Value is sigqueue's or a timer's sigval.
	Value uint64
	// TimerID and Overrun describe a POSIX timer's expiry (SI_TIMER).
	TimerID, Overrun int32
	// Addr is a fault's address.
	Addr uint64
	// Poll marks signal-driven I/O (F_SETSIG): Band is si_band, FD si_fd.
	Poll bool
	Band int64
	FD   int32
	// Errno is si_errno (a seccomp trap's SECCOMP_RET_DATA).
	Errno int32
	// CallAddr, Syscall and Arch describe a seccomp trap (SIGSYS, SYS_SECCOMP).
	CallAddr uint64
	Syscall  int32
	Arch     uint32
}

// Bytes renders the siginfo_t of sig (128 bytes, x86-64 layout).
func (si SigInfo) Bytes(sig int) []byte {
	b := make([]byte, 128)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(sig))
	le.PutUint32(b[4:], uint32(si.Errno))
	le.PutUint32(b[8:], uint32(si.Code))
	switch {
	case si.Poll:
		le.PutUint64(b[16:], uint64(si.Band))
		le.PutUint32(b[24:], uint32(si.FD))
	case sig == 31 && si.Code == sysSeccomp: // SIGSYS: si_call_addr, si_syscall, si_arch
		le.PutUint64(b[16:], si.CallAddr)
		le.PutUint32(b[24:], uint32(si.Syscall))
		le.PutUint32(b[28:], si.Arch)
	case si.Code == SITimer:
		le.PutUint32(b[16:], uint32(si.TimerID))
		le.PutUint32(b[20:], uint32(si.Overrun))
		le.PutUint64(b[24:], si.Value)
	case si.Addr != 0:
		le.PutUint64(b[16:], si.Addr)
	default:
		le.PutUint32(b[16:], uint32(si.PID))
		le.PutUint32(b[20:], si.UID)
		if sig == 17 { // SIGCHLD: si_status, then si_utime and si_stime (zero)
			le.PutUint32(b[24:], uint32(si.Status))
		} else {
			le.PutUint64(b[24:], si.Value)
		}
	}
	return b
}

// SignalfdBytes renders struct signalfd_siginfo (128 bytes).
func (si SigInfo) SignalfdBytes(sig int) []byte {
	b := make([]byte, 128)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(sig))
	le.PutUint32(b[8:], uint32(si.Code))
	le.PutUint32(b[12:], uint32(si.PID))
	le.PutUint32(b[16:], si.UID)
	le.PutUint32(b[24:], uint32(si.TimerID))
	le.PutUint32(b[32:], uint32(si.Overrun))
	le.PutUint32(b[40:], uint32(si.Status))
	le.PutUint32(b[44:], uint32(si.Value))
	le.PutUint64(b[48:], si.Value)
	le.PutUint64(b[72:], si.Addr)
	le.PutUint32(b[4:], uint32(si.Errno))
	le.PutUint32(b[84:], uint32(si.Syscall))
	le.PutUint64(b[88:], si.CallAddr)
	le.PutUint32(b[96:], si.Arch)
	return b
}

// UserSigInfo is the SigInfo of a signal the task sends with kill(2) (SI_USER) or
// tgkill(2) (SI_TKILL).
func (t *Task) UserSigInfo(code int32) SigInfo {
	return SigInfo{Code: code, PID: t.tg.PID, UID: t.Creds().UID}
}
