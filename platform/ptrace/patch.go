package ptrace

import (
	"bytes"
	"encoding/binary"
	"sync"

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

// patchSite is what one slot stands for: the 7-byte site, its kind and (PatchMovEax) the
// syscall nr.
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
	// traps counts the traps at sites not yet patched. protected by mu
	traps map[uint64]uint8
}

// patchAfter is how many traps a site takes before it is patched. Patching costs a page
// copy and a mapping injected into every stub of the address space (tens of µs here); a
// patched call saves about 1 µs. Short-lived processes (a shell's /bin/true) would pay
// more for sites they call once or twice than they save.
const patchAfter = 8

// patchCode returns the 7 bytes that send a site through slot k.
func patchCode(k uint32) []byte {
	code := []byte{0xff, 0x24, 0x25, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(code[3:], trapTable+8*k)
	return code
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
	default:
		return nil, false
	}
	if !as.p.trap || as.shared || site < patchLow || site+7 > maxUserAddress || site+7 < site {
		return nil, false
	}
	pt := &as.patches
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if k, ok := pt.bySite[site]; ok && pt.slots[k].nr == nr && pt.slots[k].kind == kind {
		return patchCode(k), true
	}
	if len(pt.slots) >= trapSlots {
		return nil, false
	}
	if pt.traps == nil || len(pt.traps) > 1<<16 {
		pt.traps = map[uint64]uint8{}
	}
	if pt.traps[site]++; pt.traps[site] < patchAfter {
		return nil, false
	}
	delete(pt.traps, site)
	k := uint32(len(pt.slots))
	pt.slots = append(pt.slots, patchSite{site, nr, kind})
	if pt.bySite == nil {
		pt.bySite = map[uint64]uint32{}
	}
	pt.bySite[site] = k
	return patchCode(k), true
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
	pas.patches.mu.RUnlock()
	as.patches.mu.Lock()
	as.patches.slots, as.patches.bySite = slots, bySite
	as.patches.mu.Unlock()
}

// resetPatches forgets every patched site (the whole address space was unmapped: an exec).
func (as *addressSpace) resetPatches() {
	as.patches.mu.Lock()
	as.patches.slots, as.patches.bySite, as.patches.traps = nil, nil, nil
	as.patches.mu.Unlock()
}

// slot returns slot k's site.
func (as *addressSpace) slot(k uint32) (patchSite, bool) {
	as.patches.mu.RLock()
	defer as.patches.mu.RUnlock()
	if int(k) >= len(as.patches.slots) {
		return patchSite{}, false
	}
	return as.patches.slots[k], true
}

// patchedAt reports whether a patched site starts at site: the address space's table says
// so and the memory mapped there holds the patch (a table entry outlives the code it was
// made for when that code is unmapped and something else mapped in its place).
func (as *addressSpace) patchedAt(site uint64) bool {
	as.patches.mu.RLock()
	k, ok := as.patches.bySite[site]
	as.patches.mu.RUnlock()
	if !ok {
		return false
	}
	var code [7]byte
	if !as.readCode(site, code[:]) {
		return false
	}
	return bytes.Equal(code[:], patchCode(k))
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
	default:
		regs.Rax = uint64(site.nr)
	}
	regs.OrigRax = regs.Rax
	regs.Rip = site.site + 7
	regs.Rcx, regs.R11 = regs.Rip, regs.Eflags
	return platform.Event{Kind: platform.EventSyscall}
}

// patchLow is the lowest address the kernel maps app memory at (its mmap_min_addr): the
// slot table lies below it.
const patchLow = 0x20000

// syscallAt turns regs, stopped at rip = site+5 of a patched site (between the original
// `mov` and `syscall`), into the syscall the original `syscall` there would have made.
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
