package ptrace

import (
	"runtime"
	"testing"

	"github.com/sbx-dev/sbx/platform"
)

// TestChangesWaitForRunningStubs: a change that replaces or removes a range another
// thread's stub has mapped returns only once that stub has stopped running app code with
// the old mapping (Linux's TLB shoot-down completes before munmap, mprotect or a
// copy-on-write fault returns): a thread that has seen the change happen (the writer's
// next store, a flag it sets) must not read the old pages afterwards. The other thread
// spins on a load of the range with no syscall that would make it catch up.
func TestChangesWaitForRunningStubs(t *testing.T) { forModes(t, testChangesWaitForRunningStubs) }

func testChangesWaitForRunningStubs(t *testing.T, h *harness) {
	as, _ := h.p.NewAddressSpace()
	defer as.Release()
	// loop: mov rax, [data]; jmp loop
	h.load(as, cat([]byte{0x48, 0x8b, 0x04, 0x25}, le32(dataAddr), []byte{0xeb, 0xf6}))
	a := as.(*addressSpace)
	started := make(chan *context)
	done := make(chan platform.Event)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c, err := h.p.NewContext()
		if err != nil {
			t.Error(err)
			close(started)
			return
		}
		defer c.Release()
		started <- c.(*context)
		ev, err := c.Switch(as, regsAt(codeAddr))
		if err != nil {
			t.Error(err)
		}
		done <- ev
	}()
	c := <-started
	if c == nil {
		return
	}
	finished := false
	defer func() {
		if !finished { // a failure: end the other thread's loop
			c.Interrupt()
			<-done
		}
	}()
	// Wait until the other thread runs its loop with the data page mapped. (A shared
	// address space has one stub, its mapper's, whose present set is the threads'.)
	for {
		a.mu.Lock()
		ready := false
		for st := range a.stubs {
			ready = ready || st.present.covers(dataAddr, dataAddr+0x1000)
		}
		a.mu.Unlock()
		if ready && c.running.Load() != 0 {
			break
		}
		runtime.Gosched()
	}
	// stale reports whether the other thread may still run app code on a mapping older
	// than the change numbered seq. Threads of a shared stub have no mapping of their own:
	// the mapper changes the one host mm before the change returns, so they never are;
	// the fault after the Unmap below checks that for them.
	stale := func(seq uint64) bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		for s := range a.stubs {
			if c.running.Load() == s.runningTag() && s.appliedA.Load() < seq {
				return true
			}
		}
		return false
	}
	const rounds = 50
	for i := range rounds {
		// A copy-on-write break: the page is replaced by another range of the file.
		off := int64(dataOff + 0x1000*(1+i%2))
		if err := as.MapFile(dataAddr, 0x1000, off, platform.ProtRead|platform.ProtWrite); err != nil {
			t.Fatal(err)
		}
		if stale(a.seqA.Load()) {
			t.Fatalf("round %d: MapFile returned while another thread still ran on the replaced page", i)
		}
		// Taking write access away waits too; giving it back need not.
		if err := as.Protect(dataAddr, 0x1000, platform.ProtRead); err != nil {
			t.Fatal(err)
		}
		if stale(a.seqA.Load()) {
			t.Fatalf("round %d: Protect returned while another thread still ran with write access", i)
		}
		if err := as.Protect(dataAddr, 0x1000, platform.ProtRead|platform.ProtWrite); err != nil {
			t.Fatal(err)
		}
	}
	if err := as.Unmap(dataAddr, 0x1000); err != nil {
		t.Fatal(err)
	}
	if stale(a.seqA.Load()) {
		t.Fatal("Unmap returned while another thread still ran with the page mapped")
	}
	finished = true
	if ev := <-done; ev.Kind != platform.EventFault || ev.Addr != dataAddr {
		t.Fatalf("load after another thread's munmap: %+v", ev)
	}
}
