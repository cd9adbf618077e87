package ptrace

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// harness is a memory file with a platform over it; app code is written into the file
// as raw machine code.
type harness struct {
	t   *testing.T
	mf  *os.File
	mem []byte
	p   *Platform
}

const memSize = 1 << 24

// forModes runs a test on both platforms this package implements, and on trap with
// shared stubs (one stub per address space, shared.go).
func forModes(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, mode := range []string{"ptrace", "trap", "trap-shared"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, mode != "ptrace")
			h.p.SetSharedStubs(mode == "trap-shared")
			test(t, h)
		})
	}
}

func newHarness(t *testing.T, trap bool) *harness {
	t.Helper()
	fd, err := unix.MemfdCreate("test-mem", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "mem")
	if err := f.Truncate(memSize); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, memSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	newP := New
	if trap {
		newP = NewTrap
	}
	p, err := newP(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(); unix.Munmap(mem); f.Close() })
	return &harness{t: t, mf: f, mem: mem, p: p}
}

const (
	codeAddr   = 0x400000
	dataAddr   = 0x600000
	appCodeOff = 0
	dataOff    = 0x100000
	stackAddr  = 0x800000
	stackOff   = 0x200000
)

// load maps code (RX) at codeAddr, a data page (RW) and a stack.
func (h *harness) load(as platform.AddressSpace, code []byte) {
	h.t.Helper()
	copy(h.mem[appCodeOff:], code)
	rx := platform.ProtRead | platform.ProtExec
	rw := platform.ProtRead | platform.ProtWrite
	for _, m := range []struct {
		addr, off uint64
		prot      platform.Prot
	}{{codeAddr, appCodeOff, rx}, {dataAddr, dataOff, rw}, {stackAddr, stackOff, rw}} {
		if err := as.MapFile(m.addr, 0x10000, int64(m.off), m.prot); err != nil {
			h.t.Fatal(err)
		}
	}
}

func regsAt(rip uint64) *platform.Registers {
	return &platform.Registers{Rip: rip, Rsp: stackAddr + 0x8000, Eflags: 0x202}
}

// Machine code snippets.
var (
	syscallInsn = []byte{0x0f, 0x05}
	movRaxImm   = func(v uint32) []byte { return append([]byte{0x48, 0xc7, 0xc0}, le32(v)...) } // mov rax, imm32
	movRdiImm   = func(v uint32) []byte { return append([]byte{0x48, 0xc7, 0xc7}, le32(v)...) }
)

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func withContext(t *testing.T, p *Platform, f func(c platform.Context)) {
	t.Helper()
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
		f(c)
	}()
	<-done
}

func TestSyscallIsTrappedNotExecuted(t *testing.T) { forModes(t, testSyscallIsTrappedNotExecuted) }

func testSyscallIsTrappedNotExecuted(t *testing.T, h *harness) {
	dir := t.TempDir()
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// mkdir(dataAddr) with the path written in data: the host must not see it.
	copy(h.mem[dataOff:], dir+"/made-by-app\x00")
	code := cat(movRaxImm(unix.SYS_MKDIR), movRdiImm(dataAddr), []byte{0x48, 0xc7, 0xc6, 0xed, 0x01, 0, 0}, syscallInsn,
		movRaxImm(unix.SYS_GETPID), syscallInsn, []byte{0xf4}) // hlt -> SIGSEGV in user mode
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("Switch = %+v, %v; want a syscall event", ev, err)
		}
		if regs.OrigRax != unix.SYS_MKDIR || regs.Rdi != dataAddr || regs.Rsi != 0o755 {
			t.Fatalf("syscall regs: nr %d rdi %#x rsi %#o", regs.OrigRax, regs.Rdi, regs.Rsi)
		}
		regs.Rax = uint64(1234)
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_GETPID {
			t.Fatalf("second Switch = %+v, %v (nr %d)", ev, err, regs.OrigRax)
		}
		if regs.Rax != ^uint64(unix.ENOSYS)+1 && regs.Rax != 1234 {
			// rax at a SYSEMU stop is -ENOSYS; the previous result was consumed by the app.
			t.Logf("rax at stop = %#x", regs.Rax)
		}
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventFault {
			t.Fatalf("hlt: Switch = %+v, %v; want a fault", ev, err)
		}
	})
	if _, err := os.Stat(dir + "/made-by-app"); err == nil {
		t.Fatal("the app's mkdir was executed on the host")
	}
}

