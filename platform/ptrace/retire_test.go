package ptrace

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/sbx-dev/sbx/platform"
)

// TestRetireWaitsForOtherStubs: memory retired after a change made by one thread is
// released only once the other thread's stub, which still maps the old page, has caught up
// (it next runs app code), or its context is gone.
func TestRetireWaitsForOtherStubs(t *testing.T) { forModes(t, testRetireWaitsForOtherStubs) }

func testRetireWaitsForOtherStubs(t *testing.T, h *harness) {
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	h.load(as, cat(syscallInsn, syscallInsn, syscallInsn))
	ran, next, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c, err := h.p.NewContext()
		if err != nil {
			t.Error(err)
			close(ran)
			return
		}
		defer c.Release()
		regs := regsAt(codeAddr)
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Errorf("first Switch = %+v, %v", ev, err)
		}
		close(ran)
		<-next
		if ev, err := c.Switch(as, regs); err != nil || ev.Kind != platform.EventSyscall {
			t.Errorf("second Switch = %+v, %v", ev, err)
		}
		<-next
	}()
	<-ran
	// This thread replaces the code page the other stub maps (as a patch does).
	if err := as.MapFile(codeAddr, 0x1000, appCodeOff, platform.ProtRead|platform.ProtExec); err != nil {
		t.Fatal(err)
	}
	var released atomic.Int32
	as.(platform.Retirer).Retire(func() { released.Add(1) })
	if h.p.shared {
		// One stub, one host mm: the change was applied before MapFile returned, so the
		// old page goes at once.
		if n := released.Load(); n != 1 {
			t.Fatalf("released %d times with a shared stub; want 1 at once", n)
		}
		released.Store(0)
	} else if n := released.Load(); n != 0 {
		t.Fatalf("released %d times while another stub had not caught up", n)
	}
	next <- struct{}{}
	next <- struct{}{} // the second Switch returned: its stub caught up before it ran
	if n := released.Load(); n != 1 && !h.p.shared {
		t.Fatalf("released %d times after every stub caught up; want 1", n)
	}
	<-done
	as.(platform.Retirer).Retire(func() { released.Add(1) })
	if h.p.shared {
		released.Add(1)
	}
	if n := released.Load(); n != 2 {
		t.Fatalf("released %d times with no other stub; want 2", n)
	}
}
