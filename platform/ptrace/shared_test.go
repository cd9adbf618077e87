package ptrace

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/platform"
)

// sharedHarness is a trap platform with shared stubs on.
func sharedHarness(t *testing.T) *harness {
	h := newHarness(t, true)
	h.p.SetSharedStubs(true)
	return h
}

// onThread runs f on a new goroutine locked to its OS thread with a context of its own,
// and returns at once; the returned channel closes when f has returned and the context
// is released.
func onThread(t *testing.T, p *Platform, f func(c *context)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c, err := p.NewContext()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Release()
		f(c.(*context))
	}()
	return done
}

func movabs(reg byte, v uint64) []byte { // mov r64, imm64 (reg: 0 rax, 3 rbx)
	return cat([]byte{0x48, 0xb8 + reg}, binary.LittleEndian.AppendUint64(nil, v))
}

// TestSharedThreadsOneStub: threads of one address space run in one host process; a
// change one thread makes is seen by every other thread at once (no interrupt, no catching
// up: one host mm), also by a thread running app code at that moment.
func TestSharedThreadsOneStub(t *testing.T) {
	h := sharedHarness(t)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// codeAddr: mov rax, [data]; syscall. codeAddr+10: loop: mov rax, [data]; jmp loop.
	code := cat([]byte{0x48, 0x8b, 0x04, 0x25}, le32(dataAddr), syscallInsn,
		[]byte{0x48, 0x8b, 0x04, 0x25}, le32(dataAddr), []byte{0xeb, 0xf6})
	h.load(as, code)
	const n = 6
	pids := make(chan int, n)
	parked, release := make(chan struct{}, n), make(chan struct{})
	var done []<-chan struct{}
	for i := 0; i < n; i++ {
		done = append(done, onThread(t, h.p, func(c *context) {
			regs := regsAt(codeAddr)
			if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
				t.Errorf("first Switch = %+v, %v", ev, err)
			}
			pids <- c.current().pid
			parked <- struct{}{}
			<-release
			// The data page went while this thread was parked: its load faults now.
			regs.Rip = codeAddr
			if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventFault || ev.Addr != dataAddr {
				t.Errorf("load after another thread's munmap = %+v, %v; want a fault at data", ev, err)
			}
		}))
	}
	for i := 0; i < n; i++ {
		<-parked
	}
	pid := <-pids
	for i := 1; i < n; i++ {
		if p := <-pids; p != pid {
			t.Fatalf("threads of one address space run in stubs %d and %d; want one", pid, p)
		}
	}
	tasks, _ := os.ReadDir("/proc/" + itoa(pid) + "/task")
	if len(tasks) != n+1 {
		t.Fatalf("the stub has %d threads; want %d app threads and its mapper", len(tasks), n)
	}
	// A thread spinning on the data page when another unmaps it faults at once: no
	// interrupt reaches it (Interrupt is never called).
	spun := make(chan struct{})
	spinner := onThread(t, h.p, func(c *context) {
		regs := regsAt(codeAddr)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Errorf("spinner's first Switch = %+v, %v", ev, err)
		}
		close(spun)
		regs.Rip = codeAddr + 10
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventFault || ev.Addr != dataAddr {
			t.Errorf("spinning load across another thread's munmap = %+v, %v; want a fault at data", ev, err)
		}
	})
	<-spun
	time.Sleep(20 * time.Millisecond) // let it spin (the result does not depend on it)
	if err := as.Unmap(dataAddr, 0x10000); err != nil {
		t.Fatal(err)
	}
	<-spinner
	close(release)
	for _, d := range done {
		<-d
	}
}