func TestFaults(t *testing.T) { forModes(t, testFaults) }

func testFaults(t *testing.T, h *harness) {
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// mov byte [0x12345000], 1 ; write to read-only code page ; ud2 ; int3 ; div by zero
	code := cat(
		[]byte{0xc6, 0x04, 0x25}, le32(0x12345000), []byte{0x01}, // unmapped store
		[]byte{0xc6, 0x04, 0x25}, le32(codeAddr), []byte{0x01}, // store to RX page
		[]byte{0x0f, 0x0b}, // ud2
		[]byte{0xcc},       // int3
		[]byte{0x31, 0xc9, 0x31, 0xd2, 0xb8, 1, 0, 0, 0, 0xf7, 0xf1}, // xor ecx,ecx; xor edx,edx; mov eax,1; div ecx
	)
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventFault || ev.Addr != 0x12345000 || ev.Signo != int32(unix.SIGSEGV) {
			t.Fatalf("unmapped store: %+v, %v", ev, err)
		}
		regs.Rip += 8
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventFault || ev.Addr != codeAddr {
			t.Fatalf("store to read-only page: %+v, %v", ev, err)
		}
		regs.Rip += 8
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSignal || ev.Signo != int32(unix.SIGILL) {
			t.Fatalf("ud2: %+v, %v", ev, err)
		}
		regs.Rip += 2
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSignal || ev.Signo != int32(unix.SIGTRAP) {
			t.Fatalf("int3: %+v, %v", ev, err)
		}
		ev, err = c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSignal || ev.Signo != int32(unix.SIGFPE) {
			t.Fatalf("div by zero: %+v, %v", ev, err)
		}
	})
}

func TestInterruptBusyLoop(t *testing.T) { forModes(t, testInterruptBusyLoop) }

func testInterruptBusyLoop(t *testing.T, h *harness) {
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	h.load(as, []byte{0xeb, 0xfe}) // jmp .
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		go func() {
			for i := 0; i < 1000; i++ {
				c.Interrupt()
				runtime.Gosched()
			}
		}()
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventInterrupted {
			t.Fatalf("Switch = %+v, %v; want interrupted", ev, err)
		}
	})
}

func TestFSBaseAndMemory(t *testing.T) { forModes(t, testFSBaseAndMemory) }

func testFSBaseAndMemory(t *testing.T, h *harness) {
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	binary.LittleEndian.PutUint64(h.mem[dataOff+0x100:], 0xfeedface)
	// mov rax, fs:[0] ; syscall
	code := cat([]byte{0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0}, syscallInsn)
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		regs.FsBase = dataAddr + 0x100
		ev, err := c.Switch(as, regs)
		if err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("Switch = %+v, %v", ev, err)
		}
		if regs.OrigRax != 0xfeedface {
			t.Fatalf("fs:[0] read %#x, want 0xfeedface", regs.OrigRax)
		}
	})
}

func TestTwoContextsShareMemory(t *testing.T) { forModes(t, testTwoContextsShareMemory) }

func testTwoContextsShareMemory(t *testing.T, h *harness) {
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// Context 1 stores 42 at dataAddr then syscalls; context 2 loads it into rax and syscalls.
	code := cat([]byte{0x48, 0xc7, 0x04, 0x25}, le32(dataAddr), le32(42), syscallInsn, // mov qword [data], 42
		[]byte{0x48, 0x8b, 0x04, 0x25}, le32(dataAddr), syscallInsn) // mov rax, [data]
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("first: %+v %v", ev, err)
		}
	})
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr + 14)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("second: %+v %v", ev, err)
		}
		if regs.OrigRax != 42 {
			t.Fatalf("second context read %d, want 42", regs.OrigRax)
		}
	})
}

func TestUnmapAndProtect(t *testing.T) { forModes(t, testUnmapAndProtect) }

