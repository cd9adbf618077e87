package ptrace

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// movEaxSyscall is the patchable site: mov $nr, %eax; syscall.
func movEaxSyscall(nr uint32) []byte { return cat([]byte{0xb8}, le32(nr), syscallInsn) }

// patchSite patches the site at codeAddr+off as the kernel would (the test owns memory).
func (h *harness) patchSite(as platform.AddressSpace, off uint64, nr uint32) {
	h.t.Helper()
	h.patchKind(as, off, platform.PatchMovEax, nr)
}

// patchKind patches the site of a kind at codeAddr+off as the kernel would.
func (h *harness) patchKind(as platform.AddressSpace, off uint64, kind platform.PatchKind, nr uint32) {
	h.t.Helper()
	code, ok := as.(platform.SyscallPatcher).PatchSyscall(codeAddr+off, kind, nr)
	if !ok {
		h.t.Fatalf("PatchSyscall(%#x, %d) declined", codeAddr+off, nr)
	}
	copy(h.mem[appCodeOff+off:], code)
}

// TestPatchedSyscall: a patched site reaches the kernel with no signal, with exactly the
// registers the original instructions leave (rax and orig_rax the number, rip after the
// site, rcx = rip, r11 = rflags, everything else as it was), and the app resumes with the
// registers the kernel wrote. A thread stopped at site+5 (a restarted syscall) makes the
// syscall at once; one that ran the old mov and then met the patch faults in page 0 and
// makes it too. The FP state is the app's across a fast hand-off.
func TestPatchedSyscall(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	const (
		site2Off = 0x80  // a second site, followed by movq %xmm0, %rax; int3
		raceOff  = 0x100 // mov $39, %eax; jmp site+5
	)
	code := make([]byte, 0x200)
	copy(code, cat(movEaxSyscall(unix.SYS_GETPID), []byte{0xcc}))
	copy(code[site2Off:], cat(movEaxSyscall(unix.SYS_GETPPID), []byte{0x66, 0x48, 0x0f, 0x7e, 0xc0, 0xcc}))
	jmp := int32(5 - (raceOff + 5 + 5))
	copy(code[raceOff:], cat([]byte{0xb8}, le32(unix.SYS_GETPID), []byte{0xe9}, le32(uint32(jmp))))
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall || !ev.Patchable || regs.OrigRax != unix.SYS_GETPID || regs.Rip != codeAddr+7 {
			t.Fatalf("unpatched: Switch = %+v, %v (nr %d, rip %#x); want a patchable getpid", ev, err, regs.OrigRax, regs.Rip)
		}
		h.patchSite(as, 0, unix.SYS_GETPID)

		// Every register distinct, the carry flag set, through the patched site.
		want := platform.Registers{R15: 15, R14: 14, R13: 13, R12: 12, Rbp: 0xb0, Rbx: 0xb1, R11: 11, R10: 10, R9: 9, R8: 8,
			Rax: 0xa0, Rcx: 0xc0, Rdx: 0xd0, Rsi: 0x51, Rdi: 0xd1, Rip: codeAddr, Rsp: stackAddr + 0x7000, Eflags: 0x203,
			FsBase: dataAddr + 0x10}
		*regs = want
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall || ev.Patchable {
			t.Fatalf("patched: Switch = %+v, %v; want a syscall event, not patchable", ev, err)
		}
		exp := want
		exp.Rax, exp.OrigRax, exp.Rip = unix.SYS_GETPID, unix.SYS_GETPID, codeAddr+7
		exp.Rcx, exp.R11 = exp.Rip, exp.Eflags
		exp.Cs, exp.Ss = regs.Cs, regs.Ss
		if *regs != exp {
			t.Fatalf("patched syscall registers\n got %+v\nwant %+v", *regs, exp)
		}
		// The kernel's result and registers reach the app (int3 after the site).
		regs.Rax, regs.R12, regs.Eflags = 4242, 0x1212, 0x246
		exp = *regs
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSignal || ev.Signo != int32(unix.SIGTRAP) {
			t.Fatalf("after the patched syscall: Switch = %+v, %v; want the int3", ev, err)
		}
		exp.Rip++ // past the int3
		exp.OrigRax, exp.Cs, exp.Ss = regs.OrigRax, regs.Cs, regs.Ss
		if *regs != exp {
			t.Fatalf("app registers after the patched syscall\n got %+v\nwant %+v", *regs, exp)
		}

		// rip at site+5 (a restart): the syscall at once, with the number in rax.
		regs.Rip, regs.Rax = codeAddr+5, unix.SYS_RESTART_SYSCALL
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_RESTART_SYSCALL || regs.Rip != codeAddr+7 || regs.Rcx != regs.Rip {
			t.Fatalf("restart at site+5: Switch = %+v, %v (nr %d, rip %#x)", ev, err, regs.OrigRax, regs.Rip)
		}
		// The old mov, then the patch's bytes at site+5.
		regs.Rip = codeAddr + raceOff
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_GETPID || regs.Rip != codeAddr+7 {
			t.Fatalf("old mov, patched syscall: Switch = %+v, %v (nr %d, rip %#x)", ev, err, regs.OrigRax, regs.Rip)
		}

		// FP state across a fast hand-off: the kernel reads it (a signal frame, fork) and
		// changes it (sigreturn); the app sees the change.
		h.patchSite(as, site2Off, unix.SYS_GETPPID)
		regs.Rip = codeAddr + site2Off
		if ev, err = c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_GETPPID {
			t.Fatalf("second site: Switch = %+v, %v", ev, err)
		}
		fp, err := c.FPState()
		if err != nil || len(fp) < 512 {
			t.Fatalf("FPState after a fast hand-off = %d bytes, %v", len(fp), err)
		}
		binary.LittleEndian.PutUint64(fp[160:], 0x1122334455667788) // xmm0's low half
		if err := c.SetFPState(fp); err != nil {
			t.Fatal(err)
		}
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSignal || regs.Rax != 0x1122334455667788 {
			t.Fatalf("xmm0 after SetFPState at a fast hand-off: Switch = %+v, %v, rax %#x", ev, err, regs.Rax)
		}
	})
}

