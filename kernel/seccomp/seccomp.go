// Package seccomp is the guest's seccomp-bpf: classic-BPF programs an app installs with
// seccomp(2) or prctl(PR_SET_SECCOMP), checked as Linux checks them (bpf_check_classic and
// seccomp_check_filter) and run on every system call of a filtered task.
//
// A Filter is immutable once made and points at the filter installed before it, so the
// chain a task runs is shared by every task that inherited it (fork, clone, TSYNC): adding
// a filter makes a new head, never changes a shared one. Go's garbage collector does the
// reference counting Linux does by hand.
package seccomp

import (
	"github.com/sbx-dev/sbx/kernel/abi"
	"golang.org/x/sys/unix"
)

// Return actions (include/uapi/linux/seccomp.h).
const (
	RetKillProcess = 0x80000000
	RetKillThread  = 0x00000000
	RetTrap        = 0x00030000
	RetErrno       = 0x00050000
	RetUserNotif   = 0x7fc00000
	RetTrace       = 0x7ff00000
	RetLog         = 0x7ffc0000
	RetAllow       = 0x7fff0000

	RetActionFull = 0xffff0000
	RetData       = 0x0000ffff
)

// Modes and operations.
const (
	ModeDisabled = 0
	ModeStrict   = 1
	ModeFilter   = 2

	SetModeStrict        = 0
	SetModeFilter        = 1
	GetActionAvail       = 2
	GetNotifSizes        = 3
	FlagTSync            = 1 << 0
	FlagLog              = 1 << 1
	FlagSpecAllow        = 1 << 2
	FlagNewListener      = 1 << 3
	FlagTSyncESRCH       = 1 << 4
	FlagWaitKillableRecv = 1 << 5
	FlagMask             = FlagTSync | FlagLog | FlagSpecAllow | FlagNewListener | FlagTSyncESRCH | FlagWaitKillableRecv
)

// AuditArchX86_64 is seccomp_data.arch on x86-64 (include/uapi/linux/audit.h).
const AuditArchX86_64 = 0xc000003e

// DataSize is sizeof(struct seccomp_data); notification sizes are GET_NOTIF_SIZES's answer.
const (
	DataSize      = abi.SizeofSeccompData
	NotifSize     = abi.SizeofSeccompNotif
	NotifRespSize = abi.SizeofSeccompNotifResp
)

// MaxInsns is BPF_MAXINSNS; MaxInsnsPerPath bounds a whole chain (each filter counts its
// length plus 4, as Linux's MAX_INSNS_PER_PATH).
const (
	MaxInsns        = 4096
	MaxInsnsPerPath = 1 << 15
	memWords        = 16
)

// Data is struct seccomp_data.
type Data = abi.SeccompData

// Insn is struct sock_filter.
type Insn struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// Classic BPF opcodes (include/uapi/linux/filter.h, bpf_common.h).
const (
	bpfLD, bpfLDX, bpfST, bpfSTX, bpfALU, bpfJMP, bpfRET, bpfMISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07

	bpfW, bpfIMM, bpfABS, bpfMEM, bpfLEN = 0x00, 0x00, 0x20, 0x60, 0x80
	bpfK, bpfX, bpfA                     = 0x00, 0x08, 0x10

	bpfADD, bpfSUB, bpfMUL, bpfDIV, bpfOR, bpfAND, bpfLSH, bpfRSH, bpfNEG, bpfXOR = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0xa0
	bpfJA, bpfJEQ, bpfJGT, bpfJGE, bpfJSET                                        = 0x00, 0x10, 0x20, 0x30, 0x40
	bpfTAX, bpfTXA                                                                = 0x00, 0x80
)

