package abi

import "encoding/binary"

// siginfo_t (include/uapi/asm-generic/siginfo.h) is 128 bytes: a header, then a union
// whose arm si_code and the signal select. Each arm is its own Go type here, with the
// header inline; Encode writes the whole 128 bytes, zeroing what the arm does not use.

// SizeofSiginfo is sizeof(siginfo_t).
const SizeofSiginfo = 128

// SiginfoHeader is the head every arm shares.
type SiginfoHeader struct {
	Signo int32 `c:"si_signo"`
	Errno int32 `c:"si_errno"`
	Code  int32 `c:"si_code"`
	_     int32 // alignment of the union
}

func (h *SiginfoHeader) encode(b []byte) {
	clear(b[:SizeofSiginfo])
	binary.LittleEndian.PutUint32(b[0:], uint32(h.Signo))
	binary.LittleEndian.PutUint32(b[4:], uint32(h.Errno))
	binary.LittleEndian.PutUint32(b[8:], uint32(h.Code))
}

// SiginfoKill is the arm of kill(2), tgkill(2) and sigqueue(3) (_kill and _rt): the
// sender and, for a queued signal, its value.
type SiginfoKill struct {
	SiginfoHeader `c:"."`
	PID           int32  `c:"si_pid"`
	UID           uint32 `c:"si_uid"`
	Value         uint64 `c:"si_value"`
	_             [96]byte
}

// Encode writes s to b[:SizeofSiginfo].
func (s *SiginfoKill) Encode(b []byte) {
	s.SiginfoHeader.encode(b)
	binary.LittleEndian.PutUint32(b[16:], uint32(s.PID))
	binary.LittleEndian.PutUint32(b[20:], s.UID)
	binary.LittleEndian.PutUint64(b[24:], s.Value)
}

// SiginfoChld is SIGCHLD's arm (_sigchld): the child, its status and CPU times.
type SiginfoChld struct {
	SiginfoHeader `c:"."`
	PID           int32  `c:"si_pid"`
	UID           uint32 `c:"si_uid"`
	Status        int32  `c:"si_status"`
	_             int32  // alignment of si_utime
	Utime         int64  `c:"si_utime"`
	Stime         int64  `c:"si_stime"`
	_             [80]byte
}

// Encode writes s to b[:SizeofSiginfo].
func (s *SiginfoChld) Encode(b []byte) {
	s.SiginfoHeader.encode(b)
	binary.LittleEndian.PutUint32(b[16:], uint32(s.PID))
	binary.LittleEndian.PutUint32(b[20:], s.UID)
	binary.LittleEndian.PutUint32(b[24:], uint32(s.Status))
	binary.LittleEndian.PutUint64(b[32:], uint64(s.Utime))
	binary.LittleEndian.PutUint64(b[40:], uint64(s.Stime))
}

// SiginfoTimer is a POSIX timer's arm (_timer, SI_TIMER).
type SiginfoTimer struct {
	SiginfoHeader `c:"."`
	TimerID       int32  `c:"si_timerid"`
	Overrun       int32  `c:"si_overrun"`
	Value         uint64 `c:"si_value"`
	_             [96]byte
}

// Encode writes s to b[:SizeofSiginfo].
func (s *SiginfoTimer) Encode(b []byte) {
	s.SiginfoHeader.encode(b)
	binary.LittleEndian.PutUint32(b[16:], uint32(s.TimerID))
	binary.LittleEndian.PutUint32(b[20:], uint32(s.Overrun))
	binary.LittleEndian.PutUint64(b[24:], s.Value)
}

// SiginfoFault is a fault's arm (_sigfault): the address.
type SiginfoFault struct {
	SiginfoHeader `c:"."`
	Addr          uint64 `c:"si_addr"`
	_             [104]byte
}

// Encode writes s to b[:SizeofSiginfo].
func (s *SiginfoFault) Encode(b []byte) {
	s.SiginfoHeader.encode(b)
	binary.LittleEndian.PutUint64(b[16:], s.Addr)
}

// SiginfoPoll is signal-driven I/O's arm (_sigpoll).
type SiginfoPoll struct {
	SiginfoHeader `c:"."`
	Band          int64 `c:"si_band"`
	FD            int32 `c:"si_fd"`
	_             [100]byte
}