// TestPatchedLoadR9: the end of glibc's syscall() (mov %r9, %r8; mov 0x8(%rsp), %r9;
// syscall), patched, reaches the kernel as the syscall numbered by rax with r9 loaded from
// the stack, rip after the site; a thread stopped at site+5 makes the syscall at once; and
// a stack the load cannot read is reported as the load's fault at the site, registers
// unchanged, so the app resumes there once the kernel has handled it.
func TestPatchedLoadR9(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	code := cat([]byte{0x4d, 0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08}, syscallInsn, []byte{0xcc})
	h.load(as, code)
	const sp = stackAddr + 0x7000
	binary.LittleEndian.PutUint64(h.mem[stackOff+0x7008:], 0x5151515151)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		regs.Rsp, regs.Rax, regs.R9 = sp, unix.SYS_GETTID, 0x99
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_GETTID || regs.R9 != 0x5151515151 {
			t.Fatalf("unpatched: Switch = %+v, %v (nr %d, r9 %#x)", ev, err, regs.OrigRax, regs.R9)
		}
		h.patchKind(as, 3, platform.PatchLoadR9, 0)
		want := platform.Registers{R15: 15, R14: 14, R13: 13, R12: 12, Rbp: 0xb0, Rbx: 0xb1, R11: 11, R10: 10, R9: 9, R8: 8,
			Rax: unix.SYS_GETPPID, Rcx: 0xc0, Rdx: 0xd0, Rsi: 0x51, Rdi: 0xd1, Rip: codeAddr, Rsp: sp, Eflags: 0x203}
		*regs = want
		ev, err = c.Switch(as, regs)
		exp := want
		exp.R8, exp.R9, exp.OrigRax, exp.Rip = 9, 0x5151515151, unix.SYS_GETPPID, codeAddr+10
		exp.Rcx, exp.R11 = exp.Rip, exp.Eflags
		exp.Cs, exp.Ss = regs.Cs, regs.Ss
		if err != nil || ev.Kind != platform.EventSyscall || *regs != exp {
			t.Fatalf("patched: Switch = %+v, %v\n got %+v\nwant %+v", ev, err, *regs, exp)
		}
		// Stopped at site+5 (a restart): the syscall at once, with the number in rax.
		regs.Rip, regs.Rax = codeAddr+8, unix.SYS_GETPID
		if ev, err = c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_GETPID || regs.Rip != codeAddr+10 {
			t.Fatalf("at site+5: Switch = %+v, %v (nr %d, rip %#x)", ev, err, regs.OrigRax, regs.Rip)
		}
		// A stack the load cannot read (8 bytes past the stack's end).
		*regs = want
		regs.Rsp = stackAddr + 0x10000 - 8
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventFault || ev.Addr != stackAddr+0x10000 || !ev.Access.Read ||
			regs.Rip != codeAddr+3 || regs.R9 != 9 || regs.R8 != 9 || regs.Rax != unix.SYS_GETPPID {
			t.Fatalf("unreadable stack: Switch = %+v, %v (rip %#x, r9 %#x, rax %d); want a read fault at %#x, rip at %#x",
				ev, err, regs.Rip, regs.R9, regs.Rax, stackAddr+0x10000, codeAddr+3)
		}
		// Resumed there with a readable stack, the site runs.
		regs.Rsp = sp
		if ev, err = c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_GETPPID || regs.R9 != 0x5151515151 {
			t.Fatalf("resumed at the site: Switch = %+v, %v (nr %d, r9 %#x)", ev, err, regs.OrigRax, regs.R9)
		}
	})
}

