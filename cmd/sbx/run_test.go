package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestRunRealPrograms is issue 4's acceptance: real Debian programs print under sbx what
// they print natively, as root and as an unprivileged user.
func TestRunRealPrograms(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed (make test installs it)")
	}
	tree := manyFiles(t, 6000)
	cases := [][]string{
		{"/bin/echo", "hello"},
		{"/usr/bin/python3", "-c", `import sys,json,os; print(json.dumps(sorted(os.listdir("/usr"))))`},
		{"/bin/busybox", "ls", "-la", "/usr/share/doc/bash"},
		{"/bin/busybox", "cat", "/usr/share/doc/bash/copyright"},
		{"/bin/busybox", "sha256sum", "/usr/share/doc/bash/copyright"},
		{"/bin/busybox", "find", "/usr/share/doc/bash"},
		{"/bin/busybox", "grep", "-r", "GNU", "/usr/share/doc/bash"},
		{"/bin/busybox", "sed", "-n", "1,5p", "/usr/share/doc/bash/copyright"},
		{"/bin/busybox", "awk", "{print $1}", "/usr/share/doc/bash/copyright"},
		{"/bin/busybox", "sort", "/usr/share/doc/bash/copyright"},
		{"/bin/busybox", "wc", "/usr/share/doc/bash/copyright"},
		// Thousands of gofer requests: long enough for the helpers' Go runtimes to arm timers
		// and start their netpollers, which their seccomp filters must allow. A tree of the
		// test's own (as many files as /usr/share/doc, which a package installed between the
		// native and the sandboxed run would change).
		{"/bin/busybox", "grep", "-r", "-l", "GPL", tree},
	}
	for _, u := range sbxtest.Users() {
		for _, c := range cases {
			native := sbxtest.Run(t, u, "", "", c...)
			got := sbxtest.Sbx(t, u, append([]string{"run", "--ro", tree, "--"}, c...)...)
			if got.Stdout != native.Stdout || got.Code != native.Code {
				t.Errorf("as %s: sbx run -- %s\n exit %d, want %d; stderr: %s\n--- sbx:\n%s\n--- native:\n%s",
					u.Name, strings.Join(c, " "), got.Code, native.Code, got.Stderr, got.Stdout, native.Stdout)
			}
		}
	}
}

// manyFiles makes a tree of n small files in 100 directories, every user can read it, and
// a seventh of the files say GPL.
func manyFiles(t *testing.T, n int) string {
	t.Helper()
	root, err := os.MkdirTemp("", "sbxtest-tree-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	line := strings.Repeat("Permission is granted to copy this text. ", 20) + "\n"
	for i := 0; i < n; i++ {
		d := filepath.Join(root, fmt.Sprintf("d%02d", i%100))
		if i < 100 {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		text := strings.Repeat(line, 4)
		if i%7 == 0 {
			text += "under the GPL\n"
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestRunUnameIsTheSandboxes(t *testing.T) {
	for _, u := range sbxtest.Users() {
		got := sbxtest.Sbx(t, u, "run", "--", "/bin/uname", "-r")
		host, _ := exec.Command("uname", "-r").Output()
		if got.Stdout != "6.8.0-sbx\n" || got.Stdout == string(host) {
			t.Errorf("as %s: uname -r = %q (host %q), want the sandbox's release", u.Name, got.Stdout, host)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	u := sbxtest.Users()[0]
	tests := []struct {
		argv []string
		code int
		err  string
	}{
		{[]string{"/bin/sh", "-c", "exit 3"}, 3, ""},
		{[]string{"/nonexistent/program"}, 127, "cannot run /nonexistent/program"},
		{[]string{"/etc/hostname"}, 126, "cannot run /etc/hostname"},
		{[]string{"no-such-command-anywhere"}, 127, "cannot run no-such-command-anywhere"},
	}
	for _, tt := range tests {
		got := sbxtest.Sbx(t, u, append([]string{"run", "--"}, tt.argv...)...)
		if got.Code != tt.code || !strings.Contains(got.Stderr, tt.err) {
			t.Errorf("sbx run -- %v: exit %d stderr %q; want %d and %q", tt.argv, got.Code, got.Stderr, tt.code, tt.err)
		}
	}
}

// TestRunKeepsInheritedIgnoredSignals: a program started with SIGHUP or SIGINT ignored
// (nohup, a shell's background job) keeps them ignored across exec; so does the app sbx runs.
func TestRunKeepsInheritedIgnoredSignals(t *testing.T) {
	bin := sbxtest.Binary(t)
	hupInt := func(status string) string {
		for _, line := range strings.Split(status, "\n") {
			if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				if err != nil {
					t.Fatalf("SigIgn %q: %v", v, err)
				}
				return fmt.Sprintf("HUP %v INT %v", mask&1 != 0, mask&2 != 0)
			}
		}
		t.Fatalf("no SigIgn line in:\n%s", status)
		return ""
	}
	for _, u := range sbxtest.Users() {
		for _, traps := range []string{`trap "" HUP INT`, `trap "" HUP`, `trap - HUP INT`} {
			script := traps + `; exec "$@"`
			native := sbxtest.Run(t, u, "", "", "/bin/sh", "-c", script, "sh", "/bin/cat", "/proc/self/status")
			got := sbxtest.Run(t, u, "", "", "/bin/sh", "-c", script, "sh", bin, "run", "--", "/bin/cat", "/proc/self/status")
			if got.Code != 0 {
				t.Fatalf("as %s, %s: sbx exit %d: %s", u.Name, traps, got.Code, got.Stderr)
			}
			if g, n := hupInt(got.Stdout), hupInt(native.Stdout); g != n {
				t.Errorf("as %s, %s: sbx app has %s ignored, native %s", u.Name, traps, g, n)
			}
		}
	}
}
