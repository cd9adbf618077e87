package kvm

import (
	"encoding/binary"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

func newTestPlatform(t *testing.T) (*Platform, []byte) {
	t.Helper()
	needKVM(t)
	fd, err := unix.MemfdCreate("kvm-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "memfd")
	t.Cleanup(func() { f.Close() })
	const size = 1 << 20
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	p, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, mem
}

// TestRemapSeen checks that page-table changes reach the running vCPU: a page read, then
// remapped to other memory-file pages, unmapped, and made read-only.
func TestRemapSeen(t *testing.T) {
	p, mem := newTestPlatform(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Code at offset 0: 1: mov 0x600000, %rax; syscall; movq $1, 0x600000; syscall; jmp 1b
	copy(mem, []byte{
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00,
		0x0f, 0x05,
		0x48, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x0f, 0x05,
		0xeb, 0xe6,
	})
	binary.LittleEndian.PutUint64(mem[0x1000:], 0xaaaa)
	binary.LittleEndian.PutUint64(mem[0x2000:], 0xbbbb)
	as, _ := p.NewAddressSpace()
	defer as.Release()
	ctx, err := p.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	as.MapFile(0x400000, 0x1000, 0, platform.ProtRead|platform.ProtExec)
	as.MapFile(0x600000, 0x1000, 0x1000, platform.ProtRead|platform.ProtWrite)
	regs := platform.Registers{Rip: 0x400000, Rsp: 0x800000, Eflags: 0x202}
	sw := func() platform.Event {
		t.Helper()
		for {
			ev, err := ctx.Switch(as, &regs)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != platform.EventInterrupted {
				return ev
			}
		}
	}
	if ev := sw(); ev.Kind != platform.EventSyscall || regs.Rax != 0xaaaa {
		t.Fatalf("first read: %+v rax %#x", ev, regs.Rax)
	}
	if ev := sw(); ev.Kind != platform.EventSyscall || mem[0x1000] != 1 {
		t.Fatalf("first write: %+v, memory %#x", ev, mem[0x1000])
	}
	as.MapFile(0x600000, 0x1000, 0x2000, platform.ProtRead|platform.ProtWrite)
	if ev := sw(); ev.Kind != platform.EventSyscall || regs.Rax != 0xbbbb {
		t.Fatalf("read after remap: %+v rax %#x", ev, regs.Rax)
	}
	as.Protect(0x600000, 0x1000, platform.ProtRead)
	if ev := sw(); ev.Kind != platform.EventFault || ev.Addr != 0x600000 || !ev.Access.Write || ev.Code != 2 {
		t.Fatalf("write after protect: %+v", ev)
	}
	as.Unmap(0x600000, 0x1000)
	regs.Rip = 0x400000
	if ev := sw(); ev.Kind != platform.EventFault || ev.Addr != 0x600000 || ev.Code != 1 {
		t.Fatalf("read after unmap: %+v", ev)
	}
}

// TestInterruptSpinning checks Interrupt stops a vCPU spinning in user mode, and the
// registers it returns resume the loop.
func TestInterruptSpinning(t *testing.T) {
	p, mem := newTestPlatform(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	copy(mem, []byte{0x48, 0xff, 0xc3, 0xeb, 0xfb}) // 1: inc %rbx; jmp 1b
	as, _ := p.NewAddressSpace()
	defer as.Release()
	ctx, err := p.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	as.MapFile(0x400000, 0x1000, 0, platform.ProtRead|platform.ProtExec)
	regs := platform.Registers{Rip: 0x400000, Rsp: 0x800000, Eflags: 0x202}
	for round := 0; round < 3; round++ {
		before := regs.Rbx
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(20 * time.Millisecond) // let it spin
			ctx.Interrupt()
		}()
		ev, err := ctx.Switch(as, &regs)
		<-done
		if err != nil || ev.Kind != platform.EventInterrupted {
			t.Fatalf("round %d: %+v %v", round, ev, err)
		}
		if regs.Rip < 0x400000 || regs.Rip > 0x400003 || regs.Rbx < before {
			t.Fatalf("round %d: interrupted at rip %#x rbx %d (before %d)", round, regs.Rip, regs.Rbx, before)
		}
	}
}

// TestEscapeUnmapWhileRunning: a page another thread unmaps while app code runs in the
// address space is gone before that code runs again. The vCPU is kicked out of user mode,
// so the change (a replay of the page-table entries and a CR3 reload) has to be made on
// its way back in, from ring 0.
func TestEscapeUnmapWhileRunning(t *testing.T) {
	p, mem := newTestPlatform(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// 1: mov 0x600000, %rax; jmp 1b
	copy(mem, []byte{0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00, 0xeb, 0xf6})
	as, _ := p.NewAddressSpace()
	defer as.Release()
	ctx, err := p.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	as.MapFile(0x400000, 0x1000, 0, platform.ProtRead|platform.ProtExec)
	as.MapFile(0x600000, 0x1000, 0x1000, platform.ProtRead)
	regs := platform.Registers{Rip: 0x400000, Rsp: 0x800000, Eflags: 0x202}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(50 * time.Millisecond) // let it spin on the page
		as.Unmap(0x600000, 0x1000)
		select {
		case <-stop:
		case <-time.After(30 * time.Second):
			ctx.Interrupt()
		}
	}()
	ev, err := ctx.Switch(as, &regs)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != platform.EventFault || ev.Addr != 0x600000 {
		t.Fatalf("Switch = %+v at rip %#x; want a fault at 0x600000 once it is unmapped (the app kept reading it)", ev, regs.Rip)
	}
}

// TestEscapePageTablesReused: the page tables of released address spaces are reused, and
// an address space built on them sees nothing of the released one's mappings (its secret
// page faults), even on a hypervisor that keeps shadow copies of page tables.
func TestEscapePageTablesReused(t *testing.T) {
	p, mem := newTestPlatform(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// mov 0x600000, %rax; syscall
	copy(mem, []byte{0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x60, 0x00, 0x0f, 0x05})
	binary.LittleEndian.PutUint64(mem[0x1000:], 0x5ec2e7)
	ctx, err := p.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	const rounds = 40
	var grownAfterFirst uint64
	for i := 0; i < rounds; i++ {
		as, err := p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		as.MapFile(0x400000, 0x1000, 0, platform.ProtRead|platform.ProtExec)
		if i%4 == 0 {
			as.MapFile(0x600000, 0x1000, 0x1000, platform.ProtRead)
		}
		regs := platform.Registers{Rip: 0x400000, Rsp: 0x800000, Eflags: 0x202}
		var ev platform.Event
		for {
			if ev, err = ctx.Switch(as, &regs); err != nil {
				t.Fatal(err)
			}
			if ev.Kind != platform.EventInterrupted {
				break
			}
		}
		switch {
		case i%4 == 0 && (ev.Kind != platform.EventSyscall || regs.Rax != 0x5ec2e7):
			t.Fatalf("round %d: reading the mapped page: %+v, rax %#x", i, ev, regs.Rax)
		case i%4 != 0 && (ev.Kind != platform.EventFault || ev.Addr != 0x600000):
			t.Fatalf("round %d: the page a released address space mapped is readable here: %+v, rax %#x", i, ev, regs.Rax)
		}
		as.Release()
		if i == 1 {
			p.m.mu.Lock()
			grownAfterFirst = p.m.nextPage
			p.m.mu.Unlock()
		}
	}
	p.m.mu.Lock()
	grown := (p.m.nextPage - grownAfterFirst) / pageSize
	p.m.mu.Unlock()
	if grown > 8 {
		t.Errorf("%d address spaces took %d new private pages after the first two; want their page tables reused", rounds, grown)
	}
}

// TestMapHostFile checks that a host file (not the memory file) mapped with MapHostFile is
// guest memory the app reads and writes, that the host sees the write, and that unmapping
// it drops its memory slot.
func TestMapHostFile(t *testing.T) {
	p, mem := newTestPlatform(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// mov 0xa00000, %rax; add $1, %rax; mov %rax, 0xa00008; syscall
	copy(mem, []byte{
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0xa0, 0x00,
		0x48, 0x83, 0xc0, 0x01,
		0x48, 0x89, 0x04, 0x25, 0x08, 0x00, 0xa0, 0x00,
		0x0f, 0x05,
	})
	fd, err := unix.MemfdCreate("host-shared", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Ftruncate(fd, 0x2000)
	unix.Pwrite(fd, binary.LittleEndian.AppendUint64(nil, 0x4141), 0x1000)
	as, _ := p.NewAddressSpace()
	defer as.Release()
	ctx, err := p.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	as.MapFile(0x400000, 0x1000, 0, platform.ProtRead|platform.ProtExec)
	if err := as.MapHostFile(0xa00000, 0x1000, fd, 0x1000, platform.ProtRead|platform.ProtWrite); err != nil {
		t.Fatal(err)
	}
	regs := platform.Registers{Rip: 0x400000, Rsp: 0x800000, Eflags: 0x202}
	for {
		ev, err := ctx.Switch(as, &regs)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == platform.EventInterrupted {
			continue
		}
		if ev.Kind != platform.EventSyscall || regs.Rax != 0x4142 {
			t.Fatalf("Switch = %+v, rax %#x; want a syscall with 0x4142", ev, regs.Rax)
		}
		break
	}
	got := make([]byte, 8)
	unix.Pread(fd, got, 0x1008)
	if v := binary.LittleEndian.Uint64(got); v != 0x4142 {
		t.Fatalf("host file holds %#x after the app's store, want 0x4142", v)
	}
	as.Unmap(0xa00000, 0x1000)
	if n := len(p.m.hosts); n != 0 {
		t.Fatalf("%d host memory slots after the unmap, want 0", n)
	}
}
