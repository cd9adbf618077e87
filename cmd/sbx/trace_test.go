package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
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
	write("tracing_on", "1")
	res := sbxtest.Sbx(t, sbxtest.Users()[0], "run", "--", "/bin/cat", "/etc/hostname")
	write("tracing_on", "0")
	host, _ := exec.Command("cat", "/etc/hostname").Output()
	if res.Stdout != string(host) {
		t.Fatalf("sandboxed cat printed %q, want %q (%s)", res.Stdout, host, res.Stderr)
	}
	trace, err := os.ReadFile(tr + "/trace")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"9": true, "10": true, "11": true, "157": true, "317": true, "436": true, "231": true}
	seen := 0
	for _, line := range strings.Split(string(trace), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "NR" {
				seen++
				if !allowed[f[i+1]] {
					t.Errorf("a stub executed host syscall %s:\n%s", f[i+1], line)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no stub syscalls traced at all: the filter or the tracepoint does not work here")
	}
}
