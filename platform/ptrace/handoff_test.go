package ptrace

import (
	"runtime"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// trapStubOf runs f on a locked thread with a trap context whose stub for as has made its
// first hand-off (the app at regs' rip).
func trapStubOf(t *testing.T, h *harness, as platform.AddressSpace, regs *platform.Registers, f func(c *context, s *stubProc)) {
	withContext(t, h.p, func(pc platform.Context) {
		c := pc.(*context)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Fatalf("first Switch = %+v, %v", ev, err)
		}
		f(c, c.stubs[as.(*addressSpace)])
	})
}

// TestTrapHostileControlWords: an app that rewrites the hand-off's control words before every
// syscall (an endless poll count for its handler, "the stub is not sleeping", "the kernel
// sleeps") gets its syscalls handled as any other, shared or split, and a loop that never
// hands off is still interrupted: nothing it writes makes the kernel wait for it.
func TestTrapHostileControlWords(t *testing.T) {
	h := newHarness(t, true)
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// 1: movabs $CTRL, %rax; movl $-1, C_SPIN(%rax); movl $0, C_STUBSLEEP(%rax);
	//    movl $1, C_KSLEEP(%rax); mov $39, %eax; syscall; jmp 1b
	// codeAddr+0x80: jmp .
	code := []byte{0x48, 0xb8, 0x00, 0x00, 0x10, 0x00, 0xf0, 0x7f, 0x00, 0x00, 0xc7, 0x40, cSpin, 0xff, 0xff, 0xff, 0xff,
		0xc7, 0x40, cStubSleep, 0x00, 0x00, 0x00, 0x00, 0xc7, 0x40, cKSleep, 0x01, 0x00, 0x00, 0x00,
		0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xd8}
	code = append(code, make([]byte, 0x80-len(code))...)
	code = append(code, 0xeb, 0xfe)
	h.load(as, code)
	regs := regsAt(codeAddr)
	trapStubOf(t, h, as, regs, func(c *context, s *stubProc) {
		for _, split := range []bool{false, true} {
			// The policy stays out of the way: the test sets the mode.
			h.p.cooling.until.Store(time.Now().Add(time.Hour).UnixNano())
			s.setSplit(split)
			t.Logf("split %v: app thread split %v (cpu %d of %d)", split, s.trap.ho.split, c.cpu, c.p.ncpu)
			for i := range 50 {
				ev, err := c.Switch(as, regs)
				if err != nil || ev.Kind != platform.EventSyscall || regs.OrigRax != unix.SYS_GETPID {
					t.Fatalf("split %v, round %d: Switch = %+v, %v (nr %d); want getpid", split, i, ev, err, regs.OrigRax)
				}
				s.trap.ho.misses = 0 // keep the mode
			}
			loop := *regs
			loop.Rip = codeAddr + 0x80
			go func() {
				time.Sleep(20 * time.Millisecond)
				c.Interrupt()
			}()
			if ev, err := c.Switch(as, &loop); err != nil || ev.Kind != platform.EventInterrupted {
				t.Fatalf("split %v: Switch of a loop = %+v, %v; want interrupted", split, ev, err)
			}
		}
	})
}

// TestTrapSplitBacksOff: an app thread moved to a CPU of its own goes back to its context's
// CPU when it computes between syscalls (the kernel's polls run out), and one that computes
// is never moved.
func TestTrapSplitBacksOff(t *testing.T) {
	h := newHarness(t, true)
	h.p.autoSplit = true // the policy's own choice is under test
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// 1: mov $1000000, %ecx; 2: dec %ecx; jnz 2b; mov $39, %eax; syscall; jmp 1b
	h.load(as, []byte{0xb9, 0x40, 0x42, 0x0f, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xee})
	regs := regsAt(codeAddr)
	trapStubOf(t, h, as, regs, func(c *context, s *stubProc) {
		s.setSplit(true)
		if s.trap.ho.never {
			t.Logf("the app thread cannot be moved here (cpu %d of %d): checking it stays shared", c.cpu, c.p.ncpu)
		}
		for i := range 3 * sampleRounds {
			if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
				t.Fatalf("round %d: Switch = %+v, %v", i, ev, err)
			}
		}
		if s.trap.ho.split {
			t.Fatalf("the app thread stayed split while computing between syscalls (period %v, misses %d)",
				time.Duration(s.trap.ho.period), s.trap.ho.misses)
		}
		var set unix.CPUSet
		if c.cpu >= 0 && unix.SchedGetaffinity(s.trap.appTid, &set) == nil && (set.Count() != 1 || !set.IsSet(c.cpu)) {
			t.Fatalf("the app thread's CPUs are %v; want its context's CPU %d only", set, c.cpu)
		}
		h.p.cooling.until.Store(0) // no cool-down: only the period keeps it shared
		for i := range 3 * sampleRounds {
			if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
				t.Fatalf("round %d: Switch = %+v, %v", i, ev, err)
			}
			if s.trap.ho.split {
				t.Fatalf("round %d: an app computing between syscalls (period %v) was split", i, time.Duration(s.trap.ho.period))
			}
		}
	})
}

// BenchmarkTrapHandoff is a trapped getpid round trip with the hand-off as the policy
// chooses it (autoSplit on), held shared, and held split (misses forgiven): what each mode
// costs on this machine as loaded now.
func BenchmarkTrapHandoff(b *testing.B) {
	for _, mode := range []string{"policy", "shared", "split"} {
		b.Run(mode, func(b *testing.B) {
			h := newHarness(&testing.T{}, true)
			h.p.autoSplit = mode == "policy"
			as, _ := h.p.NewAddressSpace()
			defer as.Release()
			h.load(as, cat(syscallInsn, []byte{0xeb, 0xfc})) // 1: syscall; jmp 1b
			regs := regsAt(codeAddr)
			trapStubOf(&testing.T{}, h, as, regs, func(c *context, s *stubProc) {
				if mode != "policy" {
					h.p.cooling.until.Store(time.Now().Add(time.Hour).UnixNano())
					s.setSplit(mode == "split")
				}
				b.ResetTimer()
				for range b.N {
					if _, err := c.Switch(as, regs); err != nil {
						b.Fatal(err)
					}
					if mode == "split" {
						s.trap.ho.misses = 0
						if !s.trap.ho.split && !s.trap.ho.never {
							s.setSplit(true) // the period rule let go
						}
					}
				}
				b.StopTimer()
				if mode == "split" && !s.trap.ho.split {
					b.Logf("could not hold the app thread split (cpu %d of %d)", c.cpu, c.p.ncpu)
				}
			})
		})
	}
}

// TestReleaseUnpinsThread: a context pins its thread to one CPU; once released, the thread
// (which the Go runtime goes on using) may run on every CPU the platform could.
func TestReleaseUnpinsThread(t *testing.T) {
	forModes(t, func(t *testing.T, h *harness) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c, err := h.p.NewContext()
			if err != nil {
				t.Error(err)
				return
			}
			var pinned, after unix.CPUSet
			unix.SchedGetaffinity(0, &pinned)
			c.Release()
			if err := unix.SchedGetaffinity(0, &after); err != nil {
				t.Error(err)
				return
			}
			if h.p.ncpu > 1 && c.(*context).cpu >= 0 && pinned.Count() != 1 {
				t.Errorf("a context's thread runs on %d CPUs; want 1", pinned.Count())
			}
			if after != h.p.cpus {
				t.Errorf("a released context's thread runs on CPUs %v; want the platform's %v", after, h.p.cpus)
			}
		}()
		<-done
	})
}
