package kernel

import (
	"encoding/binary"

	"github.com/sbx-dev/sbx/kernel/mm"
	"github.com/sbx-dev/sbx/platform"
)

// Syscall-site patching. On a platform that can run a patched site without a trap (trap:
// platform.SyscallPatcher), a syscall reached through the common sequence
// `mov $nr, %eax; syscall` (b8 imm32 0f 05, how glibc's wrappers make almost every call)
// has those 7 bytes rewritten, in a private copy of the page (mm.PatchCode), into a jump
// the platform handles without a signal. The kernel sees the same syscall either way
// (number, arguments, rip after the original syscall instruction, rcx and r11), so guest
// seccomp filters, strace, restarts and signal frames are unchanged. Config.NoSyscallPatch
// turns it off.

// patchSyscallSite patches the site the task's current syscall came from, if it is one.
func (t *Task) patchSyscallSite(m *mm.MM) {
	p, ok := m.AddressSpace().(platform.SyscallPatcher)
	nr := t.Regs.OrigRax
	if !ok || nr >= 0x1000 || t.Regs.Rip < 7 || t.Regs.Rax != nr {
		return
	}
	site := t.Regs.Rip - 7
	old := []byte{0xb8, 0, 0, 0, 0, 0x0f, 0x05}
	binary.LittleEndian.PutUint32(old[1:], uint32(nr))
	if m.PatchCode(site, old, func() ([]byte, bool) { return p.PatchSyscall(site, uint32(nr)) }) {
		t.k.patched.Add(1)
	}
}