// TestPatchedSyscallInterrupted: interrupts that land anywhere in the trampoline (on the
// way in, while it waits, while it restores the app's registers) are never lost and never
// show the kernel a stub address: every event is the patched syscall or an interruption in
// app code.
func TestPatchedSyscallInterrupted(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// loop: mov $39, %eax; syscall; inc %r12; jmp loop
	code := cat(movEaxSyscall(unix.SYS_GETPID), []byte{0x49, 0xff, 0xc4, 0xeb, 0xf4})
	h.load(as, code)
	h.patchSite(as, 0, unix.SYS_GETPID)
	withContext(t, h.p, func(c platform.Context) {
		var stop atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			for !stop.Load() {
				c.Interrupt()
				time.Sleep(300 * time.Microsecond)
			}
		}()
		regs := regsAt(codeAddr)
		var syscalls, interrupts int
		// Until both counts are reached; the bound is only against a hang (a loaded
		// machine may not run the interrupting goroutine for a while).
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) && (syscalls < 20000 || interrupts < 300) {
			ev, err := c.Switch(as, regs)
			if err != nil {
				stop.Store(true)
				<-done
				t.Fatalf("Switch: %v", err)
			}
			switch ev.Kind {
			case platform.EventSyscall:
				if regs.Rip != codeAddr+7 || regs.OrigRax != unix.SYS_GETPID {
					t.Fatalf("syscall event at rip %#x nr %d", regs.Rip, regs.OrigRax)
				}
				syscalls++
				regs.Rax = uint64(syscalls)
			case platform.EventInterrupted:
				if regs.Rip < codeAddr || regs.Rip >= codeAddr+uint64(len(code)) {
					t.Fatalf("interrupted at rip %#x, outside the app's code", regs.Rip)
				}
				interrupts++
			default:
				t.Fatalf("unexpected event %+v at rip %#x", ev, regs.Rip)
			}
		}
		stop.Store(true)
		<-done
		t.Logf("%d syscalls, %d interruptions", syscalls, interrupts)
		if syscalls == 0 || interrupts == 0 {
			t.Fatalf("%d syscalls, %d interruptions; want both", syscalls, interrupts)
		}
		if regs.R12 == 0 {
			t.Fatalf("the app made no progress between syscalls")
		}
	})
}