// Encode writes s to b[:SizeofSiginfo].
func (s *SiginfoPoll) Encode(b []byte) {
	s.SiginfoHeader.encode(b)
	binary.LittleEndian.PutUint64(b[16:], uint64(s.Band))
	binary.LittleEndian.PutUint32(b[24:], uint32(s.FD))
}

// SiginfoSys is a seccomp trap's arm (_sigsys, SIGSYS with SYS_SECCOMP).
type SiginfoSys struct {
	SiginfoHeader `c:"."`
	CallAddr      uint64 `c:"si_call_addr"`
	Syscall       int32  `c:"si_syscall"`
	Arch          uint32 `c:"si_arch"`
	_             [96]byte
}

// Encode writes s to b[:SizeofSiginfo].
func (s *SiginfoSys) Encode(b []byte) {
	s.SiginfoHeader.encode(b)
	binary.LittleEndian.PutUint64(b[16:], s.CallAddr)
	binary.LittleEndian.PutUint32(b[24:], uint32(s.Syscall))
	binary.LittleEndian.PutUint32(b[28:], s.Arch)
}

// SignalfdSiginfo is struct signalfd_siginfo, what a signalfd read returns
// (include/uapi/linux/signalfd.h).
type SignalfdSiginfo struct {
	Signo    uint32   `c:"ssi_signo"`
	Errno    int32    `c:"ssi_errno"`
	Code     int32    `c:"ssi_code"`
	PID      uint32   `c:"ssi_pid"`
	UID      uint32   `c:"ssi_uid"`
	FD       int32    `c:"ssi_fd"`
	TID      uint32   `c:"ssi_tid"`
	Band     uint32   `c:"ssi_band"`
	Overrun  uint32   `c:"ssi_overrun"`
	Trapno   uint32   `c:"ssi_trapno"`
	Status   int32    `c:"ssi_status"`
	Int      int32    `c:"ssi_int"`
	Ptr      uint64   `c:"ssi_ptr"`
	Utime    uint64   `c:"ssi_utime"`
	Stime    uint64   `c:"ssi_stime"`
	Addr     uint64   `c:"ssi_addr"`
	AddrLSB  uint16   `c:"ssi_addr_lsb"`
	_        uint16   // __pad2
	Syscall  int32    `c:"ssi_syscall"`
	CallAddr uint64   `c:"ssi_call_addr"`
	Arch     uint32   `c:"ssi_arch"`
	_        [28]byte // __pad
}

// SizeofSignalfdSiginfo is sizeof(struct signalfd_siginfo).
const SizeofSignalfdSiginfo = 128

// Encode writes s to b[:SizeofSignalfdSiginfo] (padding zeroed).
func (s *SignalfdSiginfo) Encode(b []byte) {
	le := binary.LittleEndian
	clear(b[:SizeofSignalfdSiginfo])
	for i, v := range []uint32{s.Signo, uint32(s.Errno), uint32(s.Code), s.PID, s.UID, uint32(s.FD), s.TID, s.Band,
		s.Overrun, s.Trapno, uint32(s.Status), uint32(s.Int)} {
		le.PutUint32(b[4*i:], v)
	}
	le.PutUint64(b[48:], s.Ptr)
	le.PutUint64(b[56:], s.Utime)
	le.PutUint64(b[64:], s.Stime)
	le.PutUint64(b[72:], s.Addr)
	le.PutUint16(b[80:], s.AddrLSB)
	le.PutUint32(b[84:], uint32(s.Syscall))
	le.PutUint64(b[88:], s.CallAddr)
	le.PutUint32(b[96:], s.Arch)
}

// SizeofSiginfoKillHead is how much of a siginfo_t the _kill/_rt arm's fields span.
const SizeofSiginfoKillHead = 32

// Decode reads s from b[:SizeofSiginfoKillHead] (a sender's siginfo_t for
// rt_sigqueueinfo(2) and pidfd_send_signal(2)).
func (s *SiginfoKill) Decode(b []byte) {
	s.Signo = int32(binary.LittleEndian.Uint32(b[0:]))
	s.Errno = int32(binary.LittleEndian.Uint32(b[4:]))
	s.Code = int32(binary.LittleEndian.Uint32(b[8:]))
	s.PID = int32(binary.LittleEndian.Uint32(b[16:]))
	s.UID = binary.LittleEndian.Uint32(b[20:])
	s.Value = binary.LittleEndian.Uint64(b[24:])
}
