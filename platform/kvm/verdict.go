package kvm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// Whether `auto` picks kvm is decided by timing, once per kernel and CPU model, and the
// verdict is cached ($XDG_CACHE_HOME/sbx/kvm-verdict.json, else ~/.cache/sbx/...):
//
//   - kvm's cost is measured: a guest ring-3 SYSCALL that exits to the host and is
//     resumed, the whole of a kvm syscall round trip but the kernel's own work;
//   - trap's cost is bounded from below: a signal delivered to a thread of this process and
//     returned from (tgkill of SIGURG to the calling thread: delivery, a handler, and
//     rt_sigreturn), which each trap round trip pays for its SIGSYS, before its two
//     hand-offs between threads.
//
// kvm is picked only when its round trip costs less than that bound, so only when it beats
// trap. On this project's CI host (PVM, no VT-x) it costs ~100 µs against ~3 µs; on VT-x
// the published figures put one exit under 1 µs.

// Verdict is the outcome of the timing probe.
type Verdict struct {
	// Key names the host the verdict holds for: kernel release and CPU model.
	Key string `json:"key"`
	// KVM is kvm's measured syscall round trip, TrapFloor the bound on trap's.
	KVM       time.Duration `json:"kvm_ns"`
	TrapFloor time.Duration `json:"trap_floor_ns"`
	// Faster says whether kvm beat the bound.
	Faster bool `json:"faster"`
}

func (v Verdict) String() string {
	rel := "slower"
	if v.Faster {
		rel = "faster"
	}
	return fmt.Sprintf("a syscall round trip measured %.1f µs here, %s than trap's floor of %.1f µs (one signal delivery)",
		float64(v.KVM)/1e3, rel, float64(v.TrapFloor)/1e3)
}

// autoCheck is kvm's platform.Constructor.AutoCheck: nil when auto should pick kvm.
func autoCheck() error {
	v, cached, err := CachedVerdict()
	if err != nil {
		return err
	}
	from := "measured now"
	if cached != "" {
		from = "cached in " + cached
	}
	if !v.Faster {
		return fmt.Errorf("not picked: %s (%s; --platform kvm runs it anyway)", v, from)
	}
	// A cached verdict says nothing about /dev/kvm being usable now.
	if cached != "" {
		if err := Probe(); err != nil {
			return err
		}
	}
	return nil
}

// CachedVerdict returns the verdict for this host: from the cache when it holds one for
// the same kernel and CPU (cached names the file), else measured now (and cached where
// possible). It fails when kvm cannot run here.
func CachedVerdict() (v Verdict, cached string, err error) {
	key := hostKey()
	path := verdictPath()
	if path != "" {
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &v) == nil && v.Key == key && v.KVM > 0 {
			return v, path, nil
		}
	}
	v, err = Measure()
	if err != nil {
		return Verdict{}, "", err
	}
	v.Key = key
	if path != "" {
		if os.MkdirAll(filepath.Dir(path), 0o700) == nil {
			if b, err := json.Marshal(v); err == nil {
				tmp := path + fmt.Sprintf(".%d", os.Getpid())
				if os.WriteFile(tmp, append(b, '\n'), 0o600) == nil {
					os.Rename(tmp, path)
				}
			}
		}
	}
	return v, "", nil
}

// verdictPath is the cache file ("" when the user has no cache directory).
func verdictPath() string {
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home := os.Getenv("HOME")
		if home == "" || !filepath.IsAbs(home) {
			return ""
		}
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "sbx", "kvm-verdict.json")
}

// hostKey names the kernel release and the CPU model.
func hostKey() string {
	var u unix.Utsname
	release := ""
	if unix.Uname(&u) == nil {
		release = unix.ByteSliceToString(u.Release[:])
	}
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, val, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(val)
				break
			}
		}
		f.Close()
	}
	return release + " | " + model
}

// Measure times kvm's syscall round trip and trap's floor (medians of short runs).
func Measure() (Verdict, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	kvm, err := measureKVM(64)
	if err != nil {
		return Verdict{}, err
	}
	floor := measureSignal(256)
	return Verdict{KVM: kvm, TrapFloor: floor, Faster: kvm < floor}, nil
}

// measureKVM runs `syscall; jmp back` in guest ring 3 and returns the median round trip.
// Preconditions: the caller is locked to its OS thread.
func measureKVM(n int) (time.Duration, error) {
	m, err := newMachine(nil)
	if err != nil {
		return 0, err
	}
	defer m.close()
	code := []byte{
		0xb8, 0x27, 0x00, 0x00, 0x00, // mov $39, %eax
		0x0f, 0x05, // syscall
		0xeb, 0xf7, // jmp back to the mov
	}
	root := m.newTopTable()
	page := m.allocPage()
	copy(m.page(page), code)
	stack := m.allocPage()
	if err := m.mapPage(root, 0x400000, page, ptePresent|pteUser); err != nil {
		return 0, err
	}
	if err := m.mapPage(root, 0x500000, stack, ptePresent|pteUser|pteWrite|pteNX); err != nil {
		return 0, err
	}
	v, err := m.newVCPU()
	if err != nil {
		return 0, err
	}
	defer v.release()
	if err := v.setCR3(root); err != nil {
		return 0, err
	}
	regs := platform.Registers{Rip: 0x400000, Rsp: 0x501000, Eflags: 0x202}
	times := make([]time.Duration, 0, n)
	interrupted := 0
	for i := 0; i < n+4; i++ {
		start := time.Now()
		e, err := v.enter(&regs, nil, false)
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if e.intr && interrupted < 1000 {
			// A signal to this thread (the Go runtime's preemption, a kick) stopped the
			// guest before its syscall: that round trip is not one to time.
			interrupted++
			i--
			continue
		}
		if !e.syscall {
			return 0, fmt.Errorf("timing probe: the guest exited without a syscall (vector %d)", e.vector)
		}
		if i >= 4 { // the first entries fault the pages in
			times = append(times, d)
		}
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// measureSignal returns the median cost of a signal sent to and handled on the calling
// thread (SIGURG, which the Go runtime handles and otherwise ignores).
// Preconditions: the caller is locked to its OS thread.
func measureSignal(n int) time.Duration {
	pid, tid := unix.Getpid(), unix.Gettid()
	times := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		unix.Tgkill(pid, tid, unix.SIGURG)
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[len(times)/2]
}
