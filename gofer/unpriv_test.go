package gofer

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAsUnprivilegedUser reruns the gofer's tests as uid 65534 when the suite runs as root:
// the gofer must work for an ordinary user (unprivileged user namespaces, no setuid).
func TestAsUnprivilegedUser(t *testing.T) {
	if os.Getuid() != 0 || os.Getenv("SBX_GOFER_TEST_UNPRIV") != "" {
		t.Skip("runs only as root, re-running the suite as uid 65534")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "gofer.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(dst, src)
	src.Close()
	dst.Close()
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin,
		"-test.run", "TestOperations|TestConformance|TestReadOnlyEnforcedByGofer|TestEscape|TestLargeDirectory|TestConfinedGofer", "-test.count=1")
	cmd.Env = append(os.Environ(), "SBX_GOFER_TEST_UNPRIV=1", "TMPDIR=/tmp", "HOME=/tmp")
	cmd.Dir = "/tmp"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gofer tests as uid 65534: %v\n%s", err, out)
	}
}