// allowed is seccomp_check_filter's list of opcodes (a subset of classic BPF's).
func allowed(code uint16) bool {
	switch code {
	case bpfLD | bpfW | bpfABS, bpfLD | bpfW | bpfLEN, bpfLDX | bpfW | bpfLEN,
		bpfRET | bpfK, bpfRET | bpfA,
		bpfALU | bpfNEG,
		bpfLD | bpfIMM, bpfLDX | bpfIMM, bpfMISC | bpfTAX, bpfMISC | bpfTXA,
		bpfLD | bpfMEM, bpfLDX | bpfMEM, bpfST, bpfSTX,
		bpfJMP | bpfJA:
		return true
	}
	switch code &^ bpfX {
	case bpfALU | bpfADD, bpfALU | bpfSUB, bpfALU | bpfMUL, bpfALU | bpfDIV, bpfALU | bpfAND,
		bpfALU | bpfOR, bpfALU | bpfXOR, bpfALU | bpfLSH, bpfALU | bpfRSH,
		bpfJMP | bpfJEQ, bpfJMP | bpfJGE, bpfJMP | bpfJGT, bpfJMP | bpfJSET:
		return true
	}
	return false
}

// Check validates a program as Linux does before accepting it as a filter: the length,
// every opcode in seccomp's list, constant divisors and shifts, scratch-memory indexes,
// jumps inside the program, loads only of aligned words of seccomp_data, no scratch word
// read before it is written on every path, and a return last. It returns EINVAL.
func Check(prog []Insn) error {
	n := len(prog)
	if n == 0 || n > MaxInsns {
		return unix.EINVAL
	}
	usesMem := false
	for pc, in := range prog {
		if !allowed(in.Code) {
			return unix.EINVAL
		}
		switch in.Code {
		case bpfALU | bpfDIV | bpfK:
			if in.K == 0 {
				return unix.EINVAL
			}
		case bpfALU | bpfLSH | bpfK, bpfALU | bpfRSH | bpfK:
			if in.K >= 32 {
				return unix.EINVAL
			}
		case bpfLD | bpfMEM, bpfLDX | bpfMEM, bpfST, bpfSTX:
			if in.K >= memWords {
				return unix.EINVAL
			}
			usesMem = true
		case bpfJMP | bpfJA:
			if in.K >= uint32(n-1-pc) {
				return unix.EINVAL
			}
		case bpfLD | bpfW | bpfABS:
			if in.K >= DataSize || in.K&3 != 0 {
				return unix.EINVAL
			}
		}
		if in.Code&7 == bpfJMP && in.Code != bpfJMP|bpfJA {
			if pc+int(in.Jt)+1 >= n || pc+int(in.Jf)+1 >= n {
				return unix.EINVAL
			}
		}
	}
	if usesMem && !memWrittenBeforeRead(prog) {
		return unix.EINVAL
	}
	if last := prog[n-1].Code; last != bpfRET|bpfK && last != bpfRET|bpfA {
		return unix.EINVAL
	}
	return nil
}

// memWrittenBeforeRead is Linux's check_load_and_stores: a scratch word must be stored on
// every path before it is loaded.
func memWrittenBeforeRead(prog []Insn) bool {
	masks := make([]uint16, len(prog))
	for i := range masks {
		masks[i] = 0xffff
	}
	var valid uint16
	for pc, in := range prog {
		valid &= masks[pc]
		switch {
		case in.Code == bpfST || in.Code == bpfSTX:
			valid |= 1 << in.K
		case in.Code == bpfLD|bpfMEM || in.Code == bpfLDX|bpfMEM:
			if valid&(1<<in.K) == 0 {
				return false
			}
		case in.Code == bpfJMP|bpfJA:
			masks[pc+1+int(in.K)] &= valid
			valid = 0xffff
		case in.Code&7 == bpfJMP:
			masks[pc+1+int(in.Jt)] &= valid
			masks[pc+1+int(in.Jf)] &= valid
			valid = 0xffff
		}
	}
	return true
}

// Operations of a compiled program: a dense numbering of the allowed opcodes, so the
// interpreter's switch is a jump table.
const (
	opLdAbs = iota
	opLdImm
	opLdxImm
	opLdMem
	opLdxMem
	opSt
	opStx
	opTax
	opTxa
	opRetK
	opRetA
	opJa
	opJeqK
	opJeqX
	opJgtK
	opJgtX
	opJgeK
	opJgeX
	opJsetK
	opJsetX
	opNeg
	opAddK
	opAddX
	opSubK
	opSubX
	opMulK
	opMulX
	opDivK
	opDivX
	opAndK
	opAndX
	opOrK
	opOrX
	opXorK
	opXorX
	opLshK
	opLshX
	opRshK
	opRshX
)