func testUnmapAndProtect(t *testing.T, h *harness) {
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	code := cat([]byte{0x48, 0xc7, 0x04, 0x25}, le32(dataAddr), le32(1), syscallInsn)
	h.load(as, code)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("store: %+v %v", ev, err)
		}
		if err := as.Protect(dataAddr, 0x10000, platform.ProtRead); err != nil {
			t.Fatal(err)
		}
		regs.Rip = codeAddr
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventFault || ev.Addr != dataAddr {
			t.Fatalf("store after mprotect: %+v %v", ev, err)
		}
		if err := as.Unmap(dataAddr, 0x10000); err != nil {
			t.Fatal(err)
		}
		regs.Rip = codeAddr
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventFault {
			t.Fatalf("store after munmap: %+v %v", ev, err)
		}
	})
}

func TestStubIsConfined(t *testing.T) { forModes(t, testStubIsConfined) }

func testStubIsConfined(t *testing.T, h *harness) {
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	h.load(as, syscallInsn)
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		if _, err := c.Switch(as, regs); err != nil {
			t.Fatal(err)
		}
		pid := c.(*context).lastPID
		comm, _ := os.ReadFile("/proc/" + itoa(pid) + "/comm")
		if string(comm) != "sbx-stub\n" {
			t.Errorf("comm = %q, want sbx-stub", comm)
		}
		status, _ := os.ReadFile("/proc/" + itoa(pid) + "/status")
		if !contains(string(status), "Seccomp:\t2") || !contains(string(status), "NoNewPrivs:\t1") {
			t.Errorf("stub status lacks seccomp filter mode / no_new_privs:\n%s", status)
		}
		if s := c.(*context).current(); s != nil && s.trap != nil {
			// The app thread has its own filter (and no_new_privs, inherited).
			st, _ := os.ReadFile("/proc/" + itoa(pid) + "/task/" + itoa(s.trap.appTid) + "/status")
			if !contains(string(st), "Seccomp:\t2") || !contains(string(st), "NoNewPrivs:\t1") {
				t.Errorf("trap stub's app thread lacks its filter / no_new_privs:\n%s", st)
			}
			if tasks, _ := os.ReadDir("/proc/" + itoa(pid) + "/task"); len(tasks) != 2 {
				t.Errorf("trap stub has %d threads, want 2 (the traced main thread and the app thread)", len(tasks))
			}
		}
		fds, _ := os.ReadDir("/proc/" + itoa(pid) + "/fd")
		if len(fds) != 2 {
			t.Errorf("stub has %d FDs open, want only the memory file and its file socket", len(fds))
		}
		if l, _ := os.Readlink("/proc/" + itoa(pid) + "/fd/1"); !strings.HasPrefix(l, "socket:") {
			t.Errorf("stub FD 1 is %q, want its file socket", l)
		}
		maps, _ := os.ReadFile("/proc/" + itoa(pid) + "/maps")
		// The stub maps on demand: of the three app mappings, the code it ran.
		if n := strings.Count(string(maps), "/memfd:test-mem"); n != 1 {
			t.Errorf("stub maps %d ranges of the memory file, want 1 (the code it ran):\n%s", n, maps)
		}
		want := 2 // the stub page and the app's code
		if h.p.trap {
			want += 2 // and the shared area and the slot table of patched syscall sites
			if !contains(string(maps), fmt.Sprintf("%08x-%08x r--p ", trapTable, trapTable+trapTableSize)) {
				t.Errorf("trap stub maps lacks the read-only slot table at %#x:\n%s", trapTable, maps)
			}
		}
		if v := h.p.VDSO(); v != nil {
			// and the host's vDSO block, moved to where the platform shows it.
			want += len(v.Maps)
			for _, m := range v.Maps {
				if line := fmt.Sprintf("%x-%x ", m.Start, m.End); !contains(string(maps), line) || !contains(string(maps), m.Name) {
					t.Errorf("stub maps lacks %s at %s:\n%s", m.Name, line, maps)
				}
			}
		}
		if n := countLines(string(maps)) - strings.Count(string(maps), "[vsyscall]"); n != want {
			t.Errorf("stub maps has %d lines, want %d:\n%s", n, want, maps)
		}
	})
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func countLines(s string) int {
	n := 0
	for _, c := range s {
		if c == '\n' {
			n++
		}
	}
	return n
}

