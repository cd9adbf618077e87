package ptrace

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The trap stub (platform trap). Its image lies at StubBase, like the ptrace stub's page,
// built from the machine code in trapstub_amd64.s (copied out of the sbx binary), a
// parameter block and the syscall trampoline's entries; see trapstub_amd64.h for the
// addresses both sides agree on.
//
//	StubBase+0x0000  ELF header, two PT_LOADs: the image (read+exec) and the slot table
//	StubBase+0x00c0  trapInit: the main thread's start-up, the injection site, the app thread's start
//	StubBase+0x0400  trapHandler: every signal the app thread takes
//	StubBase+0x0780  trapRestorer
//	StubBase+0x0c00  parameters: name, empty sigset, sigaction, stack_t, two sock_fprogs, flags, filters
//	StubBase+0x1000  trapFast: the syscall trampoline (patch.go)
//	StubBase+0x2000  one 16-byte entry per slot: movl $slot, C_SLOT(%rip); jmp trapFast
//	0x10000          the slot table (read-only, below the app's lowest address): slot k's
//	                 8 bytes hold the address of entry k, so `jmp *(0x10000+8k)` reaches it
//
// The shared area (trapCtrl, trapCtrlSize) is a memfd of each stub's own, mapped by the stub
// at trapCtrl and by the kernel: a control block, then the app thread's signal stack, where
// Linux writes the signal frame (registers, FP state, siginfo) the kernel reads and rewrites.
const (
	trapInitOff     = 0x0c0
	trapHandlerOff  = 0x400
	trapRestorerOff = 0x780
	trapParamsOff   = 0xc00
	trapFastOff     = 0x1000
	trapEntryOff    = 0x2000
	trapEntrySize   = 16
	// trapSlots is how many patched sites one address space may have.
	trapSlots = 4096
	// trapCodeSize is the image's code the app thread's filter lets make syscalls
	// (trapInit to trapFast); trapImageSize the whole image at StubBase.
	trapCodeSize  = 0x2000
	trapImageSize = trapEntryOff + trapSlots*trapEntrySize
	// trapTable is the slot table's address (below 2 GiB, so `jmp *abs32` reaches it;
	// below the kernel's lowest app address, so the app never maps there) and its offset in
	// the image file.
	trapTable     = 0x10000
	trapTableSize = trapSlots * 8
	trapTableFile = trapImageSize

	pName     = 0
	pEmptySet = 16
	pSigact   = 24
	pSS       = 56
	pMapProg  = 80
	pAppProg  = 96
	pHasFSGS  = 112
	pTail     = 120
	pShProg   = 128
	pFilters  = 144

	trapCtrl     = 0x7ff000100000
	trapCtrlSize = 0x10000
	// A shared stub's thread areas (shared.go): area i at sharedAreas+i*trapCtrlSize.
	sharedAreas     = 0x7ff200000000
	sharedAreasSize = 0x4000000
	maxAreas        = sharedAreasSize / trapCtrlSize
	// The app thread's signal stack: everything above the control page.
	trapAltStack = trapCtrl + 0x1000

	cState     = 0
	cStubSleep = 4
	cKSleep    = 8
	cInitErr   = 12
	cUctx      = 16
	cSiginfo   = 24
	cFSBase    = 32
	cNewFS     = 40
	cSetFS     = 48
	cSpin      = 52
	cGSBase    = 56
	cNewGS     = 64
	cSetGS     = 72
	cSS        = 80
	cExit      = 104
	cTid       = 108
	cSlot      = 128
	cPendInt   = 132
	cCmd       = 136
	fRegs      = 256 // 16 general registers in sigcontext order
	fRip       = 384
	fFlags     = 392

	stEvent  = 1
	stResume = 2
	stFast   = 3

	// trapInterruptSignal is the host signal the kernel interrupts a running app thread with.
	trapInterruptSignal = 12 // SIGUSR2

	retTrap = 0x00030000
)

var endMark = []byte{0xcc, 0xcc, 'S', 'B', 'X', 'E', 'N', 'D'}

