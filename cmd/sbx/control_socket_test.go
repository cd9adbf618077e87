package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sbx-dev/sbx/cmd/sbx/sbxtest"
)

// TestRunRemovesItsControlSocket: a sandbox that has ended leaves no socket in the control
// directory (it used to, when sbx exited before the goroutine that closed the listener
// ran; the socket then claimed the sandbox's name until a later sbx found it dead).
func TestRunRemovesItsControlSocket(t *testing.T) {
	bin := sbxtest.Binary(t)
	rt := t.TempDir()
	os.Chmod(rt, 0o700)
	for range 2 {
		c := exec.Command(bin, "run", "--", "/bin/true")
		c.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("sbx run: %v: %s", err, out)
		}
		left, _ := filepath.Glob(filepath.Join(rt, "sbx", "*.sock"))
		if len(left) != 0 {
			t.Fatalf("the ended sandbox left %v", left)
		}
	}
}