// op is one compiled instruction; for opLdAbs, k is the word index in seccomp_data.
type op struct {
	op     uint8
	jt, jf uint8
	k      uint32
}

// compile turns a checked program into ops (LEN loads become immediates, as in Linux).
func compile(prog []Insn) []op {
	ops := make([]op, len(prog))
	for i, in := range prog {
		o := op{jt: in.Jt, jf: in.Jf, k: in.K}
		switch in.Code {
		case bpfLD | bpfW | bpfABS:
			o.op, o.k = opLdAbs, in.K/4
		case bpfLD | bpfW | bpfLEN:
			o.op, o.k = opLdImm, DataSize
		case bpfLDX | bpfW | bpfLEN:
			o.op, o.k = opLdxImm, DataSize
		case bpfLD | bpfIMM:
			o.op = opLdImm
		case bpfLDX | bpfIMM:
			o.op = opLdxImm
		case bpfLD | bpfMEM:
			o.op = opLdMem
		case bpfLDX | bpfMEM:
			o.op = opLdxMem
		case bpfST:
			o.op = opSt
		case bpfSTX:
			o.op = opStx
		case bpfMISC | bpfTAX:
			o.op = opTax
		case bpfMISC | bpfTXA:
			o.op = opTxa
		case bpfRET | bpfK:
			o.op = opRetK
		case bpfRET | bpfA:
			o.op = opRetA
		case bpfJMP | bpfJA:
			o.op = opJa
		case bpfALU | bpfNEG:
			o.op = opNeg
		default:
			x := uint8(0)
			if in.Code&bpfX != 0 {
				x = 1
			}
			switch in.Code &^ bpfX {
			case bpfJMP | bpfJEQ:
				o.op = opJeqK + x
			case bpfJMP | bpfJGT:
				o.op = opJgtK + x
			case bpfJMP | bpfJGE:
				o.op = opJgeK + x
			case bpfJMP | bpfJSET:
				o.op = opJsetK + x
			case bpfALU | bpfADD:
				o.op = opAddK + x
			case bpfALU | bpfSUB:
				o.op = opSubK + x
			case bpfALU | bpfMUL:
				o.op = opMulK + x
			case bpfALU | bpfDIV:
				o.op = opDivK + x
			case bpfALU | bpfAND:
				o.op = opAndK + x
			case bpfALU | bpfOR:
				o.op = opOrK + x
			case bpfALU | bpfXOR:
				o.op = opXorK + x
			case bpfALU | bpfLSH:
				o.op = opLshK + x
			case bpfALU | bpfRSH:
				o.op = opRshK + x
			}
		}
		ops[i] = o
	}
	return ops
}

// words is seccomp_data as the 16 words BPF loads address.
type words [DataSize / 4]uint32

func wordsOf(d *Data) words {
	var w words
	w[0], w[1], w[2], w[3] = uint32(d.Nr), d.Arch, uint32(d.IP), uint32(d.IP>>32)
	for i, a := range d.Args {
		w[4+2*i], w[5+2*i] = uint32(a), uint32(a>>32)
	}
	return w
}

