package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/platform"
	"golang.org/x/sys/unix"
)

// TestKernelMakesOnlyAllowedHostSyscalls runs a sandboxed shell on each stub platform while
// a private tracefs instance records every host syscall that returned -EPERM, and fails on
// one the kernel process made that its own seccomp allow-list (kernelFilter of that
// platform) lacks: the filter answered EPERM to a call the kernel needs. The filter
// denies without a trace of its own, so this is how a missing entry shows.
func TestKernelMakesOnlyAllowedHostSyscalls(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("reading host tracepoints needs root")
	}
	const tr = "/sys/kernel/tracing"
	if _, err := os.Stat(tr + "/instances"); err != nil {
		if err := unix.Mount("nodev", tr, "tracefs", 0, ""); err != nil {
			t.Skipf("tracefs is not available: %v", err)
		}
	}
	// Why an instance of its own: other tests (and other test processes) use the global
	// buffer's event filters at the same time.
	inst := filepath.Join(tr, "instances", fmt.Sprintf("sbx-seccomp-%d-%d", os.Getpid(), time.Now().UnixNano()))
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
		os.WriteFile(filepath.Join(inst, "events/raw_syscalls/sys_exit/enable"), []byte("0"), 0o644)
		os.Remove(inst)
	}()
	write("options/record-tgid", "1")
	write("events/raw_syscalls/sys_exit/filter", "ret == -1") // -EPERM
	write("events/raw_syscalls/sys_exit/enable", "1")
	bin := sbxtest.Binary(t)
	for _, name := range []string{"ptrace", "trap"} {
		t.Run(name, func(t *testing.T) {
			c, ok := platform.Lookup(name)
			if !ok {
				t.Fatalf("platform %s is not registered", name)
			}
			if c.Probe != nil {
				if err := c.Probe(); err != nil {
					t.Skipf("platform %s cannot run here: %v", name, err)
				}
			}
			allowed := map[uintptr]bool{}
			for _, r := range kernelFilter(c) {
				allowed[r.Nr] = true
			}
			write("trace", "")
			write("tracing_on", "1")
			kernelPID := runWatched(t, bin, name)
			write("tracing_on", "0")
			trace, err := os.ReadFile(filepath.Join(inst, "trace"))
			if err != nil {
				t.Fatal(err)
			}
			reported := map[int]bool{}
			for _, line := range strings.Split(string(trace), "\n") {
				tgid, nr, ok := parseSysExit(line)
				// NR -1 is rt_sigreturn: x86-64's restore_sigcontext sets orig_ax to -1, and
				// the value it "returns" is the rax the signal interrupted (the Go runtime's
				// preemption signal lands anywhere, where rax may hold -1).
				if ok && nr == -1 {
					continue
				}
				if ok && tgid == kernelPID && !allowed[uintptr(nr)] && !reported[nr] {
					reported[nr] = true
					t.Errorf("the kernel process made host syscall %d, which its seccomp allow-list lacks (add it to kernelSyscalls or the platform's HostSyscalls with the reason):\n%s", nr, line)
				}
			}
		})
	}
}

// runWatched runs a shell under sbx on platform p and returns the host PID of its kernel
// process, found while the shell waits.
func runWatched(t *testing.T, bin, p string) int {
	ctx, cancel := context.WithTimeout(context.Background(), sbxtest.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--platform", p, "--", "/bin/sh", "-c",
		"sleep 1; cat /etc/hostname; ls -l / >/dev/null; free >/dev/null; echo done")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	for deadline := time.Now().Add(30 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pid = kernelDescendant(cmd.Process.Pid)
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "done") {
		t.Fatalf("sandboxed shell: %v\n%s", err, out.String())
	}
	if pid == 0 {
		t.Fatal("no sbx-kernel process appeared under sbx run")
	}
	return pid
}

// kernelDescendant returns the PID of the process named sbx-kernel (argv[0]) whose
// ancestors include root, or 0.
func kernelDescendant(root int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !strings.HasPrefix(string(argv), "sbx-kernel\x00") {
			continue
		}
		for p := pid; p > 1; p = parentOf(p) {
			if p == root {
				return pid
			}
		}
	}
	return 0
}

func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// parseSysExit reads the TGID and syscall number of a raw_syscalls:sys_exit line recorded
// with record-tgid: "   comm-123  (    120) [001] ..... 5.0: sys_exit: NR 9 = -1".
func parseSysExit(line string) (tgid int, nr int, ok bool) {
	open, end := strings.IndexByte(line, '('), strings.IndexByte(line, ')')
	i := strings.Index(line, "NR ")
	if open < 0 || end < open || i < 0 {
		return 0, 0, false
	}
	tgid, err1 := strconv.Atoi(strings.TrimSpace(line[open+1 : end]))
	f := strings.Fields(line[i+3:])
	if len(f) == 0 {
		return 0, 0, false
	}
	nr, err2 := strconv.Atoi(f[0])
	return tgid, nr, err1 == nil && err2 == nil
}

func TestParseSysExit(t *testing.T) {
	for _, tc := range []struct {
		line     string
		tgid, nr int
		ok       bool
	}{
		{"           <...>-4242  (   4240) [001] ..... 24574.969293: sys_exit: NR 9 = -1", 4240, 9, true},
		{"    sbx-kernel-4242  (   4240) [000] ..... 24574.969293: sys_exit: NR -1 = -1", 4240, -1, true},
		{"# tracer: nop", 0, 0, false},
	} {
		tgid, nr, ok := parseSysExit(tc.line)
		if tgid != tc.tgid || nr != tc.nr || ok != tc.ok {
			t.Errorf("parseSysExit(%q) = %d, %d, %v; want %d, %d, %v", tc.line, tgid, nr, ok, tc.tgid, tc.nr, tc.ok)
		}
	}
}
