package abi

import "encoding/binary"

// Sigaction is the kernel's struct sigaction of rt_sigaction(2) on x86-64
// (arch/x86/include/uapi/asm/signal.h): unlike the C library's, the mask comes last and
// is one 64-bit word.
type Sigaction struct {
	Handler  uint64 `c:"sa_handler"`
	Flags    uint64 `c:"sa_flags"`
	Restorer uint64 `c:"sa_restorer"`
	Mask     uint64 `c:"sa_mask"`
}

// SizeofSigaction is sizeof(struct sigaction) as the kernel takes it.
const SizeofSigaction = 32

// Encode writes s to b[:SizeofSigaction].
func (s *Sigaction) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], s.Handler)
	le.PutUint64(b[8:], s.Flags)
	le.PutUint64(b[16:], s.Restorer)
	le.PutUint64(b[24:], s.Mask)
}

// Decode reads s from b[:SizeofSigaction].
func (s *Sigaction) Decode(b []byte) {
	le := binary.LittleEndian
	s.Handler, s.Flags, s.Restorer, s.Mask = le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint64(b[16:]), le.Uint64(b[24:])
}

// StackT is stack_t of sigaltstack(2) (include/uapi/asm-generic/signal.h).
type StackT struct {
	SP    uint64 `c:"ss_sp"`
	Flags int32  `c:"ss_flags"`
	_     int32  // alignment of ss_size
	Size  uint64 `c:"ss_size"`
}

// SizeofStackT is sizeof(stack_t).
const SizeofStackT = 24

// Encode writes s to b[:SizeofStackT] (padding zeroed).
func (s *StackT) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], s.SP)
	binary.LittleEndian.PutUint32(b[8:], uint32(s.Flags))
	binary.LittleEndian.PutUint32(b[12:], 0)
	binary.LittleEndian.PutUint64(b[16:], s.Size)
}

// Decode reads s from b[:SizeofStackT].
func (s *StackT) Decode(b []byte) {
	s.SP = binary.LittleEndian.Uint64(b[0:])
	s.Flags = int32(binary.LittleEndian.Uint32(b[8:]))
	s.Size = binary.LittleEndian.Uint64(b[16:])
}

// SigsetArgpack is the sixth argument of pselect6(2): the signal mask and its size, passed
// by reference because the call has no seventh register (fs/select.c's struct
// sigset_argpack; no uapi header declares it).
type SigsetArgpack struct {
	Set  uint64 // const sigset_t *
	Size uint64 // size_t
}

// SizeofSigsetArgpack is sizeof(struct sigset_argpack).
const SizeofSigsetArgpack = 16

// Decode reads a from b[:SizeofSigsetArgpack].
func (a *SigsetArgpack) Decode(b []byte) {
	a.Set, a.Size = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
}