// TestPatchSlotTableReadOnly: the slot table is read-only for the app (a write faults), and
// a jump into an entry no site was patched for is a fault at that entry, not a syscall.
func TestPatchSlotTableReadOnly(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// movl $0, trapTable (c7 04 25 imm32 imm32)
	code := cat([]byte{0xc7, 0x04, 0x25}, le32(trapTable), le32(0))
	code = append(code, make([]byte, 0x40-len(code))...)
	code = append(code, jmpAbs(StubBase+trapEntryOff+5*trapEntrySize)...)
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventFault || ev.Addr != trapTable {
			t.Fatalf("write to the slot table: Switch = %+v, %v; want a fault at %#x", ev, err, trapTable)
		}
		regs.Rip = codeAddr + 0x40
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventFault || regs.Rip != StubBase+trapEntryOff+5*trapEntrySize {
			t.Fatalf("jump to an unused entry: Switch = %+v, %v, rip %#x; want a fault there", ev, err, regs.Rip)
		}
	})
}

// TestEscapeTrapForgedFastHandoff: app code that forges trapFast's hand-off (writes
// ST_FAST and a patched slot into its control page) and runs on only makes the kernel see
// that syscall; when the kernel then needs the FP state (an upgrade the thread never
// answers), an interrupt ends the context instead of hanging the kernel.
func TestEscapeTrapForgedFastHandoff(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// movabs $trapCtrl, %rbx; movl $0, cSlot(%rbx); movl $stFast, cState(%rbx); jmp .
	code := cat([]byte{0x48, 0xbb}, binary.LittleEndian.AppendUint64(nil, trapCtrl),
		[]byte{0xc7, 0x83}, le32(cSlot), le32(0),
		[]byte{0xc7, 0x83}, le32(cState), le32(stFast),
		[]byte{0xeb, 0xfe})
	code = append(code, make([]byte, 0x40-len(code))...)
	code = append(code, movEaxSyscall(unix.SYS_GETPID)...)
	h.load(as, code)
	h.patchSite(as, 0x40, unix.SYS_GETPID) // slot 0: getpid at codeAddr+0x40
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_GETPID || regs.Rip != codeAddr+0x47 {
			t.Fatalf("forged fast hand-off: Switch = %+v, %v (nr %d, rip %#x); want slot 0's getpid", ev, err, regs.OrigRax, regs.Rip)
		}
		go func() {
			time.Sleep(100 * time.Millisecond)
			c.Interrupt()
		}()
		if _, err := c.FPState(); err == nil {
			t.Fatalf("FPState of a thread that forged its hand-off succeeded")
		}
	})
}

