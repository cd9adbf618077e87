package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/platform/kvm"
	"golang.org/x/sys/unix"
)

// TestStubExecutesNoAppSyscalls watches the host's raw_syscalls:sys_enter tracepoint for
// the processes named sbx-stub of one sandbox while it runs cat: the only host syscalls a
// stub may make are the platform's own address-space calls and its prologue.
func TestStubExecutesNoAppSyscalls(t *testing.T) {
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
		extra    []string
	}{{"ptrace", nil}, {"trap", trapExtra}} {
		t.Run(tc.platform, func(t *testing.T) {
			// Only this sandbox's stubs are traced (traceTree), so each platform allows
			// its own stubs' calls alone.
			allowed := map[string]bool{}
			for _, nr := range append(common, tc.extra...) {
				allowed[nr] = true
			}
			checkStubSyscalls(t, tc.platform, allowed)
		})
	}
}

// TestKVMExecutesNoAppSyscalls checks, on the kvm platform, that the app's system calls
// never run on the host: glibc's start-up calls (brk, set_tid_address, set_robust_list,
// rseq), which no Go process makes, must not appear in the sandbox's sbx processes while a
// sandboxed cat runs; the same filter on a native cat shows the tracepoint sees them.
func TestKVMExecutesNoAppSyscalls(t *testing.T) {
	if err := kvm.Probe(); err != nil {
		t.Skipf("skipping: the kvm platform cannot run here: %v", err)
	}
	const glibc = "(id == 12 || id == 218 || id == 273 || id == 334)"
	count := func(comm string, argv ...string) (int, sbxtest.Result) {
		trace, res := traceTree(t, `comm == "`+comm+`" && `+glibc, argv...)
		n := 0
		for _, line := range strings.Split(trace, "\n") {
			if strings.Contains(line, "NR ") {
				n++
				t.Logf("%s: %s", comm, line)
			}
		}
		return n, res
	}
	if n, _ := count("cat", "cat", "/etc/hostname"); n == 0 {
		t.Fatal("a native cat's start-up syscalls were not traced: the filter or the tracepoint does not work here")
	}
	bin := sbxtest.Binary(t)
	n, res := count(filepath.Base(bin), bin, "run", "--platform", "kvm", "--", "/bin/cat", "/etc/hostname")
	if host, _ := exec.Command("cat", "/etc/hostname").Output(); res.Stdout != string(host) {
		t.Errorf("sandboxed cat printed %q, want %q (%s)", res.Stdout, host, res.Stderr)
	}
	if n != 0 {
		t.Errorf("%d of the app's start-up syscalls ran on the host", n)
	}
}

// traceTree runs argv (as root) while a private tracefs instance records the
// raw_syscalls:sys_enter events matching filter of argv's process and its descendants
// alone, and returns the trace. Tracepoints are host-wide, and other tests run sandboxes
// (processes named sbx and sbx-stub too) at the same time: the instance follows only the
// PID tree (set_event_pid with event-fork, which adds each child a traced task forks, its
// threads included), and its own buffer and filter leave other tests' tracing alone. argv
// starts behind a gate, a shell waiting for a line on its stdin, so that its PID is in
// set_event_pid before it runs.
func traceTree(t *testing.T, filter string, argv ...string) (string, sbxtest.Result) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("reading host tracepoints needs root")
	}
	const tr = "/sys/kernel/tracing"
	if _, err := os.Stat(tr + "/instances"); err != nil {
		if err := unix.Mount("nodev", tr, "tracefs", 0, ""); err != nil {
			t.Skipf("tracefs is not available: %v", err)
		}
	}
	inst := filepath.Join(tr, "instances", fmt.Sprintf("sbx-tree-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(inst, 0o755); err != nil {
		t.Skipf("no tracefs instances here: %v", err)
	}
	write := func(file, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(inst, file), []byte(v), 0o644); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	defer func() {
		os.WriteFile(filepath.Join(inst, "tracing_on"), []byte("0"), 0o644)
		os.WriteFile(filepath.Join(inst, "events/raw_syscalls/sys_enter/enable"), []byte("0"), 0o644)
		os.Remove(inst)
	}()
	write("tracing_on", "0")
	write("options/event-fork", "1")
	write("events/raw_syscalls/sys_enter/filter", filter)
	write("tracing_on", "1") // no event is enabled yet: only the gate's marker is recorded

	ctx, cancel := context.WithTimeout(context.Background(), sbxtest.Timeout)
	defer cancel()
	// The gate first writes a marker naming itself into the instance's buffer: tracefs
	// records the writer's PID as the host sees it, which is what set_event_pid takes. The
	// test may run in a PID namespace of its own (CI runs under unshare -p), where
	// cmd.Process.Pid is a different number.
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", `echo "sbx-gate-$$" >"$SBX_TRACE_MARKER" && read _ && exec "$@"`, "sh"}, argv...)...)
	cmd.Env = append(os.Environ(), "SBX_TRACE_MARKER="+filepath.Join(inst, "trace_marker"))
	cmd.Dir = "/"
	cmd.WaitDelay = time.Second
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	gate, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hostPID, err := gatePID(inst, cmd.Process.Pid)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("finding the traced shell's host PID: %v (stderr: %s)", err, errb.String())
	}
	write("set_event_pid", strconv.Itoa(hostPID))
	write("events/raw_syscalls/sys_enter/enable", "1")
	gate.Write([]byte("go\n"))
	gate.Close()
	err = cmd.Wait()
	write("tracing_on", "0")
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish within %v; stderr so far:\n%s", argv, sbxtest.Timeout, errb.String())
	}
	res := sbxtest.Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", argv, err)
	}
	trace, err := os.ReadFile(filepath.Join(inst, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	return string(trace), res
}

// gatePID waits for the marker traceTree's gate shell (pid in this PID namespace) writes
// into the instance inst, and returns the PID the trace gives its writer: the host's.
func gatePID(inst string, pid int) (int, error) {
	re := regexp.MustCompile(`-(\d+)\s+\[\d+\][^\n]*tracing_mark_write: sbx-gate-` + strconv.Itoa(pid) + `\b`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		trace, err := os.ReadFile(filepath.Join(inst, "trace"))
		if err != nil {
			return 0, err
		}
		if m := re.FindSubmatch(trace); m != nil {
			return strconv.Atoi(string(m[1]))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the gate's marker never appeared in %s/trace", inst)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// vdsoTarget says whether hex address a is in the range the platform places the vDSO in.
func vdsoTarget(a string) bool {
	v, err := strconv.ParseUint(a, 16, 64)
	return err == nil && v >= 0x7ff000200000 && v < 0x7ff000200000+1<<32+1<<20
}

func checkStubSyscalls(t *testing.T, platform string, allowed map[string]bool) {
	trace, res := traceTree(t, `comm == "sbx-stub"`, sbxtest.Binary(t), "run", "--platform", platform, "--", "/bin/cat", "/etc/hostname")
	host, _ := exec.Command("cat", "/etc/hostname").Output()
	if res.Stdout != string(host) {
		t.Fatalf("sandboxed cat printed %q, want %q (%s)", res.Stdout, host, res.Stderr)
	}
	seen := 0
	// A stub mapping a host file (MapHostFile) receives it on its socket, FD 1, into its scratch page above
	// the app's addresses, then closes the FD it got (2). Those two are allowed only in
	// that shape: close(2) only from a stub that received a file.
	received := map[string]bool{}
	for _, line := range strings.Split(trace, "\n") {
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
