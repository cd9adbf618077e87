package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// findChild returns the PID of a process whose argv[0] is name and whose parent is ppid.
func findChild(ppid int, name string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[1] != itoa(ppid) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.HasPrefix(string(cmd), name+"\x00") {
			n := 0
			for _, c := range e.Name() {
				n = n*10 + int(c-'0')
			}
			return n
		}
	}
	return 0
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

// TestKernelIsConfined inspects a running sandbox's kernel process from the host.
func TestKernelIsConfined(t *testing.T) {
	cmd := exec.Command(sbxtest.Binary(t), "run", "--", "/bin/sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var kpid int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if kpid = findChild(cmd.Process.Pid, "sbx-kernel"); kpid != 0 {
			status, _ := os.ReadFile(filepath.Join("/proc", itoa(kpid), "status"))
			if strings.Contains(string(status), "Seccomp:\t2") {
				break
			}
		}
	}
	if kpid == 0 {
		t.Fatal("no kernel process found")
	}
	status, _ := os.ReadFile(filepath.Join("/proc", itoa(kpid), "status"))
	noCaps := []string{"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
		"CapBnd:\t0000000000000000", "CapAmb:\t0000000000000000"}
	for _, want := range append([]string{"Seccomp:\t2", "NoNewPrivs:\t1"}, noCaps...) {
		if !strings.Contains(string(status), want) {
			t.Errorf("kernel status lacks %q:\n%s", want, status)
		}
	}
	threads, _ := os.ReadDir(filepath.Join("/proc", itoa(kpid), "task"))
	for _, th := range threads {
		st, _ := os.ReadFile(filepath.Join("/proc", itoa(kpid), "task", th.Name(), "status"))
		for _, want := range append([]string{"Seccomp:\t2"}, noCaps...) {
			if !strings.Contains(string(st), want) {
				t.Errorf("kernel thread %s holds capabilities or runs without seccomp: no %q", th.Name(), want)
			}
		}
	}
	ents, err := os.ReadDir(filepath.Join("/proc", itoa(kpid), "root"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "sbx-stub" {
		t.Errorf("the kernel's root holds %v, want only sbx-stub", ents)
	}
	mi, _ := os.ReadFile(filepath.Join("/proc", itoa(kpid), "mountinfo"))
	if n := strings.Count(strings.TrimSpace(string(mi)), "\n") + 1; n != 1 {
		t.Errorf("the kernel sees %d mounts, want 1:\n%s", n, mi)
	}
	fds, _ := os.ReadDir(filepath.Join("/proc", itoa(kpid), "fd"))
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join("/proc", itoa(kpid), "fd", fd.Name()))
		// Files under /mN/ were donated by the gofer (named in its namespace).
		if strings.HasPrefix(target, "/m") && strings.IndexByte(target[2:], '/') > 0 {
			continue
		}
		// /null is /dev/null (shown relative to the host root the kernel left).
		if target == "/null" {
			continue
		}
		if strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "/dev/") && !strings.HasPrefix(target, "/memfd:") &&
			!strings.HasPrefix(target, "/tmp/bash_jobs") && !strings.Contains(target, "(deleted)") {
			t.Errorf("the kernel holds host file %s (fd %s)", target, fd.Name())
		}
	}
}
