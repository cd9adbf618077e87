package ptrace

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Syscall patching (trap mode; see the README's "Syscall patching").
//
// A trapped syscall costs a SIGSYS: its delivery and return alone is about 1 µs here. The
// kernel therefore rewrites the common site `mov $nr, %eax; syscall` (b8 imm32 0f 05) into
// `jmp *(trapTable+8*slot)` (ff 24 25 imm32): an indirect jump through the slot table (a
// read-only page below the app's lowest address, in every trap stub's image) to the slot's
// entry in the stub, which records the slot number and enters trapFast, the trampoline.
// trapFast saves the app's registers in the thread's own control page (at a fixed address:
// every app thread is a stub process of its own, so nothing the app controls — %fs, %gs,
// its stack — is used to find it), hands the thread to the kernel with ST_FAST, waits as
// the signal handler does, and restores the registers the kernel wrote. The slot says
// which site: this address space's table maps it to the site and the syscall number, so
// the kernel sees exactly what the original instructions would have shown it.

// patchSite is what one slot stands for: the site, its kind and (PatchMovEax) the syscall
// nr. A zero site is an unused slot.
type patchSite struct {
	site uint64
	nr   uint32
	kind platform.PatchKind
}

// patchTable is an address space's patched sites.
type patchTable struct {
	mu sync.RWMutex
	// slots[k] is slot k's site; bySite maps a site to its latest slot. protected by mu
	slots  []patchSite
	bySite map[uint64]uint32
	// next is the next slot to look at for a PatchXorRead site ([1]) or another ([0]).
	// protected by mu
	next [2]uint32
	// seen[k] is 1 + the address space's mapping sequence number when slot k's patch was
	// last found in memory (patchedAt), so that a thread resumed inside a site on every
	// read does not read the code again. Elements are accessed atomically under mu's read
	// lock.
	seen []uint64
}

// patchCode returns the bytes that send a site of a kind through slot k: `jmp
// *(trapTable+8*k)`, and for PatchXorRead three more bytes, 06 (an invalid opcode in 64-bit
// mode), over the rest of the original cmp.
func patchCode(k uint32, kind platform.PatchKind) []byte {
	code := []byte{0xff, 0x24, 0x25, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(code[3:], trapTable+8*k)
	if kind == platform.PatchXorRead {
		code = append(code, udOp, udOp, udOp)
	}
	return code
}

// A PatchXorRead site, `xor %eax, %eax; syscall; cmp $-4096, %rax` (31 c0 0f 05 48 3d 00 f0
// ff ff), becomes `jmp *(trapTable+8*k)` (ff 24 25 k0 k1 01 00) and 06 06 06. It has two
// instruction boundaries inside, and a thread can be resumed at either by the kernel or,
// returning to a context a signal handler saved, by itself:
//
//   - site+2, the syscall (a restart rewinds rip there; a signal that stopped the thread
//     between xor and syscall): the platform makes the syscall (switchTrap). Run by the app,
//     the bytes there are `and $(trapTable+8*k), %eax` (25 imm32), which keeps eax = 0, then
//     06 at site+7: a SIGILL there, which the platform turns into the read.
//   - site+4, the cmp (every read returns there; signal frames made after the call point
//     there, as on Linux): the platform sets the flags the cmp would from rax and resumes
//     at site+10. Run by the app, the byte there is k1 = (trapTable+8*k)>>8 & 0xff = k>>5,
//     and read sites get only slots whose k>>5 is an invalid opcode in 64-bit mode
//     (udOps): a SIGILL at site+4, which the platform turns into the cmp.
//
// So the app never runs the middle of the jump, whatever context it resumes.
const udOp = 0x06

// udOps are the one-byte opcodes that are invalid in 64-bit mode (push/pop of es, cs, ss,
// ds; daa, das, aaa, aas; pusha, popa): the k>>5 of read sites' slots.
var udOps = [...]uint32{0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61}

// readSlot reports whether slot k is for PatchXorRead sites.
func readSlot(k uint32) bool {
	for _, op := range udOps {
		if k>>5 == op {
			return true
		}
	}
	return false
}

// patchLen is the length of a kind's site; syscallOff the offset of the end of its syscall
// instruction.
func patchLen(kind platform.PatchKind) uint64 {
	if kind == platform.PatchXorRead {
		return 10
	}
	return 7
}

func syscallOff(kind platform.PatchKind) uint64 {
	if kind == platform.PatchXorRead {
		return 4
	}
	return 7
}

// allocSlot returns a free slot for a site of a kind. Called with mu held.
func (pt *patchTable) allocSlot(kind platform.PatchKind) (uint32, bool) {
	read := kind == platform.PatchXorRead
	i := 0
	if read {
		i = 1
	}
	for k := pt.next[i]; k < trapSlots; k++ {
		if readSlot(k) == read {
			pt.next[i] = k + 1
			return k, true
		}
	}
	pt.next[i] = trapSlots
	return 0, false
}

// PatchSyscall implements platform.SyscallPatcher.
func (as *addressSpace) PatchSyscall(site uint64, kind platform.PatchKind, nr uint32) ([]byte, bool) {
	switch kind {
	case platform.PatchMovEax:
		// nr < 0x1000: a thread that ran the old mov and then meets the patch at site+5
		// executes `add %eax, (%rax)` (the table address's upper bytes, 01 00) with rax = nr:
		// a fault in page 0, which nothing maps, that the platform turns into the syscall
		// (trap.go).
		if nr >= 0x1000 {
			return nil, false
		}
	case platform.PatchLoadR9:
		nr = 0 // the number is the caller's rax
	case platform.PatchXorRead:
		if nr != 0 {
			return nil, false
		}
	default:
		return nil, false
	}
	n := patchLen(kind)
	if !as.p.trap || as.shared || site < patchLow || site+n > maxUserAddress || site+n < site {
		return nil, false
	}
	pt := &as.patches
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if k, ok := pt.bySite[site]; ok && pt.slots[k].nr == nr && pt.slots[k].kind == kind {
		return patchCode(k, kind), true
	}
	k, ok := pt.allocSlot(kind)
	if !ok {
		return nil, false
	}
	for uint32(len(pt.slots)) <= k {
		pt.slots = append(pt.slots, patchSite{})
		pt.seen = append(pt.seen, 0)
	}
	pt.slots[k] = patchSite{site, nr, kind}
	if pt.bySite == nil {
		pt.bySite = map[uint64]uint32{}
	}
	pt.bySite[site] = k
	return patchCode(k, kind), true
}

// InheritPatches implements platform.SyscallPatcher.
func (as *addressSpace) InheritPatches(parent platform.AddressSpace) {
	pas, ok := parent.(*addressSpace)
	if !ok || pas == as {
		return
	}
	pas.patches.mu.RLock()
	slots := append([]patchSite(nil), pas.patches.slots...)
	bySite := make(map[uint64]uint32, len(pas.patches.bySite))
	for s, k := range pas.patches.bySite {
		bySite[s] = k
	}
	next := pas.patches.next
	pas.patches.mu.RUnlock()
	as.patches.mu.Lock()
	as.patches.slots, as.patches.bySite, as.patches.next = slots, bySite, next
	as.patches.seen = make([]uint64, len(slots))
	as.patches.mu.Unlock()
}

// resetPatches forgets every patched site (the whole address space was unmapped: an exec).
func (as *addressSpace) resetPatches() {
	as.patches.mu.Lock()
	as.patches.slots, as.patches.bySite, as.patches.seen = nil, nil, nil
	as.patches.next = [2]uint32{}
	as.patches.mu.Unlock()
}

// slot returns slot k's site.
func (as *addressSpace) slot(k uint32) (patchSite, bool) {
	as.patches.mu.RLock()
	defer as.patches.mu.RUnlock()
	if int(k) >= len(as.patches.slots) || as.patches.slots[k].site == 0 {
		return patchSite{}, false
	}
	return as.patches.slots[k], true
}

// patchedInside looks for a patched site of which rip is rip-site bytes inside, for the
// offsets that kind's sites can be stopped at (PatchMovEax, PatchLoadR9: 5; PatchXorRead:
// those of read): the address space's table says a site is there and the memory mapped
// there holds its patch (a table entry outlives the code it was made for when that code is
// unmapped and something else mapped in its place).
func (as *addressSpace) patchedInside(rip uint64, read ...uint64) (patchSite, uint64, bool) {
	pt := &as.patches
	pt.mu.RLock()
	if len(pt.bySite) == 0 {
		pt.mu.RUnlock()
		return patchSite{}, 0, false
	}
	var ps patchSite
	var k uint32
	var off uint64
	found := false
	// The read offsets, then 5, without allocating: this runs on every switch.
	var offs [3]uint64
	n := copy(offs[:2], read)
	offs[n] = 5
	for _, o := range offs[:n+1] {
		if rip < o {
			continue
		}
		kk, ok := pt.bySite[rip-o]
		if !ok || (pt.slots[kk].kind == platform.PatchXorRead) != (o != 5) {
			continue
		}
		ps, k, off, found = pt.slots[kk], kk, o, true
		break
	}
	if !found {
		pt.mu.RUnlock()
		return patchSite{}, 0, false
	}
	seq := as.seqA.Load() + 1
	if atomic.LoadUint64(&pt.seen[k]) == seq {
		pt.mu.RUnlock()
		return ps, off, true
	}
	pt.mu.RUnlock()
	code := make([]byte, patchLen(ps.kind))
	if !as.readCode(ps.site, code) || !bytes.Equal(code, patchCode(k, ps.kind)) {
		return patchSite{}, 0, false
	}
	pt.mu.RLock()
	if int(k) < len(pt.seen) && pt.slots[k] == ps {
		atomic.StoreUint64(&pt.seen[k], seq)
	}
	pt.mu.RUnlock()
	return ps, off, true
}

// readCode reads app memory at addr from the memory file, as the stubs map it.
func (as *addressSpace) readCode(addr uint64, b []byte) bool { return as.readMem(addr, b, 0) }

// readMem reads app memory at addr from the memory file, as the stubs map it, if the
// mapping there has the protection need.
func (as *addressSpace) readMem(addr uint64, b []byte, need platform.Prot) bool {
	as.mu.Lock()
	i := as.state.find(addr)
	if i >= len(as.state) || as.state[i].start > addr || as.state[i].host != nil ||
		addr+uint64(len(b)) > as.state[i].end || addr+uint64(len(b)) < addr || as.state[i].prot&need != need {
		as.mu.Unlock()
		return false
	}
	off := as.state[i].off + int64(addr-as.state[i].start)
	as.mu.Unlock()
	n, err := unix.Pread(int(as.p.memFile.Fd()), b, off)
	return err == nil && n == len(b)
}

// fastSyscall turns regs, as trapFast saved them at the jump of a patched site, into the
// syscall the site's original instructions make; or, when the load a PatchLoadR9 site
// makes before its syscall cannot be done, into that load's fault at the site.
func (as *addressSpace) fastSyscall(site patchSite, regs *platform.Registers) platform.Event {
	switch site.kind {
	case platform.PatchLoadR9:
		var v [8]byte
		if !as.readMem(regs.Rsp+8, v[:], platform.ProtRead) {
			regs.Rip = site.site
			return platform.Event{Kind: platform.EventFault, Signo: int32(unix.SIGSEGV), Code: 1, Addr: regs.Rsp + 8,
				Access: platform.AccessType{Read: true}}
		}
		regs.R9 = binary.LittleEndian.Uint64(v[:])
	case platform.PatchXorRead:
		regs.Rax = 0
		regs.Eflags = regs.Eflags&^arithFlags | flagZF | flagPF // as xor %eax, %eax leaves them
	default:
		regs.Rax = uint64(site.nr)
	}
	regs.OrigRax = regs.Rax
	regs.Rip = site.site + syscallOff(site.kind)
	regs.Rcx, regs.R11 = regs.Rip, regs.Eflags
	return platform.Event{Kind: platform.EventSyscall}
}

// The arithmetic flags.
const (
	flagCF     = 0x1
	flagPF     = 0x4
	flagAF     = 0x10
	flagZF     = 0x40
	flagSF     = 0x80
	flagOF     = 0x800
	arithFlags = flagCF | flagPF | flagAF | flagZF | flagSF | flagOF
)

// afterCmp turns regs, at site+4 of a PatchXorRead site (the original `cmp $-4096, %rax`),
// into the state after that instruction: the flags the subtraction rax - imm sets, at
// site+10.
func afterCmp(site patchSite, regs *platform.Registers) {
	const imm = 0xfffffffffffff000 // -4096, sign-extended
	a := regs.Rax
	r := a - imm
	f := regs.Eflags &^ arithFlags
	if a < imm {
		f |= flagCF
	}
	if r == 0 {
		f |= flagZF
	}
	if r>>63 != 0 {
		f |= flagSF
	}
	if ((a^imm)&(a^r))>>63 != 0 {
		f |= flagOF
	}
	if bits.OnesCount8(uint8(r))%2 == 0 {
		f |= flagPF
	}
	if (a^imm^r)&0x10 != 0 {
		f |= flagAF
	}
	regs.Eflags = f
	regs.Rip = site.site + 10
}

// patchLow is the lowest address the kernel maps app memory at (its mmap_min_addr): the
// slot table lies below it.
const patchLow = 0x20000

// syscallAt turns regs, stopped at the original syscall instruction of a patched site
// (site+5; site+2 of PatchXorRead), into the syscall it would have made.
func syscallAt(regs *platform.Registers) platform.Event {
	regs.Rip += 2
	regs.OrigRax = regs.Rax
	regs.Rcx = regs.Rip
	regs.R11 = regs.Eflags
	return platform.Event{Kind: platform.EventSyscall}
}

// The trampoline's state in a trap stub's control page (trapstub_amd64.h).

// getFastRegs reads the registers trapFast saved.
func (ts *trapState) getFastRegs(r *platform.Registers) {
	le := binary.LittleEndian
	f := ts.shm[fRegs:]
	for i, p := range scRegs(r) {
		*p = le.Uint64(f[8*i:])
	}
	r.Rip = le.Uint64(ts.shm[fRip:])
	r.Eflags = le.Uint64(ts.shm[fFlags:])
	r.Cs, r.Ss = 0x33, 0x2b
	r.OrigRax = ^uint64(0)
}

// setFastRegs writes the registers trapFast restores, and the FS and GS bases it sets.
func (ts *trapState) setFastRegs(r *platform.Registers) {
	le := binary.LittleEndian
	f := ts.shm[fRegs:]
	for i, p := range scRegs(r) {
		le.PutUint64(f[8*i:], *p)
	}
	le.PutUint64(ts.shm[fRip:], r.Rip)
	le.PutUint64(ts.shm[fFlags:], r.Eflags)
	ts.setBases(r)
}

// setBases asks the stub to set the FS and GS bases the kernel changed.
func (ts *trapState) setBases(r *platform.Registers) {
	le := binary.LittleEndian
	if r.FsBase != ts.curFS {
		le.PutUint64(ts.shm[cNewFS:], r.FsBase)
		word(ts.shm, cSetFS).Store(1)
		ts.curFS = r.FsBase
	}
	if r.GsBase != ts.curGS {
		le.PutUint64(ts.shm[cNewGS:], r.GsBase)
		word(ts.shm, cSetGS).Store(1)
		ts.curGS = r.GsBase
	}
}

// inTrampoline reports whether rip is in trapFast or the entries.
func inTrampoline(rip uint64) bool {
	return rip >= StubBase+trapFastOff && rip < StubBase+trapImageSize
}

// upgrade turns a thread parked in trapFast into one parked in the signal handler with a
// full frame (the FP state lives only there): trapFast raises SIGILL at its ud2.
func (s *stubProc) upgrade() error {
	ts := s.trap
	word(ts.shm, cCmd).Store(1)
	s.resumeApp()
	// As for running app code: an app thread that forged the fast hand-off and runs on
	// answers a pending interrupt, or is ended (awaitEvent), never hangs the kernel.
	err := s.awaitEvent(true)
	word(ts.shm, cCmd).Store(0)
	if err != nil {
		return err
	}
	if ts.fast {
		return s.fail(errBadFrame)
	}
	le := binary.LittleEndian
	signo := int32(le.Uint32(ts.shm[ts.frame.info:]))
	if rip := le.Uint64(ts.shm[ts.frame.mc+scRip:]); signo != int32(unix.SIGILL) || rip != s.ctx.p.stub.fastUpgrade {
		return s.fail(errBadFrame)
	}
	return nil
}
