package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/platform/kvm"
	"golang.org/x/sys/unix"
)

// TestStubExecutesNoAppSyscalls watches the host's raw_syscalls:sys_enter tracepoint for
// processes named sbx-stub while a sandboxed cat runs: the only host syscalls a stub may
// make are the platform's own address-space calls and its prologue.
func TestStubExecutesNoAppSyscalls(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("reading host tracepoints needs root")
	}
	const tr = "/sys/kernel/tracing"
	if _, err := os.Stat(tr + "/events/raw_syscalls"); err != nil {
		if err := unix.Mount("nodev", tr, "tracefs", 0, ""); err != nil {
			t.Skipf("tracefs is not available: %v", err)
		}
	}
	write := func(file, v string) {
		if err := os.WriteFile(tr+"/"+file, []byte(v), 0o644); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	write("tracing_on", "0")
	write("trace", "")
	write("events/raw_syscalls/sys_enter/filter", `comm == "sbx-stub"`)
	write("events/raw_syscalls/sys_enter/enable", "1")
	defer func() {
		write("tracing_on", "0")
		write("events/raw_syscalls/sys_enter/enable", "0")
		write("events/raw_syscalls/sys_enter/filter", "0")
	}()
	// The stubs' own calls: address-space calls (mmap, mprotect, munmap), their start-up
	// (prctl, seccomp, close_range; mremap of the host's vDSO, checked below) and
	// exit_group; trap stubs' start-up also installs handlers (rt_sigaction,
	// rt_sigprocmask), starts the app thread (clone, sigaltstack),
	// and the handler waits and wakes (futex), returns (rt_sigreturn) and sets the FS base
	// (arch_prctl). The app's own calls (cat's openat, read, write, ...) must not appear.
	common := []string{"9", "10", "11", "157", "317", "436", "231"}
	trapExtra := []string{"13", "14", "56", "131", "202", "15", "158"}
	for _, tc := range []struct {
		platform string
	}{{"ptrace"}, {"trap"}} {
		t.Run(tc.platform, func(t *testing.T) {
			// Tracepoints are host-wide: stubs of tests running at the same time in other
			// packages (on either platform) are traced too, so each run accepts every stub's
			// own calls. The app's calls are none of them.
			allowed := map[string]bool{}
			for _, nr := range append(common, trapExtra...) {
				allowed[nr] = true
			}
			checkStubSyscalls(t, write, tc.platform, allowed)
		})
	}
}

// TestKVMExecutesNoAppSyscalls checks, on the kvm platform, that the app's system calls
// never run on the host: glibc's start-up calls (brk, set_tid_address, set_robust_list,
// rseq), which no Go process makes, must not appear in the sbx processes while a sandboxed
// cat runs; the same filter on a native cat shows the tracepoint sees them.
func TestKVMExecutesNoAppSyscalls(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("reading host tracepoints needs root")
	}
	if err := kvm.Probe(); err != nil {
		t.Skipf("skipping: the kvm platform cannot run here: %v", err)
	}
	const tr = "/sys/kernel/tracing"
	if _, err := os.Stat(tr + "/events/raw_syscalls"); err != nil {
		if err := unix.Mount("nodev", tr, "tracefs", 0, ""); err != nil {
			t.Skipf("tracefs is not available: %v", err)
		}
	}
	write := func(file, v string) {
		if err := os.WriteFile(tr+"/"+file, []byte(v), 0o644); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	const glibc = "(id == 12 || id == 218 || id == 273 || id == 334)"
	count := func(comm string, run func()) int {
		write("tracing_on", "0")
		write("trace", "")
		write("events/raw_syscalls/sys_enter/filter", `comm == "`+comm+`" && `+glibc)
		write("events/raw_syscalls/sys_enter/enable", "1")
		defer func() {
			write("tracing_on", "0")
			write("events/raw_syscalls/sys_enter/enable", "0")
			write("events/raw_syscalls/sys_enter/filter", "0")
		}()
		write("tracing_on", "1")
		run()
		write("tracing_on", "0")
		trace, err := os.ReadFile(tr + "/trace")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(string(trace), "\n") {
			if strings.Contains(line, "NR ") {
				n++
				t.Logf("%s: %s", comm, line)
			}
		}
		return n
	}
	if n := count("cat", func() { exec.Command("cat", "/etc/hostname").Run() }); n == 0 {
		t.Fatal("a native cat's start-up syscalls were not traced: the filter or the tracepoint does not work here")
	}
	bin := sbxtest.Binary(t)
	if n := count(filepath.Base(bin), func() {
		res := sbxtest.Run(t, sbxtest.Users()[0], "", "", bin, "run", "--platform", "kvm", "--", "/bin/cat", "/etc/hostname")
		if host, _ := exec.Command("cat", "/etc/hostname").Output(); res.Stdout != string(host) {
			t.Errorf("sandboxed cat printed %q, want %q (%s)", res.Stdout, host, res.Stderr)
		}
	}); n != 0 {
		t.Errorf("%d of the app's start-up syscalls ran on the host", n)
	}
}

// vdsoTarget says whether hex address a is in the range the platform places the vDSO in.
func vdsoTarget(a string) bool {
	v, err := strconv.ParseUint(a, 16, 64)
	return err == nil && v >= 0x7ff000200000 && v < 0x7ff000200000+1<<32+1<<20
}

func checkStubSyscalls(t *testing.T, write func(file, v string), platform string, allowed map[string]bool) {
	const tr = "/sys/kernel/tracing"
	write("trace", "")
	write("tracing_on", "1")
	res := sbxtest.Run(t, sbxtest.Users()[0], "", "", sbxtest.Binary(t), "run", "--platform", platform, "--", "/bin/cat", "/etc/hostname")
	write("tracing_on", "0")
	host, _ := exec.Command("cat", "/etc/hostname").Output()
	if res.Stdout != string(host) {
		t.Fatalf("sandboxed cat printed %q, want %q (%s)", res.Stdout, host, res.Stderr)
	}
	trace, err := os.ReadFile(tr + "/trace")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	// A stub mapping a host file of its own (MapHostFile: other packages' tests run such
	// stubs at the same time) receives it on its socket, FD 1, into its scratch page above
	// the app's addresses, then closes the FD it got (2). Those two are allowed only in
	// that shape: close(2) only from a stub that received a file.
	received := map[string]bool{}
	for _, line := range strings.Split(string(trace), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "NR" {
				continue
			}
			seen++
			nr, args := f[i+1], f[i+2:]
			arg := func(n int) string {
				if n >= len(args) {
					return ""
				}
				return strings.Trim(args[n], "(),")
			}
			switch {
			case allowed[nr]:
			case nr == "47" && arg(0) == "1" && strings.HasPrefix(arg(1), "7ff0000"):
				received[f[0]] = true
			case nr == "3" && arg(0) == "2" && received[f[0]]:
			case nr == "25" && arg(1) == arg(2) && arg(3) == "3" && vdsoTarget(arg(4)):
				// A new stub moving the host's vDSO block, unresized, to where the
				// platform shows it (platform/ptrace/vdso.go).
			default:
				t.Errorf("a stub executed host syscall %s:\n%s", nr, line)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no stub syscalls traced at all: the filter or the tracepoint does not work here")
	}
}