// asmCode returns the machine code of a function of trapstub_amd64.s, up to its end marker.
func asmCode(addr uintptr, limit int) ([]byte, error) {
	code := codeAt(addr, limit+len(endMark))
	i := bytes.Index(code, endMark)
	if i < 0 {
		return nil, fmt.Errorf("trap stub: code at %#x longer than %d bytes", addr, limit)
	}
	return append([]byte(nil), code[:i]...), nil
}

// buildTrapStub generates the trap stub. hasFSGSBase says the handler may read the FS base
// with rdfsbase (the CPU has it and Linux enabled it for user space).
func buildTrapStub(hasFSGSBase bool) (stubImage, error) {
	img := make([]byte, trapTableFile+trapTableSize)
	copy(img, elfHeader(trapImageSize))
	parts := []struct {
		addr      uintptr
		off, next int
	}{
		{trapInitAddr(), trapInitOff, trapHandlerOff},
		{trapHandlerAddr(), trapHandlerOff, trapRestorerOff},
		{trapRestorerAddr(), trapRestorerOff, trapParamsOff},
		{trapFastAddr(), trapFastOff, trapEntryOff},
	}
	var initCode, fastCode []byte
	for i, p := range parts {
		code, err := asmCode(p.addr, p.next-p.off)
		if err != nil {
			return stubImage{}, err
		}
		copy(img[p.off:], code)
		switch i {
		case 0:
			initCode = code
		case 3:
			fastCode = code
		}
	}
	// The injection site: syscall; int3; jmp site.
	siteOff := bytes.Index(initCode, []byte{0x0f, 0x05, 0xcc, 0xeb, 0xfb})
	if siteOff < 0 {
		return stubImage{}, fmt.Errorf("trap stub: no injection site in the start-up code")
	}
	site := uint64(StubBase + trapInitOff + siteOff)
	le := binary.LittleEndian
	cloneMark := le.AppendUint32(nil, 0x5a5a5a04)
	cloneOff := bytes.Index(initCode, cloneMark)
	if cloneOff < 0 || bytes.Count(initCode, cloneMark) != 1 {
		return stubImage{}, fmt.Errorf("trap stub: no clone site in the start-up code")
	}
	cloneSite := uint64(StubBase + trapInitOff + cloneOff + 4)

	// The trampoline's marks: its tail, its upgrade (ud2) and its final jmp *F_RIP(%rip),
	// whose displacement only the copy's address gives.
	mark := func(m uint32) (int, error) {
		i := bytes.Index(fastCode, le.AppendUint32(nil, m))
		if i < 0 || bytes.Count(fastCode, le.AppendUint32(nil, m)) != 1 {
			return 0, fmt.Errorf("trap stub: trampoline mark %#x not found once", m)
		}
		return trapFastOff + i, nil
	}
	tailMark, err := mark(0x5a5a5a01)
	if err != nil {
		return stubImage{}, err
	}
	upMark, err := mark(0x5a5a5a02)
	if err != nil {
		return stubImage{}, err
	}
	jmpMark, err := mark(0x5a5a5a03)
	if err != nil {
		return stubImage{}, err
	}
	le.PutUint32(img[jmpMark:], uint32(int32(int64(trapCtrl+fRip)-int64(StubBase+jmpMark+4))))
	// Entry k: movl $k, C_SLOT(%rip) (c7 05 disp32 imm32); jmp trapFast (e9 rel32); nop.
	for k := range trapSlots {
		off := trapEntryOff + k*trapEntrySize
		e := img[off : off+trapEntrySize]
		e[0], e[1] = 0xc7, 0x05
		le.PutUint32(e[2:], uint32(int32(int64(trapCtrl+cSlot)-int64(StubBase+off+10))))
		le.PutUint32(e[6:], uint32(k))
		e[10] = 0xe9
		le.PutUint32(e[11:], uint32(int32(trapFastOff-(off+15))))
		e[15] = 0x90
		le.PutUint64(img[trapTableFile+8*k:], uint64(StubBase+off))
	}

	par := img[trapParamsOff:]
	copy(par[pName:], "sbx-stub\x00")
	// par[pEmptySet:] stays zero: the empty signal set.
	// struct sigaction (kernel layout): handler, flags, restorer, mask.
	const saSiginfo, saOnstack, saRestorer = 0x4, 0x08000000, 0x04000000
	le.PutUint64(par[pSigact:], StubBase+trapHandlerOff)
	le.PutUint64(par[pSigact+8:], saSiginfo|saOnstack|saRestorer)
	le.PutUint64(par[pSigact+16:], StubBase+trapRestorerOff)
	le.PutUint64(par[pSigact+24:], ^uint64(0))
	// stack_t: ss_sp, ss_flags, ss_size.
	le.PutUint64(par[pSS:], trapAltStack)
	le.PutUint64(par[pSS+16:], trapCtrl+trapCtrlSize-trapAltStack)
	if hasFSGSBase {
		par[pHasFSGS] = 1
	}
	le.PutUint64(par[pTail:], uint64(StubBase+tailMark-3)) // the nopl's first byte
	off := pFilters
	for _, f := range []struct {
		prog int
		ins  []bpf
	}{{pMapProg, stubFilter(site + 2)}, {pAppProg, appFilter()}, {pShProg, sharedFilter(site+2, cloneSite+2)}} {
		le.PutUint16(par[f.prog:], uint16(len(f.ins)))
		le.PutUint64(par[f.prog+8:], StubBase+trapParamsOff+uint64(off))
		for _, ins := range f.ins {
			if trapParamsOff+off+8 > trapFastOff {
				return stubImage{}, fmt.Errorf("trap stub: filters do not fit in the stub page")
			}
			le.PutUint16(par[off:], ins.code)
			par[off+2], par[off+3] = ins.jt, ins.jf
			le.PutUint32(par[off+4:], ins.k)
			off += 8
		}
	}
	le.PutUint64(img[24:], StubBase+trapInitOff) // e_entry
	// The second PT_LOAD: the slot table, read-only.
	le.PutUint16(img[56:], 2) // e_phnum
	ph := img[64+56:]
	le.PutUint32(ph[0:], 1)              // PT_LOAD
	le.PutUint32(ph[4:], 4)              // PF_R
	le.PutUint64(ph[8:], trapTableFile)  // p_offset
	le.PutUint64(ph[16:], trapTable)     // p_vaddr
	le.PutUint64(ph[24:], trapTable)     // p_paddr
	le.PutUint64(ph[32:], trapTableSize) // p_filesz
	le.PutUint64(ph[40:], trapTableSize) // p_memsz
	le.PutUint64(ph[48:], 0x1000)        // p_align
	return stubImage{elf: img, site: site, cloneSite: cloneSite, fastUpgrade: StubBase + uint64(upMark) + 4,
		fastTail: StubBase + uint64(tailMark) - 3}, nil
}

