package kvm

import (
	"encoding/json"
	"os"
	"runtime"
	"testing"

	"github.com/sbx-dev/sbx/platform"
)

// needKVM skips the test where /dev/kvm is absent or unusable for this user.
func needKVM(t *testing.T) {
	t.Helper()
	if err := Probe(); err != nil {
		t.Skipf("skipping: KVM platform unavailable here: %v", err)
	}
}

// TestMinimalVM runs a few ring-3 instructions from a private page: two syscalls (checking
// the registers the host sees and the result it writes back) and a page fault.
func TestMinimalVM(t *testing.T) {
	needKVM(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, err := newMachine(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	code := []byte{
		0x48, 0xc7, 0xc7, 0x34, 0x12, 0x00, 0x00, // mov $0x1234, %rdi
		0xb8, 0x27, 0x00, 0x00, 0x00, // mov $39, %eax
		0x0f, 0x05, // syscall
		0x48, 0x89, 0xc6, // mov %rax, %rsi
		0xb8, 0x3c, 0x00, 0x00, 0x00, // mov $60, %eax
		0x0f, 0x05, // syscall
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00, // mov 0, %rax
	}
	userCR3 := m.newTopTable()
	codePage := m.allocPage()
	copy(m.page(codePage), code)
	stack := m.allocPage()
	m.mapPage(userCR3, 0x400000, codePage, ptePresent|pteUser)
	m.mapPage(userCR3, 0x500000, stack, ptePresent|pteUser|pteWrite|pteNX)
	v, err := m.newVCPU()
	if err != nil {
		t.Fatal(err)
	}
	defer v.release()
	if err := v.setCR3(userCR3); err != nil {
		t.Fatal(err)
	}
	regs := platform.Registers{Rip: 0x400000, Rsp: 0x501000, Eflags: 0x202, Rbx: 0xb0b, R15: 0xf15}
	e, err := enterPastSignals(v, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if !e.syscall || regs.Rax != 39 || regs.Rdi != 0x1234 || regs.Rip != 0x400000+14 || regs.Rcx != regs.Rip || regs.R11 != regs.Eflags || regs.Rbx != 0xb0b || regs.R15 != 0xf15 || regs.Rsp != 0x501000 {
		t.Fatalf("first syscall: exit %+v regs %+v", e, regs)
	}
	regs.Rax = 777
	if e, err = enterPastSignals(v, &regs); err != nil {
		t.Fatal(err)
	}
	if !e.syscall || regs.Rax != 60 || regs.Rsi != 777 || regs.Rip != 0x400000+24 {
		t.Fatalf("second syscall: exit %+v regs %+v", e, regs)
	}
	if e, err = enterPastSignals(v, &regs); err != nil {
		t.Fatal(err)
	}
	if e.syscall || e.intr || e.vector != 14 || e.cr2 != 0 || regs.Rip != 0x400000+24 || e.errc&4 == 0 {
		t.Fatalf("page fault: exit %+v regs %+v", e, regs)
	}
}

// enterPastSignals enters the guest until it exits for a reason of its own: a signal to
// this thread (the Go runtime preempts a goroutine that has run 10 ms, which a loaded
// machine's guest entry can take) makes KVM_RUN return before the guest got anywhere, and
// the platform enters again then too.
func enterPastSignals(v *vcpu, regs *platform.Registers) (exit, error) {
	for i := 0; ; i++ {
		e, err := v.enter(regs, nil, false)
		if err != nil || !e.intr || i == 1000 {
			return e, err
		}
	}
}

// BenchmarkSyscallRoundTrip measures one app syscall exit and re-entry on this vCPU.
func BenchmarkSyscallRoundTrip(b *testing.B) {
	if err := Probe(); err != nil {
		b.Skipf("skipping: KVM platform unavailable here: %v", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, err := newMachine(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.close()
	cr3 := m.newTopTable()
	page := m.allocPage()
	copy(m.page(page), []byte{0x0f, 0x05, 0xeb, 0xfc}) // 1: syscall; jmp 1b
	m.mapPage(cr3, 0x400000, page, ptePresent|pteUser)
	v, err := m.newVCPU()
	if err != nil {
		b.Fatal(err)
	}
	defer v.release()
	v.setCR3(cr3)
	regs := platform.Registers{Rip: 0x400000, Rsp: 0x501000, Eflags: 0x202}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := v.enter(&regs, nil, false)
		if err != nil || !(e.syscall || e.intr) {
			b.Fatal(e, err)
		}
	}
}

// TestVerdictCached: the timing verdict is measured once per kernel and CPU model and
// then read from the user's cache; a verdict for another host is measured again.
func TestVerdictCached(t *testing.T) {
	needKVM(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	v, cached, err := CachedVerdict()
	if err != nil || cached != "" || v.KVM <= 0 || v.TrapFloor <= 0 || v.Faster != (v.KVM < v.TrapFloor) {
		t.Fatalf("first CachedVerdict = %+v, cached %q, %v; want a fresh measurement", v, cached, err)
	}
	again, cached, err := CachedVerdict()
	if err != nil || cached != verdictPath() || again != v {
		t.Fatalf("second CachedVerdict = %+v, cached %q, %v; want %+v from %s", again, cached, err, v, verdictPath())
	}
	other := v
	other.Key = "another kernel | another CPU"
	other.KVM, other.Faster = 1, true
	b, _ := json.Marshal(other)
	if err := os.WriteFile(verdictPath(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, cached, err := CachedVerdict()
	if err != nil || cached != "" || fresh.Key != hostKey() || fresh.KVM == 1 {
		t.Fatalf("CachedVerdict over another host's verdict = %+v, cached %q, %v; want a fresh measurement", fresh, cached, err)
	}
}