// TestPatchedRead: glibc's read (xor %eax, %eax; syscall; cmp $-4096, %rax), patched,
// reaches the kernel as read (rax = orig_rax = 0, the flags xor leaves, rip after the
// original syscall instruction); resumed there the app goes on after the cmp with exactly
// the flags the CPU's cmp sets, for results on both sides of -4096; a restart (rip at the
// syscall) makes the read at once; and app code that itself jumps into the patch (to the
// cmp, or to the syscall with eax = 0, as setcontext to a signal frame's context does)
// gets what the original instructions do, through the patch's invalid opcodes.
func TestPatchedRead(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	const (
		cmpOff  = 0x40 // cmp $-4096, %rax; pushfq; pop %rbx; int3 (the CPU's flags)
		xorOff  = 0x60 // xor %eax, %eax; pushfq; pop %rbx; int3
		toCmp   = 0x80 // jmp site+4
		toSysc  = 0xa0 // xor %eax, %eax; jmp site+2
		flagsAt = 13   // the int3 after the site's pushfq; pop %rbx is at site+12
	)
	readSite := []byte{0x31, 0xc0, 0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff}
	getFlags := []byte{0x9c, 0x5b, 0xcc}
	code := make([]byte, 0x100)
	copy(code, cat(readSite, getFlags))
	copy(code[cmpOff:], cat(readSite[4:], getFlags))
	copy(code[xorOff:], cat(readSite[:2], getFlags))
	jmpTo := func(from, to int) []byte { return cat([]byte{0xe9}, le32(uint32(int32(to-(from+5))))) }
	copy(code[toCmp:], jmpTo(toCmp, 4))
	copy(code[toSysc:], cat(readSite[:2], jmpTo(toSysc+2, 2)))
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		// What the CPU's cmp leaves for a result (flags before: all arithmetic ones set).
		cpuFlags := func(off int, rax uint64) uint64 {
			t.Helper()
			regs := regsAt(codeAddr + uint64(off))
			regs.Rax, regs.Eflags = rax, 0x202|arithFlags
			if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSignal || ev.Signo != int32(unix.SIGTRAP) {
				t.Fatalf("CPU flags: Switch = %+v, %v", ev, err)
			}
			return regs.Rbx & arithFlags
		}
		regs := regsAt(codeAddr)
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall || !ev.Patchable || regs.OrigRax != 0 || regs.Rip != codeAddr+4 {
			t.Fatalf("unpatched: Switch = %+v, %v (nr %d, rip %#x); want a patchable read", ev, err, regs.OrigRax, regs.Rip)
		}
		h.patchKind(as, 0, platform.PatchXorRead, 0)
		if !bytes.Equal(h.mem[appCodeOff+4:appCodeOff+5], []byte{byte(readSlotFirst() >> 5)}) || !readSlot(readSlotFirst()) {
			t.Fatalf("read site's byte at site+4 = %#x, want an invalid opcode", h.mem[appCodeOff+4])
		}

		want := platform.Registers{R15: 15, R14: 14, R13: 13, R12: 12, Rbp: 0xb0, Rbx: 0xb1, R11: 11, R10: 10, R9: 9, R8: 8,
			Rax: 0xa0, Rcx: 0xc0, Rdx: 0xd0, Rsi: 0x51, Rdi: 0xd1, Rip: codeAddr, Rsp: stackAddr + 0x7000, Eflags: 0x202 | arithFlags}
		*regs = want
		ev, err = c.Switch(as, regs)
		exp := want
		exp.Rax, exp.OrigRax, exp.Rip = 0, 0, codeAddr+4
		exp.Eflags = 0x202 | cpuFlags(xorOff, 0x1234)
		exp.Rcx, exp.R11 = exp.Rip, exp.Eflags
		exp.Cs, exp.Ss = regs.Cs, regs.Ss
		if err != nil || ev.Kind != platform.EventSyscall || ev.Patchable || *regs != exp {
			t.Fatalf("patched read: Switch = %+v, %v\n got %+v\nwant %+v", ev, err, *regs, exp)
		}
		results := []uint64{0, 1, 5, 0x10, 0xfff, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffefff,
			0xfffffffffffff000, 0xfffffffffffff001, 0xfffffffffffffffc, 0xffffffffffffffff}
		for _, res := range results {
			cpu := cpuFlags(cmpOff, res)
			// Resumed after the kernel's read (the platform makes the cmp); then by a jump
			// of the app's own to the cmp (the patch's invalid opcode there).
			for _, from := range []uint64{codeAddr + 4, codeAddr + toCmp} {
				*regs = want
				regs.Rip, regs.Rax = from, res
				ev, err = c.Switch(as, regs)
				if err != nil || ev.Kind != platform.EventSignal || ev.Signo != int32(unix.SIGTRAP) || regs.Rip != codeAddr+flagsAt ||
					regs.Rbx&arithFlags != cpu || regs.Rax != res || regs.Rdx != want.Rdx {
					t.Fatalf("after read = %#x, from %#x: Switch = %+v, %v (rip %#x, flags %#x); want the int3 at %#x, flags %#x",
						res, from, ev, err, regs.Rip, regs.Rbx&arithFlags, codeAddr+flagsAt, cpu)
				}
			}
		}
		// A restart (rip at the syscall), by the kernel or by the app's own jump there.
		for _, from := range []uint64{codeAddr + 2, codeAddr + toSysc} {
			*regs = want
			regs.Rip, regs.Rax = from, 0
			ev, err = c.Switch(as, regs)
			if err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != 0 || regs.Rip != codeAddr+4 || regs.Rcx != regs.Rip {
				t.Fatalf("restart from %#x: Switch = %+v, %v (nr %d, rip %#x); want read at %#x", from, ev, err, regs.OrigRax, regs.Rip, codeAddr+4)
			}
		}
	})
}

// readSlotFirst is the first slot a read site gets.
func readSlotFirst() uint32 {
	var pt patchTable
	k, _ := pt.allocSlot(platform.PatchXorRead)
	return k
}