// TestSharedThreadChurn: threads made and ended one after the other reuse their areas;
// the stub ends up with its mapper and no thread left.
func TestSharedThreadChurn(t *testing.T) {
	h := sharedHarness(t)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	h.load(as, cat(movRaxImm(39), syscallInsn))
	for i := 0; i < 40; i++ {
		<-onThread(t, h.p, func(c *context) {
			regs := regsAt(codeAddr)
			if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != 39 {
				t.Errorf("thread %d: Switch = %+v, %v", i, ev, err)
			}
		})
	}
	sh := as.(*addressSpace).sh
	deadline := time.Now().Add(10 * time.Second)
	for {
		tasks, _ := os.ReadDir("/proc/" + itoa(sh.main.pid) + "/task")
		if len(tasks) == 1 || time.Now().After(deadline) {
			if len(tasks) != 1 {
				t.Fatalf("the stub has %d threads after every thread ended; want its mapper only", len(tasks))
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Every thread is gone: the next one takes the first area again.
	<-onThread(t, h.p, func(c *context) {
		regs := regsAt(codeAddr)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Errorf("last thread: Switch = %+v, %v", ev, err)
		}
		if a := c.current().area; a != 0 {
			t.Errorf("the thread after 40 ended ones has area %d; want 0, reused", a)
		}
	})
}

// TestEscapeSharedForeignArea: a thread that forges a hand-off in another thread's area
// (it can write it: they share an mm) makes the kernel check that area as the other
// thread's, never read outside it: the other context is refused, nothing else happens.
func TestEscapeSharedForeignArea(t *testing.T) {
	h := sharedHarness(t)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// codeAddr: syscall; jmp . (the victim). codeAddr+4: the forger, written below.
	h.load(as, cat(syscallInsn, []byte{0xeb, 0xfe}))
	victimArea := make(chan uint64, 1)
	forged := make(chan struct{})
	victim := onThread(t, h.p, func(c *context) {
		regs := regsAt(codeAddr)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Errorf("victim's first Switch = %+v, %v", ev, err)
		}
		victimArea <- c.current().trap.base
		_, err := c.Switch(as, regs) // spins at codeAddr+2
		if !errors.Is(err, platform.ErrContextDead) {
			t.Errorf("victim after a forged hand-off in its area: %v; want ErrContextDead", err)
		}
	})
	base := <-victimArea
	// movabs rax, dataAddr; movabs rbx, base; mov [rbx+C_UCTX], rax; mov [rbx+C_SIGINFO], rax;
	// mov dword [rbx+C_STATE], ST_EVENT; syscall
	forger := cat(movabs(0, dataAddr), movabs(3, base), []byte{0x48, 0x89, 0x43, cUctx}, []byte{0x48, 0x89, 0x43, cSiginfo},
		[]byte{0xc7, 0x03}, le32(stEvent), syscallInsn)
	copy(h.mem[appCodeOff+4:], forger)
	<-onThread(t, h.p, func(c *context) {
		defer close(forged)
		regs := regsAt(codeAddr + 4)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Errorf("forger's Switch = %+v, %v", ev, err)
		}
	})
	<-forged
	select {
	case <-victim:
	case <-time.After(30 * time.Second):
		t.Fatal("the victim's context did not notice the forged hand-off")
	}
}

// TestTrapHandoffOutsideArea: app code that jumps into the handler with its stack pointer
// in its own memory hands off into that memory, which the kernel never reads: the thread
// only waits there, and the kernel's interrupt still takes it back.
func TestTrapHandoffOutsideArea(t *testing.T) {
	for _, shared := range []bool{false, true} {
		h := newHarness(t, true)
		h.p.SetSharedStubs(shared)
		as, _ := h.p.NewAddressSpace()
		code := cat([]byte{0x48, 0xc7, 0xc2}, le32(dataAddr), []byte{0x48, 0xc7, 0xc6}, le32(dataAddr),
			[]byte{0x48, 0x83, 0xec, 0x08}, // sub rsp, 8 (as if a return address had been pushed)
			jmpAbs(StubBase+trapHandlerOff))
		h.load(as, code)
		withContext(t, h.p, func(pc platform.Context) {
			c := pc.(*context)
			go func() {
				time.Sleep(50 * time.Millisecond)
				c.Interrupt()
			}()
			regs := regsAt(codeAddr)
			if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventInterrupted {
				t.Errorf("shared=%v: Switch = %+v, %v; want the interrupt", shared, ev, err)
			}
		})
		as.Release()
	}
}

// TestEscapeTrapExitOwnThread: app code that asks its own hand-off to end the thread
// (C_EXIT, in its writable area) only ends itself: the kernel finds the thread gone and
// refuses the context, in both trap modes.
func TestEscapeTrapExitOwnThread(t *testing.T) {
	for _, shared := range []bool{false, true} {
		h := newHarness(t, true)
		h.p.SetSharedStubs(shared)
		as, _ := h.p.NewAddressSpace()
		// syscall; mov rbx, [data]; mov dword [rbx+C_EXIT], 1; syscall; syscall
		h.load(as, cat(syscallInsn, []byte{0x48, 0x8b, 0x1c, 0x25}, le32(dataAddr),
			[]byte{0xc7, 0x43, cExit}, le32(1), syscallInsn, syscallInsn))
		withContext(t, h.p, func(pc platform.Context) {
			c := pc.(*context)
			regs := regsAt(codeAddr)
			if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
				t.Fatalf("shared=%v: first Switch = %+v, %v", shared, ev, err)
			}
			binary.LittleEndian.PutUint64(h.mem[dataOff:], c.current().trap.base)
			if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
				t.Fatalf("shared=%v: second Switch = %+v, %v", shared, ev, err)
			}
			if _, err := c.Switch(as, regs); !errors.Is(err, platform.ErrContextDead) {
				t.Fatalf("shared=%v: Switch after the thread ended itself: %v; want ErrContextDead", shared, err)
			}
		})
		as.Release()
	}
}