func BenchmarkSyscallRoundTrip(b *testing.B) {
	b.Run("ptrace", func(b *testing.B) { benchmarkSyscallRoundTrip(b, false) })
	b.Run("trap", func(b *testing.B) { benchmarkSyscallRoundTrip(b, true) })
	b.Run("trap-patched", benchmarkPatchedRoundTrip)
}

// benchmarkPatchedRoundTrip is a round trip through a patched site: no signal.
func benchmarkPatchedRoundTrip(b *testing.B) {
	h := newHarness(&testing.T{}, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	h.load(as, cat(movEaxSyscall(unix.SYS_GETPID), []byte{0xeb, 0xf7})) // 1: mov; syscall; jmp 1b
	code, _ := as.(platform.SyscallPatcher).PatchSyscall(codeAddr, platform.PatchMovEax, unix.SYS_GETPID)
	copy(h.mem[appCodeOff:], code)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := h.p.NewContext()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Release()
	regs := regsAt(codeAddr)
	c.Switch(as, regs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall || ev.Patchable {
			b.Fatal(ev, err)
		}
	}
}

func benchmarkSyscallRoundTrip(b *testing.B, trap bool) {
	h := newHarness(&testing.T{}, trap)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	h.load(as, cat(syscallInsn, []byte{0xeb, 0xfc})) // 1: syscall; jmp 1b
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := h.p.NewContext()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Release()
	regs := regsAt(codeAddr)
	c.Switch(as, regs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Switch(as, regs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewStub measures starting a stub: a fresh address space's first Switch.
func BenchmarkNewStub(b *testing.B) {
	for _, trap := range []bool{false, true} {
		name := "ptrace"
		if trap {
			name = "trap"
		}
		b.Run(name, func(b *testing.B) {
			h := newHarness(&testing.T{}, trap)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c, err := h.p.NewContext()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Release()
			for i := 0; i < b.N; i++ {
				as, _ := h.p.NewAddressSpace()
				h.load(as, syscallInsn)
				if _, err := c.Switch(as, regsAt(codeAddr)); err != nil {
					b.Fatal(err)
				}
				as.Release()
			}
		})
	}
}

func TestMapHostFile(t *testing.T) { forModes(t, testMapHostFile) }

// testMapHostFile maps a host memfd (not the memory file) into an address space: app code
// in one stub reads and writes it, the host sees the write, a stub started later (which
// rebuilds its mappings) sees it too, and the platform's duplicate of the FD goes once
// nothing maps the file.
func testMapHostFile(t *testing.T, h *harness) {
	fd, err := unix.MemfdCreate("host-shared", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Ftruncate(fd, 0x2000)
	unix.Pwrite(fd, binary.LittleEndian.AppendUint64(nil, 0xabcdef), 0x1000)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	const hostAddr = 0xa00000
	// mov rax, [hostAddr+0x1000] ; add rax, 1 ; mov [hostAddr+0x1008], rax ; syscall
	addr := le32(hostAddr + 0x1000)
	code := cat([]byte{0x48, 0x8b, 0x04, 0x25}, addr, []byte{0x48, 0x83, 0xc0, 0x01},
		[]byte{0x48, 0x89, 0x04, 0x25}, le32(hostAddr+0x1008), syscallInsn)
	h.load(as, code)
	before := openFDs(t)
	if err := as.MapHostFile(hostAddr, 0x2000, fd, 0, platform.ProtRead|platform.ProtWrite); err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 2; run++ { // two contexts: the second stub rebuilds from the mappings
		withContext(t, h.p, func(c platform.Context) {
			regs := regsAt(codeAddr)
			ev, err := c.Switch(as, regs)
			if err != nil || ev.Kind != platform.EventSyscall {
				t.Fatalf("Switch = %+v, %v", ev, err)
			}
			if regs.OrigRax != 0xabcdf0 {
				t.Fatalf("read through the host mapping: %#x, want 0xabcdf0", regs.OrigRax)
			}
		})
		got := make([]byte, 8)
		unix.Pread(fd, got, 0x1008)
		if v := binary.LittleEndian.Uint64(got); v != 0xabcdf0 {
			t.Fatalf("host memfd holds %#x after the app's store, want 0xabcdf0", v)
		}
	}
	if err := as.Unmap(hostAddr, 0x2000); err != nil {
		t.Fatal(err)
	}
	// The duplicate goes once the log no longer names it either: push it out.
	for i := 0; i < maxLog; i++ {
		as.Protect(codeAddr, 0x1000, platform.ProtRead|platform.ProtExec)
	}
	if h.p.shared {
		before++ // the address space's one stub's file socket, kept until its Release
	}
	if after := openFDs(t); after != before {
		t.Fatalf("open FDs: %d before the host mapping, %d after it is gone", before, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestHostFileSealedBeforeReplay(t *testing.T) { forModes(t, testHostFileSealedBeforeReplay) }

// testHostFileSealedBeforeReplay: a stub that is behind replays a writable mapping of a
// memfd that was unmapped and then sealed against writing; the host refuses that mapping
// now, and the stub rebuilds from the current mappings instead of failing.
func testHostFileSealedBeforeReplay(t *testing.T, h *harness) {
	fd, err := unix.MemfdCreate("sealed-later", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Ftruncate(fd, 0x1000)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	h.load(as, syscallInsn)
	withContext(t, h.p, func(c platform.Context) {
		if ev, err := c.Switch(as, regsAt(codeAddr)); err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("first Switch = %+v, %v", ev, err)
		}
		// Another thread changes the address space while this stub is not running.
		done := make(chan error)
		go func() {
			if err := as.MapHostFile(0xa00000, 0x1000, fd, 0, platform.ProtRead|platform.ProtWrite); err != nil {
				done <- err
				return
			}
			if err := as.Unmap(0xa00000, 0x1000); err != nil {
				done <- err
				return
			}
			_, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE)
			done <- err
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if ev, err := c.Switch(as, regsAt(codeAddr)); err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("Switch after the sealed file's mapping came and went = %+v, %v", ev, err)
		}
	})
}

func TestStubsFillOnDemand(t *testing.T) { forModes(t, testStubsFillOnDemand) }

// testStubsFillOnDemand: a stub maps only what its app code touches, and changes made from
// another thread reach the part it has mapped, also when a change covers it only in part.
func testStubsFillOnDemand(t *testing.T, h *harness) {
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	const data2, data2Off = dataAddr + 0x10000, 0x300000 // adjacent, not continuing data's offsets
	// mov qword [data], 1; syscall; mov rax, [data2]; syscall
	code := cat([]byte{0x48, 0xc7, 0x04, 0x25}, le32(dataAddr), le32(1), syscallInsn,
		[]byte{0x48, 0x8b, 0x04, 0x25}, le32(data2), syscallInsn)
	h.load(as, code)
	if err := as.MapFile(data2, 0x10000, data2Off, platform.ProtRead|platform.ProtWrite); err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint64(h.mem[data2Off:], 0xabcdef)
	elsewhere := func(f func() error) {
		done := make(chan error)
		go func() { done <- f() }() // another OS thread: the locked one runs only its goroutine
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	withContext(t, h.p, func(c platform.Context) {
		regs := regsAt(codeAddr)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("store: %+v %v", ev, err)
		}
		s := c.(*context).current()
		if s.thread != nil {
			s = s.thread.main // one present set for every thread
		}
		a := as.(*addressSpace)
		a.mu.Lock()
		present := append(mappings(nil), s.present...)
		a.mu.Unlock()
		if !present.covers(dataAddr, dataAddr+0x10000) || present.intersects(data2, data2+0x10000) {
			t.Fatalf("present after a store to data: %+v, want data and not data2", present)
		}
		// Read-only over data (mapped in the stub) and data2 (not), from another thread.
		elsewhere(func() error { return as.Protect(dataAddr, 0x20000, platform.ProtRead) })
		regs.Rip = codeAddr
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventFault || ev.Addr != dataAddr {
			t.Fatalf("store after another thread's mprotect: %+v %v", ev, err)
		}
		regs.Rip = codeAddr + 14
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != 0xabcdef {
			t.Fatalf("load from data2: %+v %v, rax %#x", ev, err, regs.OrigRax)
		}
		// Unmapped by another thread: the stub must not keep it.
		elsewhere(func() error { return as.Unmap(data2, 0x10000) })
		regs.Rip = codeAddr + 14
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventFault || ev.Addr != data2 {
			t.Fatalf("load after another thread's munmap: %+v %v", ev, err)
		}
	})
}
