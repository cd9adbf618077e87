package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestTopInTmux drives the real `sbx top` in tmux: two real sandboxes appear as rows, one is
// killed from the TUI and vanishes.
func TestTopInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (make test installs it)")
	}
	bin := sbxtest.Binary(t)
	rt := t.TempDir()
	os.Chmod(rt, 0o700)
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	var sandboxes []*exec.Cmd
	var stderrs [2]strings.Builder
	for i := range 2 {
		// They run until killed (by the TUI, or at the end): a sandbox that ended by itself
		// would pass for the killed one.
		c := exec.Command(bin, "run", "--", "/bin/sleep", "600")
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // should the test binary die
		c.Env = env
		c.Stderr = &stderrs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		sandboxes = append(sandboxes, c)
	}
	exited := make(chan int, 2)
	for _, c := range sandboxes {
		go func(c *exec.Cmd) { c.Wait(); exited <- c.ProcessState.ExitCode() }(c)
	}
	defer func() {
		for _, c := range sandboxes {
			c.Process.Kill()
		}
	}()
	session := "sbxtop" + itoa(os.Getpid())
	tmux := func(args ...string) string {
		out, _ := exec.Command("tmux", append([]string{"-L", session}, args...)...).CombinedOutput()
		return string(out)
	}
	tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", session, "env", "XDG_RUNTIME_DIR="+rt, "TERM=xterm-256color", bin, "top")
	defer tmux("kill-server")
	waitFor := func(what string, cond func(string) bool) string {
		t.Helper()
		var screen string
		for deadline := time.Now().Add(sbxtest.Timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			screen = tmux("capture-pane", "-p", "-t", session)
			if cond(screen) {
				return screen
			}
		}
		t.Fatalf("timed out waiting for %s; screen:\n%s\nsandbox stderr: %q %q", what, screen, stderrs[0].String(), stderrs[1].String())
		return ""
	}
	waitFor("two sandbox rows", func(s string) bool {
		return strings.Contains(s, " sleep ") && strings.Contains(s, "sleep-2") && strings.Contains(s, "2 sandbox(es)")
	})
	tmux("send-keys", "-t", session, "k")
	waitFor("the kill confirmation", func(s string) bool { return strings.Contains(s, "? y/n") })
	tmux("send-keys", "-t", session, "y")
	waitFor("one sandbox left", func(s string) bool { return strings.Contains(s, "1 sandbox(es)") })
	select {
	case code := <-exited:
		if code != 143 {
			t.Errorf("the killed sandbox exited %d, want 143 (SIGTERM)", code)
		}
	case <-time.After(sbxtest.Timeout):
		t.Error("no sandbox exited after the kill")
	}
	tmux("send-keys", "-t", session, "q")
}