// run interprets a compiled program.
func run(prog []op, w *words) uint32 {
	var a, x uint32
	var mem [memWords]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.op {
		case opLdAbs:
			a = w[in.k&15]
		case opLdImm:
			a = in.k
		case opLdxImm:
			x = in.k
		case opLdMem:
			a = mem[in.k&15]
		case opLdxMem:
			x = mem[in.k&15]
		case opSt:
			mem[in.k&15] = a
		case opStx:
			mem[in.k&15] = x
		case opTax:
			x = a
		case opTxa:
			a = x
		case opRetK:
			return in.k
		case opRetA:
			return a
		case opJa:
			pc += int(in.k)
		case opJeqK:
			if a == in.k {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case opJeqX:
			if a == x {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case opJgtK:
			if a > in.k {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case opJgtX:
			if a > x {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case opJgeK:
			if a >= in.k {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case opJgeX:
			if a >= x {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case opJsetK:
			if a&in.k != 0 {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case opJsetX:
			if a&x != 0 {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case opNeg:
			a = -a
		case opAddK:
			a += in.k
		case opAddX:
			a += x
		case opSubK:
			a -= in.k
		case opSubX:
			a -= x
		case opMulK:
			a *= in.k
		case opMulX:
			a *= x
		case opDivK:
			a /= in.k
		case opDivX:
			if x == 0 {
				return 0 // division by X == 0 ends the program with 0, as in Linux
			}
			a /= x
		case opAndK:
			a &= in.k
		case opAndX:
			a &= x
		case opOrK:
			a |= in.k
		case opOrX:
			a |= x
		case opXorK:
			a ^= in.k
		case opXorX:
			a ^= x
		case opLshK:
			a <<= in.k
		case opLshX:
			a <<= x & 31 // shifts by X are masked to 5 bits, as the eBPF Linux runs
		case opRshK:
			a >>= in.k
		case opRshX:
			a >>= x & 31
		}
	}
	return 0 // unreachable for a checked program (it ends with a return)
}

// Filter is one installed program and the chain before it. Immutable.
type Filter struct {
	prog []op
	prev *Filter
	// Log is SECCOMP_FILTER_FLAG_LOG: actions other than ALLOW are logged.
	Log bool
	// Listener receives this filter's USER_NOTIF results (nil: none, they fail ENOSYS).
	Listener *Listener
	// insns is the length of the chain counted as Linux counts it.
	insns int
}

// NewFilter makes a filter on top of prev from a program Check accepted. It returns ENOMEM when
// the chain would exceed MaxInsnsPerPath.
func NewFilter(prog []Insn, prev *Filter, log bool, l *Listener) (*Filter, error) {
	n := len(prog) + 4
	if prev != nil {
		n += prev.insns
	}
	if n > MaxInsnsPerPath {
		return nil, unix.ENOMEM
	}
	return &Filter{prog: compile(prog), prev: prev, Log: log, Listener: l, insns: n}, nil
}

// Prev returns the filter installed before f.
func (f *Filter) Prev() *Filter { return f.prev }

// Descends reports whether f is anc or was built on top of it (nil is everyone's ancestor).
func (f *Filter) Descends(anc *Filter) bool {
	if anc == nil {
		return true
	}
	for ; f != nil; f = f.prev {
		if f == anc {
			return true
		}
	}
	return false
}

// HasListener reports whether a filter of the chain has a listener.
func (f *Filter) HasListener() bool {
	for ; f != nil; f = f.prev {
		if f.Listener != nil {
			return true
		}
	}
	return false
}

// Count is the number of filters in the chain.
func (f *Filter) Count() int {
	n := 0
	for ; f != nil; f = f.prev {
		n++
	}
	return n
}

// Run evaluates every filter of the chain and returns the most restrictive result (the
// lowest action as a signed number; the first filter to give it, newest first, wins)
// and the filter that gave it.
func (f *Filter) Run(d *Data) (uint32, *Filter) {
	ret := uint32(RetAllow)
	var match *Filter
	w := wordsOf(d)
	for ; f != nil; f = f.prev {
		r := run(f.prog, &w)
		if int32(r&RetActionFull) < int32(ret&RetActionFull) {
			ret, match = r, f
		}
	}
	return ret, match
}

// Known reports whether action is one this kernel implements (GET_ACTION_AVAIL).
func Known(action uint32) bool {
	switch action {
	case RetKillProcess, RetKillThread, RetTrap, RetErrno, RetUserNotif, RetTrace, RetLog, RetAllow:
		return true
	}
	return false
}

// StrictAllowed reports whether strict mode lets syscall nr run (read, write, exit,
// rt_sigreturn on x86-64).
func StrictAllowed(nr uint64) bool {
	switch nr {
	case unix.SYS_READ, unix.SYS_WRITE, unix.SYS_EXIT, unix.SYS_RT_SIGRETURN:
		return true
	}
	return false
}

// Decode reads n struct sock_filter from b.
func Decode(b []byte) []Insn {
	prog := make([]Insn, len(b)/abi.SizeofSockFilter)
	for i := range prog {
		var f abi.SockFilter
		f.Decode(b[abi.SizeofSockFilter*i:])
		prog[i] = Insn{Code: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}
	}
	return prog
}
