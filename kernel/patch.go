package kernel

import (
	"fmt"
	"sort"
	"sync"

	"github.com/sbx-dev/sbx/kernel/abi"
	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/platform"
)

// Syscall-site patching. On a platform that can run a patched site without a trap (trap:
// platform.SyscallPatcher), a syscall reached through one of three common sequences has
// those bytes rewritten, in a private copy of the page (mm.PatchCode), into a jump the
// platform handles without a signal: `mov $nr, %eax; syscall` (b8 imm32 0f 05, how glibc's
// wrappers make almost every call), `mov 0x8(%rsp), %r9; syscall` (the end of glibc's
// syscall(), which the number reaches in rax) and `xor %eax, %eax; syscall; cmp $-4096,
// %rax` (glibc's read, 10 bytes: the 4 before the jump would not hold it). The kernel sees
// the same syscall either way (number, arguments, rip after the original syscall
// instruction, rcx and r11), so guest seccomp filters, strace, restarts and signal frames
// are unchanged; the platform resumes a thread stopped inside a site (at an original
// instruction boundary) as the original code would run there.
// Config.NoSyscallPatch turns it off.

// patchAfter is how many syscalls trap at a site in one address space before the kernel
// patches it. A patch costs a page copy, a mapping injected into every stub of the
// address space and the old page's retirement; a patched call saves the SIGSYS, about
// 1.3 µs here. Sites a short-lived process reaches a few times (ld.so's mmap, openat and
// mprotect while it loads libraries: a shell's /bin/true made 8 mmaps from one site, and
// the 8th was patched in every one of them) cost more than they save; a site called in a
// loop soon passes the count. Below it, a trap costs a map lookup: the code around the
// site is not read.
const patchAfter = 32

// patchSyscallSite patches the site the task's current syscall came from, if it is one.
func (t *Task) patchSyscallSite(m *mm.MM) {
	p, ok := m.AddressSpace().(platform.SyscallPatcher)
	nr := t.Regs.OrigRax
	if !ok || nr >= 0x1000 || t.Regs.Rip < 7 || t.Regs.Rax != nr {
		return
	}
	rip := t.Regs.Rip
	t.k.trapped.Add(1)
	// Sites found unpatchable (other bytes, not program text) are not looked at again in
	// this address space: a syscall() wrapper would otherwise pay the check on every call.
	if t.noPatch.m != m || len(t.noPatch.sites) > 4096 {
		t.noPatch.m, t.noPatch.sites = m, map[uint64]struct{}{}
	}
	if _, ok := t.noPatch.sites[rip]; ok {
		if t.k.Debug != nil {
			t.k.unpatched.note(m, t.Regs.Rip)
		}
		return
	}
	if m.CountTrap(rip) < patchAfter {
		return // not yet worth reading the code around it
	}
	site, kind, old, ok := t.patchKind(m, rip, uint32(nr))
	if !ok {
		t.noPatch.sites[rip] = struct{}{}
		if t.k.Debug != nil {
			t.k.unpatched.note(m, t.Regs.Rip)
		}
		return
	}
	ok, later := m.PatchCode(site, old, func() ([]byte, bool) { return p.PatchSyscall(site, kind, uint32(nr)) })
	switch {
	case ok:
		t.k.patched.Add(1)
	case !later:
		t.noPatch.sites[rip] = struct{}{}
		if t.k.Debug != nil {
			t.k.unpatched.note(m, t.Regs.Rip)
		}
	}
}

// loadR9Site is the end of glibc's syscall(): mov %r9, %r8; mov 0x8(%rsp), %r9; syscall.
// The site is its last 7 bytes; the instruction before it is required too, so that the
// site's first byte is known to start an instruction.
var loadR9Site = []byte{0x4d, 0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05}

// xorReadSite is glibc's read: xor %eax, %eax; syscall; cmp $-4096, %rax. A ja follows.
var xorReadSite = []byte{0x31, 0xc0, 0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff}

