package kernel

import "github.com/sbx-dev/sbx/kernel/abi"

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

// Bytes renders the siginfo_t of sig (x86-64 layout), in the union arm sig and the code
// select.
func (si SigInfo) Bytes(sig int) []byte {
	b := make([]byte, abi.SizeofSiginfo)
	h := abi.SiginfoHeader{Signo: int32(sig), Errno: si.Errno, Code: si.Code}
	switch {
	case si.Poll:
		(&abi.SiginfoPoll{SiginfoHeader: h, Band: si.Band, FD: si.FD}).Encode(b)
	case sig == 31 && si.Code == sysSeccomp: // SIGSYS
		(&abi.SiginfoSys{SiginfoHeader: h, CallAddr: si.CallAddr, Syscall: si.Syscall, Arch: si.Arch}).Encode(b)
	case si.Code == SITimer:
		(&abi.SiginfoTimer{SiginfoHeader: h, TimerID: si.TimerID, Overrun: si.Overrun, Value: si.Value}).Encode(b)
	case si.Addr != 0:
		(&abi.SiginfoFault{SiginfoHeader: h, Addr: si.Addr}).Encode(b)
	case sig == 17: // SIGCHLD: si_status, then si_utime and si_stime (zero)
		(&abi.SiginfoChld{SiginfoHeader: h, PID: si.PID, UID: si.UID, Status: si.Status}).Encode(b)
	default:
		(&abi.SiginfoKill{SiginfoHeader: h, PID: si.PID, UID: si.UID, Value: si.Value}).Encode(b)
	}
	return b
}

// SignalfdBytes renders struct signalfd_siginfo.
func (si SigInfo) SignalfdBytes(sig int) []byte {
	b := make([]byte, abi.SizeofSignalfdSiginfo)
	(&abi.SignalfdSiginfo{Signo: uint32(sig), Errno: si.Errno, Code: si.Code, PID: uint32(si.PID), UID: si.UID,
		TID: uint32(si.TimerID), Overrun: uint32(si.Overrun), Status: si.Status, Int: int32(uint32(si.Value)),
		Ptr: si.Value, Addr: si.Addr, Syscall: si.Syscall, CallAddr: si.CallAddr, Arch: si.Arch}).Encode(b)
	return b
}

// UserSigInfo is the SigInfo of a signal the task sends with kill(2) (SI_USER) or
// tgkill(2) (SI_TKILL).
func (t *Task) UserSigInfo(code int32) SigInfo {
	return SigInfo{Code: code, PID: t.tg.PID, UID: t.Creds().UID}
}
