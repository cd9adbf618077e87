package ptrace

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// jmpAbs is `mov r11, addr; jmp r11` (rax and the argument registers stay as set).
func jmpAbs(addr uint64) []byte {
	return cat([]byte{0x49, 0xbb}, binary.LittleEndian.AppendUint64(nil, addr), []byte{0x41, 0xff, 0xe3})
}

// TestEscapeTrapStubSite: app code that jumps to the stub's injection site with an mmap of
// the memory file in its registers is trapped like any syscall; the host never maps it.
func TestEscapeTrapStubSite(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// mmap(0x900000, 0x1000, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_FIXED, 0, 0) at the site.
	code := cat(movRaxImm(unix.SYS_MMAP), movRdiImm(0x900000),
		[]byte{0x48, 0xc7, 0xc6, 0x00, 0x10, 0, 0}, // mov rsi, 0x1000
		[]byte{0x48, 0xc7, 0xc2, 0x03, 0, 0, 0},    // mov rdx, 3
		[]byte{0x49, 0xc7, 0xc2, 0x11, 0, 0, 0},    // mov r10, 0x11
		[]byte{0x4d, 0x31, 0xc0},                   // xor r8, r8
		[]byte{0x4d, 0x31, 0xc9},                   // xor r9, r9
		jmpAbs(h.p.stub.site))
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_MMAP {
			t.Fatalf("Switch = %+v, %v (nr %d); want the mmap trapped as the app's syscall", ev, err, regs.OrigRax)
		}
		maps, _ := os.ReadFile("/proc/" + itoa(c.(*context).lastPID) + "/maps")
		if strings.Contains(string(maps), "00900000-") {
			t.Fatalf("the app's mmap at the injection site reached the host:\n%s", maps)
		}
	})
}

// TestEscapeTrapForgedHandoff: app code that calls into the stub's handler with a frame
// pointer of its choosing makes the kernel refuse the context (it is killed), never read
// outside the shared area. (The handler finds the thread's area from its stack pointer, so
// the forger points rsp into its own signal stack; with any other rsp the hand-off lands in
// app memory, which the kernel never reads: see TestTrapHandoffOutsideArea.)
func TestEscapeTrapForgedHandoff(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// rdx (ucontext) = dataAddr, rsi (siginfo) = dataAddr; jump to the handler.
	code := cat([]byte{0x48, 0xc7, 0xc2}, le32(dataAddr), []byte{0x48, 0xc7, 0xc6}, le32(dataAddr),
		[]byte{0x48, 0xbc}, binary.LittleEndian.AppendUint64(nil, trapAltStack+0x4000), // movabs rsp, in the signal stack
		jmpAbs(StubBase+trapHandlerOff))
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		_, err := c.Switch(as, regs)
		if !errors.Is(err, platform.ErrContextDead) {
			t.Fatalf("Switch after a forged hand-off = %v; want ErrContextDead", err)
		}
	})
}

// TestEscapeTrapBlockedInterrupt: app code that returns through a forged rt_sigreturn frame
// blocking every signal, then loops, cannot make itself uninterruptible: the kernel ends it.
func TestEscapeTrapBlockedInterrupt(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// A frame at the stack: rt_sigreturn reads it at rsp-8 after the handler's "ret", so
	// point rsp at a zeroed region with uc_sigmask = ~0 and rip = the loop.
	frame := make([]byte, 0x400)
	const ucAt = 8 // after pretcode
	mc := ucAt + ucMcontext
	le := binary.LittleEndian
	le.PutUint64(frame[mc+scRip:], codeAddr+0x40)
	le.PutUint64(frame[mc+scRsp:], stackAddr+0x7000)
	le.PutUint64(frame[mc+scEflags:], 0x202)
	le.PutUint16(frame[mc+scCS:], 0x33)
	le.PutUint16(frame[mc+scSS:], 0x2b)
	le.PutUint64(frame[ucAt+ucSigmask:], ^uint64(0))
	copy(h.mem[stackOff+0x4000:], frame)
	// mov rsp, stackAddr+0x4000+8; mov eax, 15; jmp to the handler's syscall instruction.
	code := cat([]byte{0x48, 0xc7, 0xc4}, le32(stackAddr+0x4000+8), movRaxImm(15), jmpAbs(h.p.stub.site))
	code = append(code, make([]byte, 0x40-len(code))...)
	code = append(code, 0xeb, 0xfe) // codeAddr+0x40: jmp .
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		go func() {
			time.Sleep(50 * time.Millisecond) // let the app block the signal first
			c.Interrupt()
		}()
		ev, err := c.Switch(as, regs)
		t.Logf("Switch = %+v, %v, rip %#x", ev, err, regs.Rip)
		if err == nil && ev.Kind == platform.EventSyscall && regs.OrigRax == 15 {
			return // rt_sigreturn from the injection site is trapped: nothing to escape
		}
		if err != nil && !errors.Is(err, platform.ErrContextDead) {
			t.Fatalf("Switch = %+v, %v", ev, err)
		}
	})
}
