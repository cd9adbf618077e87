package syscalls_test

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
	"github.com/sbx-dev/sbx/platform/ptrace"
)

// TestReadSitesPatched: on trap, glibc's read sites are patched (the differential
// patchread.c checks what the app sees; this checks that the patch happens): of a program's
// 6000 reads and 6000 writes, in one thread and in four, only the first few at each site
// trap (sbx run --debug counts the syscalls that trapped at a syscall instruction).
func TestReadSitesPatched(t *testing.T) {
	if err := ptrace.ProbeTrap(); err != nil {
		t.Skipf("the trap platform is not available: %v", err)
	}
	dir, exe := sbxtest.BuildC(t, "testdata/patch/reads.c", "-O1", "-pthread")
	u := sbxtest.Users()[0]
	res := sbxtest.Run(t, u, "", "", "env", "SBX_SYSCALL_PATCH=1", sbxtest.Binary(t), "run", "--debug", "--platform", "trap",
		"--ro", dir, "--", exe)
	if res.Code != 0 || res.Stdout != "0 bad\n" {
		t.Fatalf("sbx run: %d, stdout %q, stderr %s", res.Code, res.Stdout, res.Stderr)
	}
	m := regexp.MustCompile(`(\d+) syscalls trapped`).FindStringSubmatch(res.Stderr)
	if m == nil {
		t.Fatalf("sbx run --debug did not say how many syscalls trapped: %s", res.Stderr)
	}
	// Start-up (ld.so, libc, thread creation) traps about 100 times here; without read
	// sites patched the reads alone trap 6000 times.
	if n, _ := strconv.Atoi(m[1]); n > 1000 {
		t.Errorf("%d syscalls trapped for 6000 reads; want the read sites patched (%s)", n, m[0])
	}
}