// elfHeader returns an ELF header and one PT_LOAD (read+exec) of size bytes at StubBase,
// entry at the code offset.
func elfHeader(size int) []byte {
	elf := make([]byte, codeOff)
	copy(elf, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	le := binary.LittleEndian
	le.PutUint16(elf[16:], 2)    // ET_EXEC
	le.PutUint16(elf[18:], 0x3e) // EM_X86_64
	le.PutUint32(elf[20:], 1)
	le.PutUint64(elf[24:], StubBase+codeOff) // e_entry
	le.PutUint64(elf[32:], 64)               // e_phoff
	le.PutUint16(elf[52:], 64)               // e_ehsize
	le.PutUint16(elf[54:], 56)               // e_phentsize
	le.PutUint16(elf[56:], 1)                // e_phnum
	ph := elf[64:]
	le.PutUint32(ph[0:], 1)             // PT_LOAD
	le.PutUint32(ph[4:], 5)             // PF_R|PF_X
	le.PutUint64(ph[8:], 0)             // p_offset
	le.PutUint64(ph[16:], StubBase)     // p_vaddr
	le.PutUint64(ph[24:], StubBase)     // p_paddr
	le.PutUint64(ph[32:], uint64(size)) // p_filesz
	le.PutUint64(ph[40:], uint64(size)) // p_memsz
	le.PutUint64(ph[48:], 0x1000)       // p_align
	return elf
}

// appFilter is the app thread's seccomp filter: the handler's and the trampoline's own
// calls (futex wait and wake, rt_sigreturn, arch_prctl(ARCH_SET_FS or ARCH_SET_GS), and
// exit, which ends the calling host thread: the app can end its own thread anyway) are
// allowed from the stub's first two pages (its code and parameters; not the entries);
// every other syscall, from anywhere, traps (SIGSYS) into the handler, which hands it to
// the kernel. Nothing the app does can reach the host: it cannot write the code page, and
// the calls it could make from there only wait, wake, or set its own registers.
func appFilter() []bpf {
	const (
		ldAbs = 0x20 // BPF_LD|BPF_W|BPF_ABS
		jeq   = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
		jge   = 0x35 // BPF_JMP|BPF_JGE|BPF_K
		ret   = 0x06 // BPF_RET|BPF_K

		sysFutex      = 202
		sysExit       = 60
		sysRtSigret   = 15
		sysArchPrctl  = 158
		archSetFS     = 0x1002
		archSetGS     = 0x1001
		futexWait     = 0
		futexWake     = 1
		seccompArgs   = 16
		seccompIPLow  = 8
		seccompIPHigh = 12
	)
	// Instruction indexes, so the jumps can be written as targets.
	const (
		iArch = iota
		iArchChk
		iIPHi
		iIPHiChk
		iIPLo
		iIPLoChk
		iNr
		iIsFutex
		iIsSigret
		iIsArch
		iIsExit
		iTrap0
		iFutexOp
		iFutexWait
		iFutexWake
		iTrap1
		iArchOp
		iArchSetFS
		iArchSetGS
		iTrap
		iAllow
		n
	)
	to := func(from, target int) uint8 { return uint8(target - from - 1) }
	f := make([]bpf, n)
	f[iArch] = bpf{ldAbs, 0, 0, 4}
	f[iArchChk] = bpf{jeq, 0, to(iArchChk, iTrap), auditArchX8664}
	f[iIPHi] = bpf{ldAbs, 0, 0, seccompIPHigh}
	f[iIPHiChk] = bpf{jeq, 0, to(iIPHiChk, iTrap), uint32(StubBase >> 32)}
	f[iIPLo] = bpf{ldAbs, 0, 0, seccompIPLow}
	f[iIPLoChk] = bpf{jge, to(iIPLoChk, iTrap), 0, uint32(StubBase&0xffffffff) + trapCodeSize}
	f[iNr] = bpf{ldAbs, 0, 0, 0}
	f[iIsFutex] = bpf{jeq, to(iIsFutex, iFutexOp), 0, sysFutex}
	f[iIsSigret] = bpf{jeq, to(iIsSigret, iAllow), 0, sysRtSigret}
	f[iIsArch] = bpf{jeq, to(iIsArch, iArchOp), 0, sysArchPrctl}
	f[iIsExit] = bpf{jeq, to(iIsExit, iAllow), 0, sysExit}
	f[iTrap0] = bpf{ret, 0, 0, retTrap}
	f[iFutexOp] = bpf{ldAbs, 0, 0, seccompArgs + 8}
	f[iFutexWait] = bpf{jeq, to(iFutexWait, iAllow), 0, futexWait}
	f[iFutexWake] = bpf{jeq, to(iFutexWake, iAllow), 0, futexWake}
	f[iTrap1] = bpf{ret, 0, 0, retTrap}
	f[iArchOp] = bpf{ldAbs, 0, 0, seccompArgs}
	f[iArchSetFS] = bpf{jeq, to(iArchSetFS, iAllow), 0, archSetFS}
	f[iArchSetGS] = bpf{jeq, to(iArchSetGS, iAllow), 0, archSetGS}
	f[iTrap] = bpf{ret, 0, 0, retTrap}
	f[iAllow] = bpf{ret, 0, 0, retAllow}
	return f
}

// cloneFlags is the clone a shared stub's main thread makes for each app thread:
// CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|
// CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID (the thread's TID in its area's C_TID word while
// it lives).
const cloneFlags = 0x50f00 | 0x01000000 | 0x00200000

// sharedFilter is a shared stub's filter (shared.go), installed by its main thread before
// any app thread exists, so every app thread inherits it under its own app filter (the
// stricter result of the two wins). It allows the injected address-space calls from the
// injection site, the app threads' clone from the clone site, and from the stub's code the
// calls its threads make for themselves (the app filter's, plus sigaltstack and seccomp,
// which a new thread makes before it installs the app filter, which traps them); anything
// else traps. It traps rather than kills: an app thread's syscall must reach the handler
// (SIGSYS), and the main thread, which only ever runs the tracer's injections, stops for
// its tracer on a SIGSYS, which ends the stub.
func sharedFilter(site, cloneSite uint64) []bpf {
	const (
		ldAbs = 0x20 // BPF_LD|BPF_W|BPF_ABS
		jeq   = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
		jge   = 0x35 // BPF_JMP|BPF_JGE|BPF_K
		ret   = 0x06 // BPF_RET|BPF_K

		sysClone       = 56
		sysExit        = 60
		sysSigaltstack = 131
		sysFutex       = 202
		sysRtSigret    = 15
		sysArchPrctl   = 158
	)
	// A tiny assembler with labels: jumps are patched once every label is placed.
	var f []bpf
	labels := map[string]int{}
	type fix struct {
		at     int
		jt, jf string
	}
	var fixes []fix
	emit := func(code uint16, k uint32, jt, jf string) {
		fixes = append(fixes, fix{len(f), jt, jf})
		f = append(f, bpf{code: code, k: k})
	}
	label := func(name string) { labels[name] = len(f) }
	emit(ldAbs, 4, "", "")
	emit(jeq, auditArchX8664, "", "trap")
	emit(ldAbs, 12, "", "") // instruction pointer, high half
	emit(jeq, uint32(site>>32), "", "trap")
	emit(ldAbs, 8, "", "")
	emit(jeq, uint32(site), "site", "")
	emit(jeq, uint32(cloneSite), "clone", "")
	emit(jge, uint32(StubBase&0xffffffff)+trapCodeSize, "trap", "")
	emit(ldAbs, 0, "", "")
	emit(jeq, sysFutex, "futex", "")
	emit(jeq, sysArchPrctl, "arch", "")
	for _, nr := range []uint32{sysRtSigret, sysExit, sysSigaltstack, sysSeccomp} {
		emit(jeq, nr, "allow", "")
	}
	emit(ret, retTrap, "", "")
	label("futex")
	emit(ldAbs, 16+8, "", "") // args[1], low half: the futex op
	emit(jeq, 0, "allow", "") // FUTEX_WAIT
	emit(jeq, 1, "allow", "") // FUTEX_WAKE
	emit(ret, retTrap, "", "")
	label("arch")
	emit(ldAbs, 16, "", "")
	emit(jeq, 0x1002, "allow", "") // ARCH_SET_FS
	emit(jeq, 0x1001, "allow", "") // ARCH_SET_GS
	emit(ret, retTrap, "", "")
	label("site")
	emit(ldAbs, 0, "", "")
	for _, nr := range []uint32{sysMmap, sysMunmap, sysMprotect, sysExitGroup, sysRecvmsg, sysClose} {
		emit(jeq, nr, "allow", "")
	}
	emit(ret, retTrap, "", "")
	label("clone")
	emit(ldAbs, 0, "", "")
	emit(jeq, sysClone, "", "trap")
	emit(ldAbs, 16, "", "") // args[0], low half: the flags
	emit(jeq, cloneFlags, "allow", "trap")
	label("trap")
	emit(ret, retTrap, "", "")
	label("allow")
	emit(ret, retAllow, "", "")
	for _, x := range fixes {
		for _, j := range []struct {
			name string
			dst  *uint8
		}{{x.jt, &f[x.at].jt}, {x.jf, &f[x.at].jf}} {
			if j.name != "" {
				*j.dst = uint8(labels[j.name] - x.at - 1)
			}
		}
	}
	return f
}
