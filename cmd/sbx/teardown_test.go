package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestRunLeavesNoProcessBehind: when sbx run returns, no stub process of the sandbox (here
// those of an app whose background processes still run when it exits), nor its gofer or
// anything the gofer started, is left, not even as a zombie. The kernel reaps every
// process of its PID namespace before it reports the app's exit status, and sbx returns
// once it has that status and has reaped the gofer; the kernel process itself ends with
// sbx (kernel/sandbox/exit.go).
func TestRunLeavesNoProcessBehind(t *testing.T) {
	bin := sbxtest.Binary(t)
	for _, u := range sbxtest.Users() {
		for _, platform := range []string{"trap", "ptrace"} {
			t.Run(u.Name+"/"+platform, func(t *testing.T) {
				argv := u.Wrap([]string{bin, "run", "--platform", platform, "--", "/bin/sh", "-c", "/bin/sleep 100 & /bin/sleep 100 & echo started; read x; exit 3"})
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Dir = "/"
				in, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// A hang fails the test instead of the whole run.
				watchdog := time.AfterFunc(sbxtest.Timeout, func() { cmd.Process.Kill() })
				defer watchdog.Stop()
				// The app's background processes run once it says so.
				line := make([]byte, 8)
				if n, _ := io.ReadFull(out, line); string(line[:n]) != "started\n" {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the app wrote %q, want started; stderr: %s", line[:n], stderr.String())
				}
				// setpriv and env execute sbx in their own process: its PID is the launcher's.
				launcher := cmd.Process.Pid
				var procs map[int]string
				for deadline := time.Now().Add(sbxtest.Timeout); ; time.Sleep(10 * time.Millisecond) {
					if procs = sandboxProcs(launcher); procs != nil {
						break
					}
					if time.Now().After(deadline) {
						cmd.Process.Kill()
						cmd.Wait()
						t.Fatalf("no stub appeared under the sandbox's kernel; stderr: %s", stderr.String())
					}
				}
				in.Write([]byte("\n"))
				in.Close()
				err = cmd.Wait()
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
					t.Fatalf("sbx run: %v, want exit status 3; stderr: %s", err, stderr.String())
				}
				for pid, what := range procs {
					if start, ok := procStart(pid); ok && start == what[strings.LastIndexByte(what, ' ')+1:] {
						t.Errorf("%s outlived sbx run", what)
					}
				}
			})
		}
	}
}

// sandboxProcs returns the sandbox's processes under the launcher (the gofer, every
// descendant of the kernel and of the gofer) by PID, each described as "what PID START",
// START being its start time; nil until the kernel has a stub.
func sandboxProcs(launcher int) map[int]string {
	procs := map[int]string{}
	stubs := 0
	for _, pid := range childPIDs(launcher) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		role := ""
		switch {
		case bytes.Contains(cmdline, []byte("__gofer")):
			role = "gofer"
			if start, ok := procStart(pid); ok {
				procs[pid] = fmt.Sprintf("the gofer %d %s", pid, start)
			}
		case bytes.Contains(cmdline, []byte("__kernel")):
			role = "kernel"
		default:
			continue
		}
		todo := childPIDs(pid)
		for len(todo) > 0 {
			p := todo[0]
			todo = append(todo[1:], childPIDs(p)...)
			if start, ok := procStart(p); ok {
				procs[p] = fmt.Sprintf("a process %d started by the %s, %s", p, role, start)
				if role == "kernel" {
					stubs++
				}
			}
		}
	}
	if stubs == 0 {
		return nil
	}
	return procs
}

// childPIDs lists the children of every thread of pid.
func childPIDs(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task.Name()))
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// procStart returns the start time of process pid (field 22 of /proc/PID/stat), which
// tells it from a later process given the same PID.
func procStart(pid int) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return "", false
	}
	return f[19], true
}
