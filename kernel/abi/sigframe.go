package abi

import "encoding/binary"

// Sigcontext is the x86-64 struct sigcontext (arch/x86/include/uapi/asm/sigcontext.h):
// the registers a signal frame saves, which rt_sigreturn(2) restores.
type Sigcontext struct {
	R8      uint64 `c:"r8"`
	R9      uint64 `c:"r9"`
	R10     uint64 `c:"r10"`
	R11     uint64 `c:"r11"`
	R12     uint64 `c:"r12"`
	R13     uint64 `c:"r13"`
	R14     uint64 `c:"r14"`
	R15     uint64 `c:"r15"`
	Rdi     uint64 `c:"rdi"`
	Rsi     uint64 `c:"rsi"`
	Rbp     uint64 `c:"rbp"`
	Rbx     uint64 `c:"rbx"`
	Rdx     uint64 `c:"rdx"`
	Rax     uint64 `c:"rax"`
	Rcx     uint64 `c:"rcx"`
	Rsp     uint64 `c:"rsp"`
	Rip     uint64 `c:"rip"`
	Eflags  uint64 `c:"eflags"`
	Cs      uint16 `c:"cs"`
	Gs      uint16 `c:"gs"`
	Fs      uint16 `c:"fs"`
	Ss      uint16 `c:"ss"`
	Err     uint64 `c:"err"`
	Trapno  uint64 `c:"trapno"`
	Oldmask uint64 `c:"oldmask"`
	Cr2     uint64 `c:"cr2"`
	// Fpstate is the address of the saved FPU state (struct _fpstate), 0 for none.
	Fpstate   uint64    `c:"fpstate"`
	Reserved1 [8]uint64 `c:"reserved1"`
}

// SizeofSigcontext is sizeof(struct sigcontext).
const SizeofSigcontext = 256

// Encode writes s to b[:SizeofSigcontext].
func (s *Sigcontext) Encode(b []byte) {
	le := binary.LittleEndian
	for i, v := range [...]uint64{s.R8, s.R9, s.R10, s.R11, s.R12, s.R13, s.R14, s.R15,
		s.Rdi, s.Rsi, s.Rbp, s.Rbx, s.Rdx, s.Rax, s.Rcx, s.Rsp, s.Rip, s.Eflags} {
		le.PutUint64(b[8*i:], v)
	}
	le.PutUint16(b[144:], s.Cs)
	le.PutUint16(b[146:], s.Gs)
	le.PutUint16(b[148:], s.Fs)
	le.PutUint16(b[150:], s.Ss)
	le.PutUint64(b[152:], s.Err)
	le.PutUint64(b[160:], s.Trapno)
	le.PutUint64(b[168:], s.Oldmask)
	le.PutUint64(b[176:], s.Cr2)
	le.PutUint64(b[184:], s.Fpstate)
	for i, v := range s.Reserved1 {
		le.PutUint64(b[192+8*i:], v)
	}
}

// Decode reads s from b[:SizeofSigcontext].
func (s *Sigcontext) Decode(b []byte) {
	le := binary.LittleEndian
	for i, p := range [...]*uint64{&s.R8, &s.R9, &s.R10, &s.R11, &s.R12, &s.R13, &s.R14, &s.R15,
		&s.Rdi, &s.Rsi, &s.Rbp, &s.Rbx, &s.Rdx, &s.Rax, &s.Rcx, &s.Rsp, &s.Rip, &s.Eflags} {
		*p = le.Uint64(b[8*i:])
	}
	s.Cs, s.Gs, s.Fs, s.Ss = le.Uint16(b[144:]), le.Uint16(b[146:]), le.Uint16(b[148:]), le.Uint16(b[150:])
	s.Err, s.Trapno, s.Oldmask, s.Cr2 = le.Uint64(b[152:]), le.Uint64(b[160:]), le.Uint64(b[168:]), le.Uint64(b[176:])
	s.Fpstate = le.Uint64(b[184:])
	for i := range s.Reserved1 {
		s.Reserved1[i] = le.Uint64(b[192+8*i:])
	}
}

// Ucontext is the kernel's struct ucontext (include/uapi/asm-generic/ucontext.h, used by
// arch/x86/include/uapi/asm/ucontext.h) in an x86-64 rt_sigframe: the interrupted
// context a handler receives as its third argument.
type Ucontext struct {
	Flags    uint64     `c:"uc_flags"`
	Link     uint64     `c:"uc_link"`
	Stack    StackT     `c:"uc_stack"`
	Mcontext Sigcontext `c:"uc_mcontext"`
	Sigmask  uint64     `c:"uc_sigmask"`
}

// SizeofUcontext is sizeof(struct ucontext).
const SizeofUcontext = 304

// Encode writes u to b[:SizeofUcontext].
func (u *Ucontext) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], u.Flags)
	binary.LittleEndian.PutUint64(b[8:], u.Link)
	u.Stack.Encode(b[16:])
	u.Mcontext.Encode(b[40:])
	binary.LittleEndian.PutUint64(b[296:], u.Sigmask)
}

// Decode reads u from b[:SizeofUcontext].
func (u *Ucontext) Decode(b []byte) {
	u.Flags, u.Link = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
	u.Stack.Decode(b[16:])
	u.Mcontext.Decode(b[40:])
	u.Sigmask = binary.LittleEndian.Uint64(b[296:])
}

// SizeofRtSigframe is sizeof the x86-64 struct rt_sigframe (arch/x86/include/asm/sigframe.h,
// not in the uapi headers): the return address (pretcode), the ucontext, then the siginfo.
const SizeofRtSigframe = 8 + SizeofUcontext + SizeofSiginfo

// EncodeRtSigframe writes an rt_sigframe to b[:SizeofRtSigframe]: pretcode (the
// sa_restorer the handler returns to), uc, and the siginfo already encoded in info.
func EncodeRtSigframe(b []byte, pretcode uint64, uc *Ucontext, info []byte) {
	binary.LittleEndian.PutUint64(b[0:], pretcode)
	uc.Encode(b[8:])
	copy(b[8+SizeofUcontext:SizeofRtSigframe], info)
}