// patchKind says which patchable sequence (platform.PatchKind) the bytes around rip, just
// after the syscall instruction the task made with number nr, are: the site's address, its
// kind and its bytes.
func (t *Task) patchKind(m *mm.MM, rip uint64, nr uint32) (uint64, platform.PatchKind, []byte, bool) {
	var b [10]byte
	if rip < 12 {
		return 0, 0, nil, false
	}
	if _, err := m.CopyIn(rip-10, b[:]); err != nil {
		return 0, 0, nil, false
	}
	if nr == 0 && string(b[6:]) == string(xorReadSite[:4]) {
		return t.xorReadKind(m, rip, b)
	}
	site := rip - 7
	// mov $nr, %eax (b8 imm32, the immediate in the guest's byte order); syscall (0f 05).
	// b8 may be the end of a longer instruction rather than `mov $nr, %eax`: the number in
	// its immediate must be the call's, and a REX prefix before it (41 b8: mov $imm,
	// %r8d) rules the site out.
	movEax := append(abi.AppendU32([]byte{0xb8}, nr), 0x0f, 0x05)
	switch {
	case string(b[3:]) == string(movEax) && b[2]&0xf0 != 0x40:
		return site, platform.PatchMovEax, movEax, true
	case string(b[:]) == string(loadR9Site):
		return site, platform.PatchLoadR9, append([]byte(nil), b[3:]...), true
	}
	return 0, 0, nil, false
}

// xorReadKind checks a read site, rip-4 (xor %eax, %eax; syscall, in b[6:]), for the rest
// of glibc's sequence: the cmp after it, then a ja (77 rel8 or 0f 87 rel32), which shows
// that the cmp's flags are used as glibc uses them. The site's first byte must be known to
// start an instruction: it follows a jcc rel8 (74/75 xx, glibc's single-threaded test), or
// `mov 0x8(%rsp), %edi` (8b 7c 24 08, its cancellable path), or starts a 16-byte aligned
// function (read_nocancel).
func (t *Task) xorReadKind(m *mm.MM, rip uint64, b [10]byte) (uint64, platform.PatchKind, []byte, bool) {
	site := rip - 4
	var a [8]byte
	if _, err := m.CopyIn(rip, a[:]); err != nil {
		return 0, 0, nil, false
	}
	if string(a[:6]) != string(xorReadSite[4:]) || a[6] != 0x77 && (a[6] != 0x0f || a[7] != 0x87) {
		return 0, 0, nil, false
	}
	if b[4] != 0x74 && b[4] != 0x75 && string(b[2:6]) != "\x8b\x7c\x24\x08" && site%16 != 0 {
		return 0, 0, nil, false
	}
	return site, platform.PatchXorRead, append([]byte(nil), xorReadSite...), true
}

// patchSkip is a task's set of syscall sites found unpatchable in its address space m.
type patchSkip struct {
	m     *mm.MM
	sites map[uint64]struct{}
}

// unpatchedSites counts, for a debug run, the syscalls trapped at sites left unpatched by
// the bytes before them: which other instruction patterns would be worth patching.
type unpatchedSites struct {
	mu sync.Mutex
	// n counts by the 8 bytes before rip (hex). protected by mu
	n map[string]int64
}

func (u *unpatchedSites) note(m *mm.MM, rip uint64) {
	var b [8]byte
	if rip < 8 {
		return
	}
	if _, err := m.CopyIn(rip-8, b[:]); err != nil {
		return
	}
	u.mu.Lock()
	if u.n == nil {
		u.n = map[string]int64{}
	}
	if len(u.n) < 4096 {
		u.n[fmt.Sprintf("% x", b)]++
	}
	u.mu.Unlock()
}

// PatchSummary says, for a debug run, how many syscalls were trapped at a syscall
// instruction, how many sites were patched, and the most frequent unpatched patterns.
func (k *Kernel) PatchSummary() string {
	s := fmt.Sprintf("%d syscalls trapped, %d sites patched", k.trapped.Load(), k.patched.Load())
	k.unpatched.mu.Lock()
	defer k.unpatched.mu.Unlock()
	type kv struct {
		k string
		n int64
	}
	var l []kv
	for p, n := range k.unpatched.n {
		l = append(l, kv{p, n})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n })
	for i, e := range l {
		if i == 5 {
			break
		}
		s += fmt.Sprintf("; %d unpatched at [%s]", e.n, e.k)
	}
	return s
}
